"""The Source contract: one suite that every adapter of the port must pass.

Every adapter fetches what the local test site (``tests/site_server.py``) serves — the HTTP adapter
as an API, the scraper through a page and a real click in Chromium — except memory, which is
handed the same bytes under the same names, once as an API and once as a page. Add an adapter to
``HARNESSES`` to run it here; what only one adapter can show (retries, clicks) lives in
``tests/integration``.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.adapters.http.source import HttpSource
from overlord.adapters.memory.source import MemorySource
from overlord.adapters.selenium.scraper import SeleniumScraper
from overlord.domain.datasets import ApiSource, ScrapeSource, ScrapeStep, StepAction
from overlord.domain.errors import InvalidInput, InvalidName, NotFound
from overlord.domain.fetched import FetchedFile, check_file_name
from overlord.ports.source import Source
from tests.site_server import Site, require_chromium, sample_zip, serve_site

AnySource = ScrapeSource | ApiSource
DOWNLOAD_STEPS = (
    ScrapeStep(StepAction.CLICK, "#download", timeout_seconds=10),
    ScrapeStep(StepAction.WAIT_FOR_DOWNLOAD, timeout_seconds=15),
)


class Harness(Protocol):
    """An adapter under test, and how to make the sources it serves."""

    source: Source

    def offer(self, name: str, data: bytes) -> AnySource:
        """A source whose one file is ``data``, offered under ``name``."""

    def missing(self) -> AnySource:
        """A source whose resource does not exist."""


class MemoryApiHarness:
    def __init__(self) -> None:
        self.web = MemorySource()
        self.source: Source = self.web

    def offer(self, name: str, data: bytes) -> AnySource:
        url = f"https://api.example.com/files/{uuid.uuid4().hex}"
        self.web.serve(url, name, data)
        return ApiSource(url)

    def missing(self) -> AnySource:
        return ApiSource(f"https://api.example.com/files/{uuid.uuid4().hex}")


class MemoryScrapeHarness(MemoryApiHarness):
    def offer(self, name: str, data: bytes) -> AnySource:
        url = f"https://reports.example.com/{uuid.uuid4().hex}"
        self.web.serve(url, name, data)
        return ScrapeSource(url, DOWNLOAD_STEPS, "*")

    def missing(self) -> AnySource:
        return ScrapeSource(f"https://reports.example.com/{uuid.uuid4().hex}", DOWNLOAD_STEPS, "*")


class HttpHarness:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.source: Source = HttpSource(timeout_seconds=5, backoff_seconds=0.01)

    def offer(self, name: str, data: bytes) -> AnySource:
        return ApiSource(self.site.file_url(self.site.add_file(name, data)))

    def missing(self) -> AnySource:
        return ApiSource(self.site.file_url(uuid.uuid4().hex))


class SeleniumHarness:
    def __init__(self, site: Site) -> None:
        require_chromium()
        self.site = site
        self.source: Source = SeleniumScraper(page_load_timeout_seconds=15)

    def offer(self, name: str, data: bytes) -> AnySource:
        return ScrapeSource(self.site.page_url(self.site.add_file(name, data)), DOWNLOAD_STEPS, "*")

    def missing(self) -> AnySource:
        return ScrapeSource(f"{self.site.url}/no-such-page/{uuid.uuid4().hex}", DOWNLOAD_STEPS, "*")


HARNESSES: dict[str, Callable[[Site], Harness]] = {
    "memory": lambda site: MemoryApiHarness(),
    "memory-scrape": lambda site: MemoryScrapeHarness(),
    "http": HttpHarness,
    "selenium": SeleniumHarness,
}
# Hypothesis runs dozens of fetches per test; a browser start per fetch is too slow for that,
# and the scraper's name checks are the same code the HTTP adapter's run through.
FAST = ["memory", "memory-scrape", "http"]


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as running:
        yield running


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, site: Site) -> Harness:
    return HARNESSES[request.param](site)


@pytest.fixture(params=FAST)
def fast_harness(request: pytest.FixtureRequest, site: Site) -> Harness:
    return HARNESSES[request.param](site)


def nothing_written(root: Path) -> bool:
    """True if ``root`` holds nothing but, perhaps, the empty destination folder ``raw``."""
    return tree(root) in ({}, {"raw": None})


def tree(folder: Path) -> dict[str, bytes | None]:
    """Everything under ``folder``: files with their bytes, folders as None."""
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def test_a_fetched_file_is_complete_named_as_offered_and_alone(
    harness: Harness, tmp_path: Path
) -> None:
    destination = tmp_path / "raw"
    destination.mkdir()
    (destination / "earlier.csv").write_bytes(b"kept")
    data = sample_zip()

    files = harness.source.fetch(harness.offer("call_reports.zip", data), destination)

    path = destination / "call_reports.zip"
    digest = hashlib.sha256(data).hexdigest()
    assert files == [FetchedFile("call_reports.zip", path, len(data), digest)]
    assert path.read_bytes() == data
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
    assert tree(destination) == {"call_reports.zip": data, "earlier.csv": b"kept"}


def test_fetching_again_replaces_the_file_and_creates_missing_folders(
    harness: Harness, tmp_path: Path
) -> None:
    destination = tmp_path / "tenant" / "raw"
    harness.source.fetch(harness.offer("rates.json", b'{"v": 1}'), destination)
    newer = b'{"v": 2, "note": "revised"}'

    files = harness.source.fetch(harness.offer("rates.json", newer), destination)

    assert [(f.name, f.size) for f in files] == [("rates.json", len(newer))]
    assert tree(destination) == {"rates.json": newer}


def test_a_missing_resource_is_not_found_and_leaves_the_destination_as_it_was(
    harness: Harness, tmp_path: Path
) -> None:
    destination = tmp_path / "raw"
    destination.mkdir()
    (destination / "earlier.csv").write_bytes(b"kept")

    with pytest.raises(NotFound):
        harness.source.fetch(harness.missing(), destination)

    assert tree(destination) == {"earlier.csv": b"kept"}


@pytest.mark.parametrize("name", ["../escape.zip", ".hidden.zip", "reports/2024.zip"])
def test_a_hostile_name_is_refused_and_nothing_is_written_anywhere(
    harness: Harness, tmp_path: Path, name: str
) -> None:
    destination = tmp_path / "raw"

    with pytest.raises(InvalidName):
        harness.source.fetch(harness.offer(name, sample_zip()), destination)

    assert nothing_written(tmp_path)


def test_an_unusual_but_plain_name_is_kept_exactly(harness: Harness, tmp_path: Path) -> None:
    # Chromium saves this as "_résumé_ 2024 (final);v2.zip"; the port promises the offered name.
    name = "~résumé: 2024 (final);v2.zip"

    files = harness.source.fetch(harness.offer(name, b"PK"), tmp_path)

    assert [f.name for f in files] == [name]
    assert tree(tmp_path) == {name: b"PK"}


def test_a_destination_that_is_a_file_is_refused(harness: Harness, tmp_path: Path) -> None:
    destination = tmp_path / "raw"
    destination.write_bytes(b"a file")

    with pytest.raises(InvalidInput) as refused:
        harness.source.fetch(harness.offer("a.zip", b"PK"), destination)

    assert refused.type is InvalidInput
    assert tree(tmp_path) == {"raw": b"a file"}


@pytest.mark.parametrize("kind", ["http", "selenium"])
def test_an_adapter_refuses_the_kind_of_source_it_does_not_serve(
    kind: str, site: Site, tmp_path: Path
) -> None:
    harness = HARNESSES[kind](site)
    serves = harness.offer("a.zip", b"PK")
    other: AnySource = (
        ApiSource(site.file_url("data.zip"))
        if isinstance(serves, ScrapeSource)
        else ScrapeSource(site.url, DOWNLOAD_STEPS, "*")
    )
    before = len(site.requests)

    with pytest.raises(InvalidInput) as refused:
        harness.source.fetch(other, tmp_path / "raw")

    assert refused.type is InvalidInput
    assert len(site.requests) == before
    assert tree(tmp_path) == {}


def needing(source: AnySource, placeholder: str) -> AnySource:
    """``source`` made to need a ``{placeholder}`` value: in a parameter, or a select step."""
    if isinstance(source, ApiSource):
        return attrs.evolve(source, params=(("q", f"{{{placeholder}}}"),))
    select = ScrapeStep(StepAction.SELECT, "#layout", value=f"{{{placeholder}}}")
    return attrs.evolve(source, steps=(select, *source.steps))


@pytest.mark.parametrize("values", [{}, {"period": "2026-03-31"}])
def test_a_value_the_source_needs_but_is_not_given_is_invalid_input_before_any_request(
    harness: Harness, site: Site, tmp_path: Path, values: dict[str, str]
) -> None:
    source = needing(harness.offer("a.zip", b"PK"), "layout")
    before = len(site.requests)

    with pytest.raises(InvalidInput, match=r"no value for \{layout\}"):
        harness.source.fetch(source, tmp_path / "raw", values=values)

    assert len(site.requests) == before
    assert tree(tmp_path) == {}


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
HOSTILE_NAMES = st.one_of(
    st.sampled_from(["", ".", "..", "../x.zip", "..\\x.zip", "/etc/passwd", "a/../../x"]),
    st.builds(
        lambda left, bad, right: left + bad + right,
        _TEXT,
        st.sampled_from(
            ["/", "\\", "\x00", "\n", "\r", "\t", "\x7f", "\u202e", "\u200b", "\u2028"]
        ),
        _TEXT,
    ),
    _TEXT.map(lambda text: "." + text),
    _TEXT.map(lambda text: "../" + text),
    _TEXT.map(lambda text: "x" + text + " "),
    st.text(st.characters(categories=["Ll"]), min_size=256, max_size=300),
)


def _is_plain(name: str) -> bool:
    try:
        check_file_name(name)
    except InvalidName:
        return False
    return True


PLAIN_NAMES = st.text(
    st.characters(categories=["L", "N", "Zs"], include_characters="-_.()[]+,;=@~'!$&#%"),
    min_size=1,
    max_size=60,
).filter(_is_plain)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=HOSTILE_NAMES)
def test_generated_hostile_names_are_always_refused_and_write_nothing(
    fast_harness: Harness, name: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        with pytest.raises(InvalidName):
            fast_harness.source.fetch(fast_harness.offer(name, b"PK"), root / "raw")
        assert nothing_written(root)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=PLAIN_NAMES, data=st.binary(max_size=2048))
def test_a_plain_name_however_unusual_arrives_exactly_as_offered(
    fast_harness: Harness, name: str, data: bytes
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        destination = Path(folder) / "raw"
        files = fast_harness.source.fetch(fast_harness.offer(name, data), destination)
        assert [(f.name, f.size, f.sha256) for f in files] == [
            (name, len(data), hashlib.sha256(data).hexdigest())
        ]
        assert tree(destination) == {name: data}


@pytest.mark.parametrize("kind", ["memory", "http"])
def test_records_of_a_recipe_land_as_ndjson_with_sorted_keys(
    kind: str, site: Site, tmp_path: Path
) -> None:
    harness = HARNESSES[kind](site)
    body = b'{"items": [{"b": 2, "a": "\\u00e9"}, {"a": 1}], "meta": {}}'
    offered = harness.offer(f"{uuid.uuid4().hex}.json", body)
    assert isinstance(offered, ApiSource)
    recipe = attrs.evolve(offered, records="items")
    files = harness.source.fetch(recipe, tmp_path / "raw")
    assert [f.name for f in files] == ["all-00001.ndjson"]
    assert files[0].path.read_bytes() == '{"a":"é","b":2}\n{"a":1}\n'.encode()
