"""The Lambda package's libraries, installed, trimmed and compiled once per set of wheels.

Installing pyarrow and the rest takes pip longer than everything else a build does, and gives
the same files every time the cache holds the same wheels. So the installed folder is kept
beside the wheels, under a key made of everything that decides its content: the runtime, the
requirements (and the digest of any wheel file a requirement names), the wheels in the cache,
Overlord's version, the trimming rules and this module's own code. A build whose key is there
reuses it; the first build of a new key replaces the previous folder, so the cache holds one
per runtime. Builds sharing a cache (two terminals, two CI jobs) take turns on a lock of the
runtime's folder for as long as they read from it: one that replaced the folder would otherwise
delete files from under another's zip.

Bytecode is compiled when this interpreter is the runtime's (Python 3.11 for ``python3.11``):
Lambda's code folder is read-only, so a zip without it compiles every module again on each cold
start. The ``.pyc`` files check no timestamps (``unchecked-hash``: the code never changes where
it is unpacked) and are compiled with a fixed hash seed, so their bytes repeat too.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import fcntl
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from overlord.adapters.pip.reproducible_zip import EPOCH, files_under
from overlord.adapters.pip.wheels import install_requirements
from overlord.domain.lambda_package import (
    TRIMMED,
    LambdaRuntime,
    PackagePlan,
    distribution_name,
    trimmed,
)

LAMBDA_CODE_ROOT = "/var/task"  # where Lambda unpacks the zip, as tracebacks name the files


def compile_tree(tree: Path, runtime: LambdaRuntime) -> None:
    """Bytecode for every module under ``tree`` (see the module). A file that does not compile
    (a library's Python 2 example, say) is left as source."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" != runtime.python:
        return
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-qq",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(tree),
            "-p",
            LAMBDA_CODE_ROOT,
            str(tree),
        ],
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        check=False,
    )


def dist_infos(tree: Path) -> list[tuple[str, str, Path]]:
    """(name, version, dist-info folder) of every distribution installed in ``tree``."""
    found = []
    for info in sorted(tree.glob("*.dist-info")):
        metadata = importlib.metadata.PathDistribution(info).metadata
        found.append((distribution_name(metadata["Name"]), metadata["Version"], info))
    return found


class DependencyCache:
    """Wheels and installed folders under ``root``/<runtime>/."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @contextlib.contextmanager
    def folder(self, plan: PackagePlan, version: str) -> Iterator[tuple[Path, int]]:
        """The plan's libraries (Overlord's dist-info among them, its files not), installed;
        and how many wheels had to be downloaded for them. No other build of this cache
        changes the folder until the block ends."""
        runtime_cache = self._root / plan.runtime.name
        runtime_cache.mkdir(parents=True, exist_ok=True)
        with open(runtime_cache / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            yield self._installed(plan, version, runtime_cache)

    def _installed(self, plan: PackagePlan, version: str, runtime_cache: Path) -> tuple[Path, int]:
        wheels, trees = runtime_cache / "wheels", runtime_cache / "trees"
        wheels.mkdir(exist_ok=True)
        trees.mkdir(exist_ok=True)
        if not plan.refresh:
            kept = trees / _key(plan, version, wheels)
            if kept.is_dir():
                return kept, 0
        fresh = Path(tempfile.mkdtemp(prefix=".building-", dir=trees))
        try:
            with tempfile.TemporaryDirectory(prefix="overlord-links-") as links:
                _metadata_wheel(version, Path(links))
                downloaded = install_requirements(
                    plan.runtime,
                    [f"overlord=={version}", *plan.requirements],
                    fresh,
                    cache=wheels,
                    links=[Path(links)],
                    refresh=plan.refresh,
                )
            _drop_distributions(fresh, plan.provided)
            for name, path in files_under(fresh):
                if trimmed(name):
                    path.unlink()
            compile_tree(fresh, plan.runtime)
            kept = trees / _key(plan, version, wheels)
            for old in trees.iterdir():
                if old != fresh and not old.name.startswith("."):
                    shutil.rmtree(old, ignore_errors=True)
            os.replace(fresh, kept)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        return kept, downloaded


def _key(plan: PackagePlan, version: str, wheels: Path) -> str:
    named_files = {}
    for requirement in plan.requirements:
        path = Path(requirement)
        if path.suffix == ".whl" and path.is_file():
            named_files[requirement] = hashlib.sha256(path.read_bytes()).hexdigest()
    described = {
        # what this module does to an installed folder, so that changing it rebuilds
        "rules": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "python": [sys.version_info.major, sys.version_info.minor],
        "runtime": [plan.runtime.python, *plan.runtime.platforms],
        "requirements": list(plan.requirements),
        "provided": sorted(plan.provided),
        "trimmed": list(TRIMMED),
        "overlord": version,
        "named_files": named_files,
        "wheels": sorted(p.name for p in wheels.iterdir()),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


def _record_line(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def _metadata_wheel(version: str, folder: Path) -> Path:
    """A wheel of Overlord's name and version requiring nothing: pip takes it for Overlord when
    a user's task package requires ``overlord``, instead of fetching some other release, and it
    gives the zip Overlord's dist-info. The files are copied in from the package this process
    imports, so the zip runs the code the user has."""
    info = f"overlord-{version}.dist-info"
    members = {
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: overlord\nVersion: {version}\n"
            "Summary: Overlord, as packaged for AWS Lambda\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: overlord\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in members.items():
        writer.writerow(_record_line(name, data))
    writer.writerow([f"{info}/RECORD", "", ""])
    members[f"{info}/RECORD"] = record.getvalue().encode()
    path = folder / f"overlord-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in members.items():
            wheel.writestr(zipfile.ZipInfo(name, date_time=EPOCH), data)
    return path


def _drop_distributions(tree: Path, names: frozenset[str]) -> None:
    """Remove the distributions called ``names`` (the files their RECORD lists), and every
    ``direct_url.json``, which records where on this machine a wheel was installed from."""
    root = tree.resolve()
    for name, _, info in dist_infos(tree):
        (info / "direct_url.json").unlink(missing_ok=True)
        if name not in names:
            continue
        with (info / "RECORD").open(newline="", encoding="utf-8") as record:
            for row in csv.reader(record):
                path = (tree / row[0]).resolve() if row else root
                if path.is_relative_to(root) and path.is_file():
                    path.unlink()
        shutil.rmtree(info)
    for folder, _, _ in sorted(os.walk(tree), key=lambda entry: -len(entry[0])):
        if folder != str(tree) and not os.listdir(folder):
            os.rmdir(folder)
