"""What service tests rely on from MemorySource beyond the Source contract: scripted failures,
a page's several files filtered by the recipe's pattern, and an API answering with one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from overlord.adapters.memory.source import MemorySource
from overlord.domain.datasets import ApiSource, ScrapeSource, ScrapeStep, StepAction
from overlord.domain.errors import BackendError, InvalidInput, Throttled

PAGE = "https://reports.example.com/call-reports"
API = "https://api.example.com/v1/rates"


def recipe(pattern: str) -> ScrapeSource:
    return ScrapeSource(PAGE, (ScrapeStep(StepAction.WAIT_FOR_DOWNLOAD),), pattern)


def test_a_scripted_failure_is_raised_and_writes_nothing(tmp_path: Path) -> None:
    web = MemorySource()
    web.serve(API, "rates.json", b"[]")
    web.fail(API, Throttled("slow down"))

    with pytest.raises(Throttled, match="slow down"):
        web.fetch(ApiSource(API), tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_serving_again_clears_a_scripted_failure(tmp_path: Path) -> None:
    web = MemorySource()
    web.fail(API, Throttled("slow down"))
    web.serve(API, "rates.json", b"[]")

    assert [f.name for f in web.fetch(ApiSource(API), tmp_path)] == ["rates.json"]


def test_a_page_publishes_every_matching_file_and_only_those(tmp_path: Path) -> None:
    web = MemorySource()
    for name in ("b.zip", "a.zip", "readme.txt"):
        web.serve(PAGE, name, name.encode())

    files = web.fetch(recipe("*.zip"), tmp_path)

    assert [f.name for f in files] == ["a.zip", "b.zip"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "b.zip"]


def test_a_page_without_a_matching_file_fails_like_a_download_that_never_comes(
    tmp_path: Path,
) -> None:
    web = MemorySource()
    web.serve(PAGE, "readme.txt", b"")

    with pytest.raises(BackendError, match=r"\*\.zip"):
        web.fetch(recipe("*.zip"), tmp_path)


def test_an_api_answers_with_one_file(tmp_path: Path) -> None:
    web = MemorySource()
    web.serve(API, "a.json", b"[]")
    web.serve(API, "b.json", b"[]")

    with pytest.raises(BackendError, match="one"):
        web.fetch(ApiSource(API), tmp_path)


def test_served_data_must_be_bytes() -> None:
    with pytest.raises(InvalidInput):
        MemorySource().serve(API, "a.json", "text")  # type: ignore[arg-type]
