"""Nothing of a scraper's browsers outlives its fetch: not after success, nor an error, nor Ctrl-C.

A worker scrapes all day, so one leaked renderer per fetch is a machine full of them by evening.
Leftovers are found the way an operator would find them, by the marker every browser process
carries (``/proc/*/environ``, or the profile folder on its command line); the first test checks
that the marker does reach every process of a running browser, so an empty scan means something.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from overlord.adapters.selenium.browser import MARKER, chromium, marked, new_marker, tear_down
from overlord.adapters.selenium.scraper import FLAGS, SeleniumScraper
from overlord.domain.datasets import ScrapeSource, ScrapeStep, StepAction
from overlord.domain.errors import BackendError, NotFound
from tests.site_server import Site, require_chromium, serve_site

CLICK, WAIT_FOR, DOWNLOAD = StepAction.CLICK, StepAction.WAIT_FOR, StepAction.WAIT_FOR_DOWNLOAD
MINE = f"{os.getpid()}-"  # the marker prefix of every browser this test process starts


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as running:
        yield running


@pytest.fixture(scope="module")
def scraper() -> SeleniumScraper:
    require_chromium()
    return SeleniumScraper(page_load_timeout_seconds=15)


def session_members(session: int) -> set[int]:
    """Processes whose session id is ``session``, read from ``/proc/*/stat``."""
    members = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            if fields[0] != "Z" and int(fields[3]) == session:
                members.add(int(entry.name))
    return members


def lasting(unmarked: set[int]) -> set[int]:
    """The processes of ``unmarked`` that stay alive and unmarked for two seconds.

    A helper that is starting (between fork and exec) or exiting (its memory already released,
    so ``/proc/PID/environ`` reads empty) is briefly unmarked; a process Chromium really started
    without the marker stays so for as long as it lives.
    """
    deadline = time.monotonic() + 2.0
    while unmarked and time.monotonic() < deadline:
        time.sleep(0.1)
        living = still_running(unmarked)
        unmarked = living - set(marked(MINE))
    return unmarked


def still_running(pids: set[int]) -> set[int]:
    """Those of ``pids`` that are still running (not gone, not zombies)."""
    alive = set()
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat.rpartition(")")[2].split()[0] not in ("Z", "X"):
            alive.add(pid)
    return alive


def test_every_process_of_a_running_browser_carries_the_marker(tmp_path: Path) -> None:
    require_chromium()
    with chromium(
        binary="/usr/bin/chromium",
        chromedriver="/usr/bin/chromedriver",
        arguments=FLAGS,
        downloads=tmp_path,
        page_load_timeout=15,
    ) as driver:
        driver.get("data:text/html,<h1>marked</h1>")
        driver_pid = driver.service.process.pid  # type: ignore[attr-defined]
        tree = session_members(driver_pid)
        found = set(marked(MINE))

        assert len(tree) > 3  # chromedriver, the browser, its zygotes and renderers
        assert lasting(tree - found) == set()

    assert marked(MINE) == []
    assert session_members(driver_pid) == set()


@pytest.mark.long
def test_a_hundred_fetches_in_a_row_leave_no_browser_process_behind(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    recipe = ScrapeSource(
        site.page_url("data.zip"),
        (ScrapeStep(CLICK, "#download", timeout_seconds=10), ScrapeStep(DOWNLOAD)),
        "*.zip",
        retry_seconds=0.01,
    )

    fetched = [scraper.fetch(recipe, tmp_path / str(i)) for i in range(100)]

    assert {len(files) for files in fetched} == {1}
    assert marked(MINE) == []


@pytest.mark.parametrize(
    ("page", "step", "error"),
    [
        ("/", ScrapeStep(WAIT_FOR, "#never-there", timeout_seconds=1), BackendError),
        ("/status/404", ScrapeStep(DOWNLOAD), NotFound),
        ("/status/500", ScrapeStep(DOWNLOAD), BackendError),
    ],
)
def test_a_fetch_that_raises_leaves_no_browser_process_behind(
    site: Site,
    scraper: SeleniumScraper,
    tmp_path: Path,
    page: str,
    step: ScrapeStep,
    error: type[Exception],
) -> None:
    steps = (step,) if step.action is DOWNLOAD else (step, ScrapeStep(DOWNLOAD))
    recipe = ScrapeSource(site.url + page, steps, "*", retries=1, retry_seconds=0.01)

    with pytest.raises(error):
        scraper.fetch(recipe, tmp_path)

    assert marked(MINE) == []


def test_a_fetch_whose_chromedriver_dies_leaves_no_browser_process_behind(
    site: Site, scraper: SeleniumScraper, tmp_path: Path
) -> None:
    # driver.quit() cannot reach a dead chromedriver; only the teardown's kill can end Chromium.
    page = site.page_url("orphaned-" + tmp_path.name)
    recipe = ScrapeSource(
        page,
        (ScrapeStep(WAIT_FOR, "#never-there", timeout_seconds=600), ScrapeStep(DOWNLOAD)),
        "*",
    )
    failures: list[BaseException] = []

    def fetch() -> None:
        try:
            scraper.fetch(recipe, tmp_path / "raw")
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=fetch)
    worker.start()
    while not site.count(urlpath(page)) and worker.is_alive():
        time.sleep(0.1)
    drivers = [pid for pid in marked(MINE) if command_name(pid) == "chromedriver"]
    for pid in drivers:
        os.kill(pid, signal.SIGKILL)
    worker.join(timeout=120)

    assert len(drivers) == 1
    assert [type(e) for e in failures] == [BackendError]
    assert marked(MINE) == []


def test_teardown_kills_a_marked_process_that_left_the_group_past_1024_descriptors() -> None:
    # Chromium moves its crash handlers into sessions of their own, so only the marker finds
    # them; a worker that has run all day may hold descriptors numbered past select()'s 1,024.
    marker = new_marker()
    escaped = subprocess.Popen(
        ["sleep", "600"], env={**os.environ, MARKER: marker}, start_new_session=True
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert spare[-1] > 1024
        tear_down(None, marker)
    finally:
        for descriptor in spare:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        if escaped.poll() is None:
            escaped.kill()

    assert escaped.wait(timeout=10) == -signal.SIGKILL
    assert marked(marker) == []


INTERRUPTED = """
import sys
from pathlib import Path
from overlord.adapters.selenium.scraper import SeleniumScraper
from overlord.domain.datasets import ScrapeSource, ScrapeStep, StepAction

recipe = ScrapeSource(
    sys.argv[1],
    (ScrapeStep(StepAction.WAIT_FOR, "#never-there", timeout_seconds=600),
     ScrapeStep(StepAction.WAIT_FOR_DOWNLOAD)),
    "*",
)
SeleniumScraper().fetch(recipe, Path(sys.argv[2]))
"""


def test_a_fetch_interrupted_by_ctrl_c_leaves_no_browser_process_behind(
    site: Site, tmp_path: Path
) -> None:
    require_chromium()
    page = site.page_url("interrupted-" + tmp_path.name)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(INTERRUPTED), page, str(tmp_path / "raw")],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not site.count(urlpath(page)) and child.poll() is None:
            time.sleep(0.1)  # until its browser has the page open and waits on a step
        assert marked(f"{child.pid}-") != []

        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert "KeyboardInterrupt" in stderr
    assert marked(f"{child.pid}-") == []
    assert list((tmp_path / "raw").iterdir()) == []


def command_name(pid: int) -> str | None:
    """The process's name, or None once it has exited (a renderer may end between two reads)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def urlpath(url: str) -> str:
    return "/" + url.split("/", 3)[3]
