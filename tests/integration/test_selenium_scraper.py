"""SeleniumScraper in a real headless Chromium: clicks, late elements, several downloads, error
pages and timeouts — what the Source contract cannot ask of adapters without a browser.

Chromium is required: without it these tests fail with the command that installs it, because a
skipped browser suite would let a broken scraper pass CI.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from overlord.adapters.selenium.scraper import SeleniumScraper
from overlord.domain.datasets import ApiSource, ScrapeSource, ScrapeStep, StepAction
from overlord.domain.errors import BackendError, InvalidInput, NotFound, Throttled
from overlord.domain.fetched import FetchedFile
from tests.site_server import Site, require_chromium, serve_site

CLICK, WAIT_FOR, DOWNLOAD = StepAction.CLICK, StepAction.WAIT_FOR, StepAction.WAIT_FOR_DOWNLOAD


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as running:
        yield running


@pytest.fixture(scope="module")
def scraper() -> SeleniumScraper:
    require_chromium()
    return SeleniumScraper(page_load_timeout_seconds=15)


def test_clicks_run_in_order_and_only_files_matching_the_pattern_are_kept(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    # "#export" is hidden for 300 ms and then starts two downloads (a zip and a txt) at once.
    recipe = ScrapeSource(
        site.url + "/",
        (
            ScrapeStep(WAIT_FOR, "h1"),
            ScrapeStep(CLICK, "#download"),
            ScrapeStep(DOWNLOAD, timeout_seconds=15),
            ScrapeStep(CLICK, "#export", timeout_seconds=5),
            ScrapeStep(DOWNLOAD, timeout_seconds=15),
        ),
        "*.zip",
    )

    files = scraper.fetch(recipe, tmp_path)

    expected = []
    for key in ("data.zip", "export.zip"):
        name, data = site.file(key)
        digest = hashlib.sha256(data).hexdigest()
        expected.append(FetchedFile(name, tmp_path / name, len(data), digest))
    assert files == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.zip", "export.zip"]
    assert site.count("/files/notes.txt") >= 1  # downloaded, then dropped by the pattern


def test_an_element_that_never_appears_fails_naming_its_selector(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    recipe = ScrapeSource(
        site.url + "/",
        (ScrapeStep(WAIT_FOR, "#never-there", timeout_seconds=1), ScrapeStep(DOWNLOAD)),
        "*.zip",
    )

    with pytest.raises(BackendError, match="#never-there"):
        scraper.fetch(recipe, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_a_download_that_never_starts_times_out(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    recipe = ScrapeSource(site.url + "/", (ScrapeStep(DOWNLOAD, timeout_seconds=1),), "*.zip")

    with pytest.raises(BackendError, match=r"no file matching '\*\.zip' finished downloading"):
        scraper.fetch(recipe, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_a_link_to_a_missing_file_fails_at_once_instead_of_waiting_out_the_timeout(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    recipe = ScrapeSource(
        site.link_page_url("/status/404?attachment=1"),
        (ScrapeStep(CLICK, "#download"), ScrapeStep(DOWNLOAD, timeout_seconds=60)),
        "*",
    )
    started = time.monotonic()

    with pytest.raises(NotFound, match="404"):
        scraper.fetch(recipe, tmp_path)

    assert time.monotonic() - started < 20
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("status", "error"), [(500, BackendError), (429, Throttled)])
def test_a_page_answering_an_error_is_reported_with_its_status(
    site: Site, scraper: SeleniumScraper, tmp_path: Path, status: int, error: type[Exception]
) -> None:
    recipe = ScrapeSource(f"{site.url}/status/{status}", (ScrapeStep(DOWNLOAD),), "*")

    with pytest.raises(error, match=str(status)) as failed:
        scraper.fetch(recipe, tmp_path)

    assert failed.type is error


def test_an_invalid_selector_is_invalid_input(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    recipe = ScrapeSource(site.url + "/", (ScrapeStep(CLICK, "a[["), ScrapeStep(DOWNLOAD)), "*")

    with pytest.raises(InvalidInput, match="not a valid CSS selector"):
        scraper.fetch(recipe, tmp_path)


def test_a_missing_browser_fails_with_the_command_that_installs_it(tmp_path: Path) -> None:
    recipe = ScrapeSource("http://127.0.0.1:9/", (ScrapeStep(DOWNLOAD),), "*")

    with pytest.raises(BackendError, match="apt-get install -y chromium chromium-driver"):
        SeleniumScraper(chromium=str(tmp_path / "no-chromium")).fetch(recipe, tmp_path / "raw")

    assert not (tmp_path / "raw").exists()


def test_an_api_source_is_refused_before_a_browser_starts(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="HttpSource"):
        SeleniumScraper(chromium="/nowhere").fetch(ApiSource("http://127.0.0.1:9/x"), tmp_path)


def test_importing_the_source_adapters_imports_no_selenium() -> None:
    code = (
        "import sys, overlord.adapters.selenium.scraper, overlord.adapters.http.source, "
        "overlord.adapters.source_by_kind, overlord.adapters.memory.source; "
        "sys.exit('selenium' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
