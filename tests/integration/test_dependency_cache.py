"""Builds sharing one dependency cache take turns: the one that replaces the installed folder
never deletes it from under another build's zip.

pip is replaced by a stand-in that writes one module, so the test is about the cache's
locking, not about pip (`test_lambda_package` builds for real).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from overlord.adapters.pip import dependencies
from overlord.adapters.pip.dependencies import DependencyCache
from overlord.domain.lambda_package import RUNTIMES, PackagePlan

RUNTIME = RUNTIMES["python3.11"]


def fake_install(runtime: object, requirements: list[str], target: Path, **_: object) -> int:
    (target / "library.py").write_text(f"REQUIREMENTS = {requirements!r}\n")
    return 0


def waiting_on(lock: Path, *, give_up: threading.Event) -> bool:
    """Whether some process or thread comes to wait on ``lock``'s flock (``/proc/locks`` lists
    blocked requests with ``->``), before ``give_up`` is set or 30 s pass."""
    inode = f":{lock.stat().st_ino} "
    for _ in range(300):
        if any(
            "->" in line and inode in line for line in Path("/proc/locks").read_text().splitlines()
        ):
            return True
        if give_up.wait(0.1):
            return False
    return False


def test_a_build_of_another_key_waits_until_the_build_reading_the_folder_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dependencies, "install_requirements", fake_install)
    cache = DependencyCache(tmp_path)
    other_done = threading.Event()
    seen: list[Path] = []

    def other_build() -> None:
        with cache.folder(PackagePlan(RUNTIME, ("extra-tasks",)), "1.0") as (folder, _):
            seen.append(folder)
        other_done.set()

    with cache.folder(PackagePlan(RUNTIME, ()), "1.0") as (first, _):
        other = threading.Thread(target=other_build)
        other.start()
        waits = waiting_on(tmp_path / RUNTIME.name / ".lock", give_up=other_done)
        still_there = (first / "library.py").is_file()
    other.join(timeout=30)

    assert waits  # the other build queued on the lock instead of replacing the folder
    assert still_there
    [second] = seen
    assert second != first
    assert (second / "library.py").is_file()
    assert not first.exists()  # replaced: the cache keeps one folder per runtime
