"""Knowing when a browser's downloads are finished, and what the server called them.

A download folder alone says too little: a file may be about to start, a failed download leaves
no trace but a missing file, and Chromium rewrites a hostile name (``../x.zip`` becomes
``_x.zip``, and even a plain ``a:b.zip`` becomes ``a_b.zip``) before anything reaches the disk.
Chromium's performance log (DevTools events) says the rest: which downloads began and ended,
and the ``Content-Disposition`` each server sent, so the scraper refuses the names the HTTP
adapter refuses and keeps the plain names it keeps, instead of publishing the browser's
rewrite. If a Chromium release stops logging these events, the watcher falls back to the folder.
A link to a missing file usually opens an error page rather than a download, and a form that
refuses a request shows its message in the page, so the current document's status and the
site's error element are read on every poll too: that fails at once instead of at the timeout.
A file counts as finished once Chromium's partial file is gone and its size has not changed
between two polls: when the DevTools events are missing the folder is all there is, and a name
without ``.crdownload`` alone does not prove that nothing more will be written to it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overlord.adapters.fetching import disposition_filename
from overlord.domain.datasets import ScrapeSource
from overlord.domain.errors import BackendError, InvalidInput, NotFound, OverlordError, Throttled
from overlord.domain.fetched import check_file_name

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

POLL_SECONDS = 0.1
_STATUS = """
const entry = performance.getEntriesByType("navigation")[0];
return entry && entry.responseStatus ? entry.responseStatus : 0;
"""


class Transient(Exception):
    """What another attempt in a fresh browser may not meet: a 5xx, a 429, a site's message."""

    def __init__(self, error: OverlordError) -> None:
        super().__init__(error.message)
        self.error = error

    def after(self, attempts: int) -> OverlordError:
        """The error to report once ``attempts`` attempts have all met it."""
        plural = "s" if attempts != 1 else ""
        return type(self.error)(f"{self.error.message} (after {attempts} attempt{plural})")


def check_page(driver: WebDriver, source: ScrapeSource) -> None:
    """Raise what the current document says went wrong: its HTTP status, or the site's message.

    404 and 410 are `NotFound` and other 4xx `BackendError`, both final; 5xx, 429 and a message
    in ``source.error_selector`` are `Transient`.
    """
    seen = _status(driver)
    error = _error_for(*seen) if seen else None
    if error is not None:
        raise Transient(error) if seen and (seen[0] == 429 or seen[0] >= 500) else error
    message = shown_error(driver, source.error_selector)
    if message:
        raise Transient(BackendError(f"{source.page_url}: the site says: {message}"))


def shown_error(driver: WebDriver, selector: str | None) -> str | None:
    """The visible, non-empty text of the first element ``selector`` matches, if any."""
    from selenium.common.exceptions import InvalidSelectorException, WebDriverException
    from selenium.webdriver.common.by import By

    if selector is None:
        return None
    try:
        elements = driver.find_elements(By.CSS_SELECTOR, selector)
    except InvalidSelectorException:
        raise InvalidInput(f"error_selector {selector!r} is not a valid CSS selector") from None
    except WebDriverException:  # the document is being replaced; the next check will see it
        return None
    for element in elements:
        try:
            text = str(element.text).strip() if element.is_displayed() else ""
        except WebDriverException:
            continue
        if text:
            return " ".join(text.split())[:300]
    return None


def page_error(driver: WebDriver) -> OverlordError | None:
    """The error the current document's HTTP status stands for, if it is one."""
    seen = _status(driver)
    return _error_for(*seen) if seen else None


def _status(driver: WebDriver) -> tuple[int, str] | None:
    from selenium.common.exceptions import WebDriverException

    try:
        status = driver.execute_script(_STATUS)
        url = str(driver.current_url)
    except WebDriverException:  # the document is being replaced; the next poll will see it
        return None
    return (status if isinstance(status, int) else 0), url


