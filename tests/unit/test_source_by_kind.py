"""Services get one Source; each dataset's source still reaches the adapter of its kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from overlord.adapters.memory.source import MemorySource
from overlord.adapters.source_by_kind import SourceByKind
from overlord.domain.datasets import ApiSource, ScrapeSource, ScrapeStep, StepAction
from overlord.domain.errors import InvalidInput, NotFound

API_URL = "https://api.example.com/v1/rates"
PAGE_URL = "https://reports.example.com/call-reports"
RECIPE = ScrapeSource(PAGE_URL, (ScrapeStep(StepAction.WAIT_FOR_DOWNLOAD),), "*.zip")


@pytest.fixture
def webs() -> tuple[MemorySource, MemorySource]:
    api, pages = MemorySource(), MemorySource()
    api.serve(API_URL, "rates.json", b"[]")
    pages.serve(PAGE_URL, "reports.zip", b"PK")
    pages.serve(PAGE_URL, "readme.txt", b"not kept")
    return api, pages


def test_each_kind_of_source_reaches_its_own_adapter(
    webs: tuple[MemorySource, MemorySource], tmp_path: Path
) -> None:
    api, pages = webs
    sources = SourceByKind(api=api, scrape=pages)

    assert [f.name for f in sources.fetch(ApiSource(API_URL), tmp_path)] == ["rates.json"]
    assert [f.name for f in sources.fetch(RECIPE, tmp_path)] == ["reports.zip"]


def test_a_source_is_never_sent_to_the_adapter_of_the_other_kind(
    webs: tuple[MemorySource, MemorySource], tmp_path: Path
) -> None:
    api, pages = webs
    crossed = SourceByKind(api=pages, scrape=api)

    with pytest.raises(NotFound):
        crossed.fetch(ApiSource(API_URL), tmp_path)
    with pytest.raises(NotFound):
        crossed.fetch(RECIPE, tmp_path)


def test_values_reach_the_api_adapter(tmp_path: Path) -> None:
    api = MemorySource()
    api.serve(f"{API_URL}?day=2024-01-31", "rates.json", b"[1]")
    sources = SourceByKind(api=api, scrape=MemorySource())

    files = sources.fetch(
        ApiSource(API_URL, (("day", "{day}"),)), tmp_path, values={"day": "2024-01-31"}
    )

    assert files[0].path.read_bytes() == b"[1]"


def test_something_that_is_not_a_source_is_invalid_input(tmp_path: Path) -> None:
    sources = SourceByKind(api=MemorySource(), scrape=MemorySource())

    with pytest.raises(InvalidInput):
        sources.fetch("https://example.com", tmp_path)  # type: ignore[arg-type]
