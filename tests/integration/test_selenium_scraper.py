"""SeleniumScraper in a real headless Chromium: clicks, late elements, several downloads, error
pages and timeouts — what the Source contract cannot ask of adapters without a browser. The
bulk-download recipe (products, periods, formats, a form token, a streamed zip) runs against
``tests/bulk_page.py``; the browser's teardown is in ``test_selenium_teardown.py``.

Chromium is required: without it these tests fail with the command that installs it, because a
skipped browser suite would let a broken scraper pass CI.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from overlord.adapters.selenium.scraper import SeleniumScraper
from overlord.domain.datasets import ApiSource, ElementState, ScrapeSource, ScrapeStep, StepAction
from overlord.domain.errors import BackendError, InvalidInput, NotFound, Throttled
from overlord.domain.fetched import FetchedFile
from tests import bulk_page
from tests.site_server import Site, require_chromium, serve_site

CLICK, WAIT_FOR, DOWNLOAD = StepAction.CLICK, StepAction.WAIT_FOR, StepAction.WAIT_FOR_DOWNLOAD
CHOOSE, SELECT, SELECT_PERIOD = StepAction.CHOOSE, StepAction.SELECT, StepAction.SELECT_PERIOD


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
    token = uuid.uuid4().hex
    recipe = ScrapeSource(
        site.link_page_url(f"/status/404?attachment=1&token={token}"),
        (ScrapeStep(CLICK, "#download"), ScrapeStep(DOWNLOAD, timeout_seconds=60)),
        "*",
    )
    started = time.monotonic()

    with pytest.raises(NotFound, match="404"):
        scraper.fetch(recipe, tmp_path)

    assert time.monotonic() - started < 20
    assert list(tmp_path.iterdir()) == []
    assert site.count(f"/status/404?attachment=1&token={token}") == 1  # not tried again


@pytest.mark.parametrize(("status", "error"), [(500, BackendError), (429, Throttled)])
def test_a_page_answering_an_error_is_retried_then_reported_with_its_status(
    site: Site, scraper: SeleniumScraper, tmp_path: Path, status: int, error: type[Exception]
) -> None:
    token = uuid.uuid4().hex
    recipe = ScrapeSource(
        f"{site.url}/status/{status}?token={token}",
        (ScrapeStep(DOWNLOAD),),
        "*",
        retries=2,
        retry_seconds=0.01,
    )

    with pytest.raises(error, match=f"{status}.*after 3 attempts") as failed:
        scraper.fetch(recipe, tmp_path)

    assert failed.type is error
    assert site.count(f"/status/{status}?token={token}") == 3


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


def bulk_recipe(url: str, *extra: ScrapeStep, **options: Any) -> ScrapeSource:
    """The FFIEC-style recipe: product, period, layout from the values, XBRL, Download."""
    steps = (
        ScrapeStep(CHOOSE, "#ReportingSeriesSinglePeriod", timeout_seconds=10),
        ScrapeStep(SELECT_PERIOD, "#DatesDropDownList", timeout_seconds=10, format="%m/%d/%Y"),
        ScrapeStep(SELECT, "#Layout", timeout_seconds=2, value="{layout}"),
        ScrapeStep(CHOOSE, "#ExportFormat_XBRL"),
        ScrapeStep(CHOOSE, "#ExportFormat_XBRL"),  # choosing again keeps it chosen
        *extra,
        ScrapeStep(CLICK, "#Download_0", timeout_seconds=10),
        ScrapeStep(DOWNLOAD, timeout_seconds=30),
    )
    options = {"error_selector": "#ErrorMessage", "retry_seconds": 0.01, **options}
    return ScrapeSource(url, steps, "*.zip", **options)


RC = {"layout": "rc"}


def test_the_newest_period_the_page_offers_is_gathered_when_none_is_asked_for(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    url = site.bulk_url()

    files = scraper.fetch(bulk_recipe(url), tmp_path, values=RC)

    name = "FFIEC CDR Call Bulk All Schedules 03312026.zip"
    assert [(f.name, f.path, f.period) for f in files] == [(name, tmp_path / name, "2026-03-31")]
    data = files[0].path.read_bytes()
    assert (files[0].size, files[0].sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert bulk_page.selection(data) == {
        "period": "2026-03-31",
        "product": "ReportingSeriesSinglePeriod",
        "layout": "rc",
        "format": "xbrl",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_the_period_asked_for_is_gathered_and_named_on_the_file(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    values = {"layout": "all", "period": "2025-06-30"}  # "all" is the list's first option

    files = scraper.fetch(bulk_recipe(site.bulk_url()), tmp_path, values=values)

    assert [(f.name, f.period) for f in files] == [
        ("FFIEC CDR Call Bulk All Schedules 06302025.zip", "2025-06-30")
    ]
    chosen = bulk_page.selection(files[0].path.read_bytes())
    assert (chosen["period"], chosen["layout"]) == ("2025-06-30", "all")


def test_a_period_the_page_does_not_offer_is_not_found_naming_the_newest_offered(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    url = site.bulk_url()

    with pytest.raises(NotFound, match=r"2026-06-30 is not offered; .* 2026-03-31, 2025-12-31"):
        scraper.fetch(bulk_recipe(url), tmp_path, values={**RC, "period": "2026-06-30"})

    assert list(tmp_path.iterdir()) == []
    assert len(site.bulk_cookies(url)) == 1  # not tried again
    assert site.bulk_posts(url) == []


def test_a_site_answering_500_twice_is_tried_again_in_fresh_browsers_until_it_answers(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    url = site.bulk_url(fail="2")

    files = scraper.fetch(bulk_recipe(url), tmp_path, values=RC)

    assert [f.period for f in files] == ["2026-03-31"]
    assert site.bulk_cookies(url) == [None, None, None]  # each attempt with a fresh profile


def test_a_site_that_keeps_answering_500_is_a_backend_error_and_leaves_nothing(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    url = site.bulk_url(fail="always")
    (tmp_path / "earlier.zip").write_bytes(b"kept")

    with pytest.raises(BackendError, match=r"answered 500 \(after 3 attempts\)") as failed:
        scraper.fetch(bulk_recipe(url, retries=2), tmp_path, values=RC)

    assert failed.type is BackendError
    assert len(site.bulk_cookies(url)) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["earlier.zip"]


def test_an_error_the_site_shows_is_tried_again_then_reported_with_its_message(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    url = site.bulk_url(stale="always")  # every page carries an expired form token

    with pytest.raises(BackendError) as failed:
        scraper.fetch(bulk_recipe(url, retries=1), tmp_path, values=RC)

    assert failed.value.message == (f"{url}: the site says: {bulk_page.EXPIRED} (after 2 attempts)")
    assert len(site.bulk_posts(url)) == 2
    assert list(tmp_path.iterdir()) == []


def test_an_error_that_appears_while_a_step_waits_ends_the_wait_with_the_sites_words(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    url = site.bulk_url(nodata="1")  # choosing a product shows a message instead of periods
    slow = ScrapeStep(SELECT_PERIOD, "#DatesDropDownList", timeout_seconds=600, format="%m/%d/%Y")
    recipe = bulk_recipe(url, retries=1)
    recipe = attrs.evolve(recipe, steps=(recipe.steps[0], slow, *recipe.steps[2:]))

    with pytest.raises(BackendError) as failed:
        scraper.fetch(recipe, tmp_path, values=RC)

    assert failed.value.message == f"{url}: the site says: {bulk_page.NO_DATA} (after 2 attempts)"
    assert site.bulk_posts(url) == []


def test_a_form_refused_once_succeeds_on_the_next_attempt_in_a_fresh_browser(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    url = site.bulk_url(stale="1")

    files = scraper.fetch(bulk_recipe(url), tmp_path, values=RC)

    assert [f.period for f in files] == ["2026-03-31"]
    assert len(site.bulk_posts(url)) == 2
    assert site.bulk_cookies(url) == [None, None]


def test_a_mirrored_recipe_runs_against_the_mirror_keeping_the_page_path_and_query(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    local = site.bulk_url()
    production = bulk_recipe(local.replace(site.url, "https://cdr.ffiec.example:8443", 1))

    recipe = production.mirrored(site.url + "/")

    assert recipe.page_url == local
    assert [f.period for f in scraper.fetch(recipe, tmp_path, values=RC)] == ["2026-03-31"]
    assert len(site.bulk_posts(local)) == 1


def test_a_select_by_visible_text_is_filled_from_the_values(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    by_text = ScrapeStep(SELECT, "#Layout", timeout_seconds=2, text="{schedule} ({code})")
    url = site.bulk_url()
    recipe = bulk_recipe(url, by_text)

    files = scraper.fetch(
        recipe, tmp_path, values={**RC, "schedule": "Income Statement", "code": "RI"}
    )

    assert bulk_page.selection(files[0].path.read_bytes())["layout"] == "ri"


def test_an_option_the_page_lacks_is_not_found_listing_the_options_offered(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    with pytest.raises(NotFound, match=r"no option with value 'rx'; it offers 'all', 'rc', 'ri'"):
        scraper.fetch(bulk_recipe(site.bulk_url()), tmp_path, values={"layout": "rx"})


def test_a_missing_value_is_invalid_input_before_any_browser_starts(
    site: Site, tmp_path: Path
) -> None:
    # Were the values checked only in the browser, this scraper would fail for lack of one.
    no_browser = SeleniumScraper(chromium=str(tmp_path / "no-chromium"))
    url = site.bulk_url()

    with pytest.raises(InvalidInput, match=r"no value for \{layout\}"):
        no_browser.fetch(bulk_recipe(url), tmp_path / "raw")
    with pytest.raises(InvalidInput, match="period 'last quarter': expected an ISO date"):
        no_browser.fetch(
            bulk_recipe(url), tmp_path / "raw", values={**RC, "period": "last quarter"}
        )

    assert site.bulk_cookies(url) == []
    assert not (tmp_path / "raw").exists()


def test_wait_for_passes_on_the_state_asked_for(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    waits = (
        ScrapeStep(WAIT_FOR, "#help"),  # present, though hidden
        ScrapeStep(WAIT_FOR, "#Archive", state=ElementState.VISIBLE),  # shown, though disabled
        ScrapeStep(WAIT_FOR, "#Download_0", timeout_seconds=10, state=ElementState.ENABLED),
    )

    files = scraper.fetch(bulk_recipe(site.bulk_url(), *waits), tmp_path, values=RC)

    assert [f.period for f in files] == ["2026-03-31"]


@pytest.mark.parametrize(
    ("selector", "state"), [("#help", ElementState.VISIBLE), ("#Archive", ElementState.ENABLED)]
)
def test_wait_for_fails_naming_the_state_an_element_never_reaches(
    site: Site, scraper: SeleniumScraper, tmp_path: Path, selector: str, state: ElementState
) -> None:
    wait = ScrapeStep(WAIT_FOR, selector, timeout_seconds=1, state=state)

    with pytest.raises(BackendError, match=f"no {state} element matches '{selector}' after 1 s"):
        scraper.fetch(bulk_recipe(site.bulk_url(), wait), tmp_path, values=RC)

    assert list(tmp_path.iterdir()) == []
