"""Browser recipes (`ScrapeSource`): the bulk-download steps read from TOML-shaped data, the
values a recipe needs, and pointing a recipe at a mirror. Their mistakes are listed with every
other dataset mistake in ``test_datasets.py``.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.dataset_parsing import parse_dataset
from overlord.domain.datasets import ElementState, ScrapeSource, ScrapeStep, StepAction
from overlord.domain.errors import InvalidInput
from tests.unit.test_datasets import BANK_REPORTS, BULK


def test_a_bulk_download_recipe_is_read_whole() -> None:
    source = parse_dataset(BULK).source

    assert source == ScrapeSource(
        "https://cdr.example.gov/public/DownloadBulkData.aspx",
        (
            ScrapeStep(StepAction.CHOOSE, "#ReportingSeriesSinglePeriod"),
            ScrapeStep(StepAction.SELECT_PERIOD, "#DatesDropDownList", format="%m/%d/%Y"),
            ScrapeStep(StepAction.SELECT, "#Layout", value="{layout}"),
            ScrapeStep(StepAction.SELECT, "#Series", text="Call Reports ({form})"),
            ScrapeStep(StepAction.CHOOSE, "#ExportFormat_XBRL"),
            ScrapeStep(StepAction.WAIT_FOR, "#Download_0", state=ElementState.ENABLED),
            ScrapeStep(StepAction.CLICK, "#Download_0", 30),
            ScrapeStep(StepAction.WAIT_FOR_DOWNLOAD, timeout_seconds=600),
        ),
        "*.zip",
        error_selector="#ErrorMessage",
        retries=5,
        retry_seconds=0.5,
    )
    assert source.placeholders == {"layout", "form"}


def test_a_recipe_without_the_new_options_keeps_their_defaults() -> None:
    source = parse_dataset(BANK_REPORTS).source
    assert isinstance(source, ScrapeSource)
    assert (source.error_selector, source.retries, source.retry_seconds) == (None, 3, 2.0)
    assert source.steps[1].state is ElementState.PRESENT
    assert source.steps[1] == ScrapeStep(StepAction.WAIT_FOR, "#Download_0", 30)


def bulk_source() -> ScrapeSource:
    source = parse_dataset(BULK).source
    assert isinstance(source, ScrapeSource)
    return source


def test_the_values_a_recipe_needs_are_checked_before_anything_runs() -> None:
    source = bulk_source()
    values = {"layout": "rc", "form": "031"}

    assert source.requested_period(values) is None
    assert source.requested_period({**values, "period": "2025-06-30"}) == date(2025, 6, 30)
    assert source.steps[3].filled_option(values) == "Call Reports (031)"
    with pytest.raises(InvalidInput, match=r"no value for \{form\}"):
        source.requested_period({"layout": "rc"})
    with pytest.raises(InvalidInput, match="period '06/30/2025': expected an ISO date"):
        source.requested_period({**values, "period": "06/30/2025"})


def test_a_recipe_without_a_period_step_ignores_a_period_value() -> None:
    source = parse_dataset(BANK_REPORTS).source
    assert isinstance(source, ScrapeSource)
    assert source.requested_period({"period": "not a date"}) is None


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){0,2}", fullmatch=True)
path_parts = st.from_regex(r"(/[A-Za-z0-9._-]{1,8}){0,3}", fullmatch=True)
queries = st.from_regex(
    r"([a-z]{1,5}=[A-Za-z0-9]{0,5}(&[a-z]{1,5}=[A-Za-z0-9]{0,5})*)?", fullmatch=True
)


@given(
    page_host=hosts,
    path=path_parts,
    query=queries,
    scheme=st.sampled_from(["http", "https"]),
    host=hosts | st.just("127.0.0.1") | st.just("[::1]"),
    port=st.none() | st.integers(1, 65535),
    slash=st.booleans(),
)
def test_a_mirrored_recipe_keeps_its_page_and_takes_only_the_mirrors_server(
    page_host: str,
    path: str,
    query: str,
    scheme: str,
    host: str,
    port: int | None,
    slash: bool,
) -> None:
    page = f"https://{page_host}:8443{path}" + (f"?{query}" if query else "")
    recipe = ScrapeSource(page, (ScrapeStep(StepAction.WAIT_FOR_DOWNLOAD),), "*", retries=1)
    netloc = host + (f":{port}" if port is not None else "")

    mirrored = recipe.mirrored(f"{scheme}://{netloc}" + ("/" if slash else ""))

    assert mirrored.page_url == f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
    assert (mirrored.steps, mirrored.retries) == (recipe.steps, recipe.retries)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://mirror.example", "expected http"),
        ("mirror.example:8000", "expected http"),
        ("http://", "expected http"),
        ("http://mirror.example:99999", "expected http"),
        ("http://mirror .example", "expected http"),
        ("http://user:secret@mirror.example", "user info"),
        ("http://mirror.example/public", "only scheme, host and port"),
        ("http://mirror.example/?a=1", "only scheme, host and port"),
        ("http://mirror.example?", "only scheme, host and port"),
        ("http://mirror.example#top", "only scheme, host and port"),
    ],
)
def test_a_mirror_that_is_more_than_a_server_is_refused(url: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as refused:
        bulk_source().mirrored(url)
    assert refused.type is InvalidInput
