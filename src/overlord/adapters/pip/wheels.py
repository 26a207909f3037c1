"""Requirements installed into a folder for the Lambda runtime, from a cache of wheels.

pip is asked for wheels of the runtime's interpreter and platform (``--platform``,
``--python-version``, ``--only-binary=:all:``), never for this machine's, so a compiled library
(pyarrow, pymongo's BSON, rpds-py) is the build Lambda can load. The wheels are kept in a cache
folder per runtime: a build first installs from the cache alone (no index, no network), and
asks the index only when the cache cannot satisfy the requirements, or when asked to refresh.
Which releases a build gets is therefore what the cache holds, which is what makes a repeated
build repeat exactly.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from overlord.domain.errors import BackendError
from overlord.domain.lambda_package import LambdaRuntime


def _pip(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    return subprocess.run(
        [*command, *(str(a) for a in args)],
        capture_output=True,
        text=True,
        check=False,
    )


def _for_runtime(runtime: LambdaRuntime) -> list[str]:
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", runtime.python]
    for platform in runtime.platforms:
        args += ["--platform", platform]
    return args


def _reason(done: subprocess.CompletedProcess[str]) -> str:
    """pip's own explanation: its ERROR lines, else the last lines it wrote."""
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR:")]
    return "; ".join(errors or lines[-3:]) or f"pip exited with {done.returncode}"


def _install(
    runtime: LambdaRuntime, requirements: Sequence[str], target: Path, links: Sequence[Path]
) -> subprocess.CompletedProcess[str]:
    sources: list[str | Path] = []
    for link in links:
        sources += ["--find-links", link]
    return _pip(
        "install",
        "--quiet",
        "--target",
        target,
        "--no-index",
        *sources,
        "--no-compile",
        "--no-warn-script-location",
        *_for_runtime(runtime),
        *requirements,
    )


def install_requirements(
    runtime: LambdaRuntime,
    requirements: Sequence[str],
    target: Path,
    *,
    cache: Path,
    links: Sequence[Path] = (),
    refresh: bool = False,
) -> int:
    """Install ``requirements`` (and what they require) into the empty folder ``target``;
    returns how many wheels had to be downloaded into ``cache``. ``links`` are more folders of
    wheels to pick from. `BackendError` with pip's reason when it cannot."""
    if importlib.util.find_spec("pip") is None:
        raise BackendError(
            f"building the Lambda package needs pip, which {sys.executable} does not have "
            "(python -m ensurepip installs it)"
        )
    cache.mkdir(parents=True, exist_ok=True)
    if not refresh and _install(runtime, requirements, target, [cache, *links]).returncode == 0:
        return 0
    before = {p.name for p in cache.iterdir()}
    sources: list[str | Path] = []
    for link in [cache, *links]:  # what is cached is not fetched again
        sources += ["--find-links", link]
    fetched = _pip(
        "download", "--quiet", "--dest", cache, *sources, *_for_runtime(runtime), *requirements
    )
    if fetched.returncode != 0:
        raise BackendError(
            f"pip found no {runtime.name} wheels ({', '.join(runtime.platforms)}) for the "
            f"Lambda requirements: {_reason(fetched)}"
        )
    shutil.rmtree(target)  # whatever the attempt from the cache left
    target.mkdir()
    installed = _install(runtime, requirements, target, [cache, *links])
    if installed.returncode != 0:
        raise BackendError(f"pip could not install the Lambda requirements: {_reason(installed)}")
    return len({p.name for p in cache.iterdir()} - before)
