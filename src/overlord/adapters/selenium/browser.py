"""Starting one headless Chromium for one attempt, and making sure nothing of it outlives it.

``driver.quit()`` alone is not enough: when chromedriver dies or hangs, or the caller is
interrupted mid-step, Chromium's renderers, GPU and utility processes stay behind, each holding
memory and a profile folder, and on a worker that scrapes all day they pile up. So chromedriver
starts in a session of its own (Ctrl-C in a terminal does not reach it half-way either), every
process of the tree carries a marker unique to the attempt, and teardown kills what is left of
the group and then any process still carrying the marker: Chromium moves its crash handlers
into sessions of their own, and the marker finds those too. The marker is an environment
variable, and also part of the profile folder's name, because Chromium's zygote children
overwrite their environment with their process titles but keep ``--user-data-dir`` on their
command line. ``/proc`` is Linux's; where it is missing only the process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from overlord.domain.errors import BackendError

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

MARKER = "OVERLORD_SCRAPER_BROWSER"
_PROFILE = "overlord-chromium-"
INSTALL_HINT = "install it with: apt-get update && apt-get install -y chromium chromium-driver"
_GONE_SECONDS = 5.0  # how long teardown waits for killed processes to be gone


def first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:200] if (text or "").strip() else "no detail"


def new_marker() -> str:
    """A marker value that also says which process started the browser (see `marked`)."""
    return f"{os.getpid()}-{uuid.uuid4().hex}"


def marked(prefix: str) -> list[int]:
    """Processes whose marker starts with ``prefix``: ``f"{os.getpid()}-"`` finds every browser
    process this process started and left running; a whole marker finds one attempt's.
    """
    found = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and _carries(int(entry.name), prefix):
                found.append(int(entry.name))
    return found


def _carries(pid: int, prefix: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            variables = environ.read().split(b"\0")
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read()
    except OSError:  # gone, or another user's process
        return False
    variable = f"{MARKER}={prefix}".encode()
    return (
        any(v.startswith(variable) for v in variables) or f"{_PROFILE}{prefix}".encode() in command
    )


@contextlib.contextmanager
def chromium(
    *,
    binary: str,
    chromedriver: str,
    arguments: Sequence[str],
    downloads: Path,
    page_load_timeout: float,
) -> Iterator[WebDriver]:
    """A driven Chromium with a fresh profile downloading into ``downloads``; torn down whole."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    marker = new_marker()
    with tempfile.TemporaryDirectory(
        prefix=f"{_PROFILE}{marker}-", ignore_cleanup_errors=True
    ) as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for argument in (*arguments, f"--user-data-dir={profile}"):
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
        service = Service(
            executable_path=chromedriver,
            env={**os.environ, MARKER: marker},
            popen_kw={"start_new_session": True},
        )
        try:
            try:
                driver = webdriver.Chrome(service=service, options=options)
            except WebDriverException as exc:
                raise BackendError(
                    f"Chromium did not start ({first_line(exc.msg)}); {INSTALL_HINT}"
                ) from None
            try:
                driver.set_page_load_timeout(page_load_timeout)
                yield driver
            finally:
                with contextlib.suppress(Exception):
                    driver.quit()
        finally:
            tear_down(service, marker)


def tear_down(service: object, marker: str) -> None:
    """Kill what is left of chromedriver's group and of the marked processes; reap the driver."""
    process = getattr(service, "process", None)
    if process is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # its own session: group id == its pid
    deadline = time.monotonic() + _GONE_SECONDS
    while (left := marked(marker)) and time.monotonic() < deadline:
        for pid in left:
            _kill(pid, marker)
    if process is not None:
        with contextlib.suppress(Exception):
            process.wait(timeout=_GONE_SECONDS)


def _kill(pid: int, marker: str) -> None:
    """SIGKILL ``pid`` through a pidfd, so a reused pid is never hit, and wait for its exit."""
    try:
        handle = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if _carries(pid, marker):  # still the process we found
            signal.pidfd_send_signal(handle, signal.SIGKILL)
            _wait_readable(handle, seconds=1.0)
    except OSError:
        pass
    finally:
        os.close(handle)


def _wait_readable(handle: int, *, seconds: float) -> None:
    """Wait until a pidfd is readable, which it is once its process has exited.

    ``poll`` rather than ``select``: a long-lived process (a service, a test worker) may hold
    more than 1,024 descriptors, and ``select`` refuses any numbered past that.
    """
    poller = select.poll()
    poller.register(handle, select.POLLIN)
    poller.poll(seconds * 1000)
