"""A `ScrapeSource` recipe run in a real headless Chromium, for sites that offer no API.

Each fetch starts its own browser with a fresh profile and quits it: a browser shared between
fetches would carry one tenant's cookies and storage into the next tenant's session, and a
start costs about half a second here. Chromium downloads into the fetch's staging area, so a
file reaches the destination only through the same staging and name rules as every Source.
Paths default to Debian's ``chromium`` and ``chromium-driver`` packages: Selenium Manager would
otherwise try to download a driver, which cannot work on machines without internet access.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from overlord.adapters.fetching import staging
from overlord.adapters.selenium.downloads import DownloadWatcher, page_error
from overlord.domain.datasets import ApiSource, ScrapeSource, ScrapeStep, StepAction
from overlord.domain.errors import BackendError, InvalidInput
from overlord.domain.fetched import FetchedFile

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = "install it with: apt-get update && apt-get install -y chromium chromium-driver"
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


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:200] if (text or "").strip() else "no detail"


class SeleniumScraper:
    """Source for `ScrapeSource`: open the page, run the steps, keep the matching downloads.

    A ``click`` waits up to its step's timeout for the element to be clickable, a ``wait_for``
    for it to be present, and a ``wait_for_download`` for a new file matching the pattern to
    finish with no download still running. Pages answering 404 or 410 are `NotFound`, 429
    `Throttled`, other errors `BackendError`; so is a step that times out.

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
        for kind, program in (("Chromium", self._chromium), ("chromedriver", self._chromedriver)):
            if not Path(program).is_file():
                raise BackendError(f"{kind} is not installed at {program}; {INSTALL_HINT}")
        try:
            from selenium.common.exceptions import WebDriverException
        except ImportError:
            raise BackendError("Selenium is missing: pip install 'overlord[scrape]'") from None

        with staging(destination) as stage:
            try:
                with self._browser(stage.scratch) as driver:
                    watcher = DownloadWatcher(driver, stage.scratch, source)
                    _open(driver, source.page_url)
                    for step in source.steps:
                        _perform(driver, step, watcher, source.page_url)
                    watcher.check_log()
            except WebDriverException as exc:
                raise BackendError(
                    f"{source.page_url}: the browser failed: {_first_line(exc.msg)}"
                ) from None
            for path in watcher.finished():
                stage.adopt(path, watcher.name_for(path.name), offered_by=source.page_url)
            return stage.publish()

    @contextlib.contextmanager
    def _browser(self, downloads: Path) -> Iterator[WebDriver]:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service

        with tempfile.TemporaryDirectory(
            prefix="overlord-chromium-", ignore_cleanup_errors=True
        ) as profile:
            options = webdriver.ChromeOptions()
            options.binary_location = self._chromium
            for argument in (*self._arguments, f"--user-data-dir={profile}"):
                options.add_argument(argument)
            options.add_experimental_option(
                "prefs",
                {
                    "download.default_directory": str(downloads.resolve()),
                    "download.prompt_for_download": False,
                    "download.directory_upgrade": True,
                    "safebrowsing.enabled": False,
                    # a page may start several downloads from one click
                    "profile.default_content_setting_values.automatic_downloads": 1,
                },
            )
            options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
            try:
                driver = webdriver.Chrome(
                    service=Service(executable_path=self._chromedriver), options=options
                )
            except WebDriverException as exc:
                raise BackendError(
                    f"Chromium did not start ({_first_line(exc.msg)}); {INSTALL_HINT}"
                ) from None
            try:
                driver.set_page_load_timeout(self._page_load_timeout)
                yield driver
            finally:
                with contextlib.suppress(Exception):
                    driver.quit()


def _open(driver: WebDriver, url: str) -> None:
    from selenium.common.exceptions import TimeoutException

    try:
        driver.get(url)
    except TimeoutException:
        raise BackendError(f"{url} did not load within the page load timeout") from None
    error = page_error(driver)
    if error is not None:
        raise error


def _perform(driver: WebDriver, step: ScrapeStep, watcher: DownloadWatcher, url: str) -> None:
    from selenium.common.exceptions import InvalidSelectorException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.wait import WebDriverWait

    if step.action is StepAction.WAIT_FOR_DOWNLOAD:
        watcher.wait(step.timeout_seconds)
        return
    selector = step.selector or ""
    wait = WebDriverWait(driver, step.timeout_seconds, poll_frequency=0.1)
    clicking = step.action is StepAction.CLICK
    try:
        if clicking:
            wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, selector))).click()
        else:
            wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, selector)))
    except InvalidSelectorException:
        raise InvalidInput(f"{selector!r} is not a valid CSS selector") from None
    except TimeoutException:
        what = "clickable element" if clicking else "element"
        raise BackendError(
            f"{url}: no {what} matches {selector!r} after {step.timeout_seconds} s"
        ) from None
