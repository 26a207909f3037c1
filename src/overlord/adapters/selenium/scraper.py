"""A `ScrapeSource` recipe run in a real headless Chromium, for sites that offer no API.

Each attempt starts its own browser with a fresh profile and download folder and tears it down
whole (`overlord.adapters.selenium.browser`): a browser shared between fetches would carry one
tenant's cookies and storage into the next tenant's session, and a start costs about half a
second here. A page that answers 5xx or 429, or shows the site's error message, is tried again
in a new browser after a backoff, because such sites fail in streaks and a half-finished
session is worth nothing. Chromium downloads into the fetch's staging area, so a file reaches
the destination only through the same staging and name rules as every Source. Paths default to
Debian's ``chromium`` and ``chromium-driver`` packages: Selenium Manager would otherwise try to
download a driver, which cannot work on machines without internet access.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from attrs import evolve

from overlord.adapters.fetching import staging
from overlord.adapters.selenium.browser import INSTALL_HINT, chromium, first_line
from overlord.adapters.selenium.downloads import DownloadWatcher, Transient, check_page
from overlord.adapters.selenium.steps import Page, perform
from overlord.domain.datasets import ApiSource, ScrapeSource, StepAction
from overlord.domain.errors import BackendError, InvalidInput
from overlord.domain.fetched import FetchedFile

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MAX_BACKOFF_SECONDS = 120.0
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-quic",
    "--window-size=1280,1024",
)
__all__ = ["CHROMEDRIVER", "CHROMIUM", "INSTALL_HINT", "SeleniumScraper"]


def backoff_seconds(base: float, attempt: int) -> float:
    """The wait after failed ``attempt`` (1, 2...): ``base`` doubled each time, with jitter so
    that workers failing together do not come back together.
    """
    ceiling = min(base * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
    return random.uniform(ceiling / 2, ceiling)


class SeleniumScraper:
    """Source for `ScrapeSource`: open the page, run the steps, keep the matching downloads.

    Steps wait up to their timeout for what they need (`overlord.adapters.selenium.steps`);
    ``wait_for_download`` for a new file matching the pattern to finish with no download still
    running. After opening, after every step and while a step waits, the page's status and
    the recipe's ``error_selector`` are checked. Pages answering 404 or 410 are `NotFound` at
    once; 5xx, 429 and a message shown are tried ``source.retries`` more times, then reported as
    `BackendError` (`Throttled` for 429); so is a step that times out, without a retry. Each
    file returned carries the period a ``select_period`` step chose.

    >>> scraper = SeleniumScraper(page_load_timeout_seconds=30)  # starts nothing yet
    """

    def __init__(
        self,
        *,
        chromium: str = CHROMIUM,
        chromedriver: str = CHROMEDRIVER,
        page_load_timeout_seconds: float = 60.0,
        extra_arguments: Sequence[str] = (),
    ) -> None:
        if page_load_timeout_seconds <= 0:
            raise InvalidInput("page_load_timeout_seconds must be positive")
        self._chromium = chromium
        self._chromedriver = chromedriver
        self._page_load_timeout = page_load_timeout_seconds
        self._arguments = (*FLAGS, *extra_arguments)

    def fetch(
        self,
        source: ScrapeSource | ApiSource,
        destination: Path,
        *,
        values: Mapping[str, str] | None = None,
    ) -> list[FetchedFile]:
        if not isinstance(source, ScrapeSource):
            raise InvalidInput(
                f"SeleniumScraper runs a ScrapeSource; a {type(source).__name__} needs HttpSource"
            )
        values = dict(values or {})
        source.requested_period(values)  # a missing or malformed value fails before a browser
        for kind, program in (("Chromium", self._chromium), ("chromedriver", self._chromedriver)):
            if not Path(program).is_file():
                raise BackendError(f"{kind} is not installed at {program}; {INSTALL_HINT}")
        try:
            import selenium  # noqa: F401
        except ImportError:
            raise BackendError("Selenium is missing: pip install 'overlord[scrape]'") from None

        with staging(destination) as stage:
            attempts = source.retries + 1
            for attempt in range(1, attempts + 1):
                folder = stage.scratch / f"attempt-{attempt}"
                folder.mkdir()
                try:
                    watcher, period = self._attempt(source, values, folder)
                    break
                except Transient as trouble:
                    shutil.rmtree(folder, ignore_errors=True)
                    if attempt == attempts:
                        raise trouble.after(attempts) from None
                    time.sleep(backoff_seconds(source.retry_seconds, attempt))
            for path in watcher.finished():
                stage.adopt(path, watcher.name_for(path.name), offered_by=source.page_url)
            files = stage.publish()
        chosen = period.isoformat() if period else None
        return [evolve(f, period=chosen) for f in files]

    def _attempt(
        self, source: ScrapeSource, values: Mapping[str, str], folder: Path
    ) -> tuple[DownloadWatcher, date | None]:
        """One try in a browser of its own; `Transient` if another try may fare better."""
        from selenium.common.exceptions import TimeoutException, WebDriverException
        from urllib3.exceptions import HTTPError

        period = None
        try:
            with chromium(
                binary=self._chromium,
                chromedriver=self._chromedriver,
                arguments=self._arguments,
                downloads=folder,
                page_load_timeout=self._page_load_timeout,
            ) as driver:
                watcher = DownloadWatcher(driver, folder, source)
                try:
                    driver.get(source.page_url)
                except TimeoutException:
                    raise BackendError(
                        f"{source.page_url} did not load within the page load timeout"
                    ) from None
                page = Page(driver, source.page_url, lambda: check_page(driver, source))
                page.watch()
                for step in source.steps:
                    if step.action is StepAction.WAIT_FOR_DOWNLOAD:
                        watcher.wait(step.timeout_seconds)
                    else:
                        period = perform(page, step, values) or period
                    page.watch()
                watcher.check_log()
        except WebDriverException as exc:
            raise BackendError(
                f"{source.page_url}: the browser failed: {first_line(exc.msg)}"
            ) from None
        except (HTTPError, ConnectionError) as exc:  # chromedriver died or stopped answering
            raise BackendError(
                f"{source.page_url}: the browser's driver was lost: {first_line(str(exc))}"
            ) from None
        return watcher, period