def _error_for(status: int, url: str) -> OverlordError | None:
    if status in (404, 410):
        return NotFound(f"{url} answered {status}")
    if status == 429:
        return Throttled(f"{url} answered 429 Too Many Requests")
    if status >= 400:
        return BackendError(f"{url} answered {status}")
    return None


def is_partial(name: str) -> bool:
    """Chromium writes ``*.crdownload`` (and hidden ``.com.google.Chrome.*`` temporaries)."""
    return name.endswith(".crdownload") or name.startswith(".")


class DownloadWatcher:
    """Chromium's download folder and its performance log, read together."""

    def __init__(self, driver: WebDriver, folder: Path, source: ScrapeSource) -> None:
        self._driver = driver
        self._folder = folder
        self._source = source
        self._counted: set[str] = set()  # finished files an earlier wait already returned for
        self._dispositions: dict[str, str] = {}  # response URL -> its Content-Disposition
        self._urls: dict[str, str] = {}  # download guid -> URL
        self._states: dict[str, str] = {}  # download guid -> inProgress | completed
        self._offered: dict[str, str] = {}  # the name Chromium saves under -> the server's name

    def name_for(self, saved: str) -> str:
        """The name the server offered for the file Chromium saved as ``saved``."""
        return self._offered.get(saved, saved)

    def finished(self) -> list[Path]:
        """Complete files whose names match the source's pattern, sorted by name."""
        return sorted(
            p
            for p in self._folder.iterdir()
            if not is_partial(p.name)
            and p.is_file()
            and self._source.matches(self.name_for(p.name))
        )

    def wait(self, timeout_seconds: float) -> None:
        """Until a new matching file is finished and no download is still running."""
        deadline = time.monotonic() + timeout_seconds
        sizes: dict[str, int] | None = None  # the fresh files' sizes at the previous poll
        while True:
            self.check_log()
            check_page(self._driver, self._source)
            fresh = None if self._running() else self._fresh_sizes()
            if fresh and fresh == sizes:
                self._counted.update(fresh)
                return
            sizes = fresh
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"{self._source.page_url}: no file matching {self._source.file_pattern!r} "
                    f"finished downloading within {timeout_seconds:g} s"
                )
            time.sleep(POLL_SECONDS)

    def _fresh_sizes(self) -> dict[str, int] | None:
        try:
            return {
                p.name: p.stat().st_size for p in self.finished() if p.name not in self._counted
            }
        except FileNotFoundError:  # renamed while we looked; the next poll sees it settled
            return None

    def _running(self) -> bool:
        if any(is_partial(p.name) for p in self._folder.iterdir()):
            return True
        return any(state != "completed" for state in self._states.values())

    def check_log(self) -> None:
        """Read new DevTools events; refuse a hostile offered name or a failed download."""
        entries: list[dict[str, Any]] = self._driver.execute("getLog", {"type": "performance"})[
            "value"
        ]
        for entry in entries:
            message = json.loads(entry["message"]).get("message", {})
            self._event(str(message.get("method", "")), message.get("params") or {})

    def _event(self, method: str, params: dict[str, Any]) -> None:
        kind = method.partition(".")[2]
        if method == "Network.responseReceived":
            response = params.get("response") or {}
            headers = {str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()}
            if "content-disposition" in headers:
                self._dispositions[str(response.get("url"))] = headers["content-disposition"]
        elif kind == "downloadWillBegin":  # Page.* today, Browser.* in newer protocols
            guid, url = str(params.get("guid")), str(params.get("url"))
            self._urls[guid] = url
            self._states[guid] = "inProgress"
            offered = disposition_filename(self._dispositions.get(url))
            if offered is not None:
                check_file_name(offered, offered_by=url)
                self._offered[str(params.get("suggestedFilename"))] = offered
        elif kind == "downloadProgress":
            guid, state = str(params.get("guid")), str(params.get("state"))
            if state == "canceled":
                url = self._urls.get(guid, "a link")
                raise BackendError(f"{self._source.page_url}: the download of {url} failed")
            self._states[guid] = state
