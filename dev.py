#!/usr/bin/env python3
"""Set up and run Overlord on a fresh machine that has only python3.

    python3 dev.py quickstart   # venv + core install, then `overlord quickstart`
    python3 dev.py test         # venv + every extra + the Debian packages the tests drive,
                                # then lint, types, layers and tests

Installs go through constraints.txt so pip never has to search (aioboto3 pins botocore tightly,
and an unconstrained mix can keep pip's resolver busy for many minutes). A stamp file skips the
install when pyproject.toml and constraints.txt have not changed.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def run(*args: str | Path, env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT, env=env)


def check(*args: str | Path) -> None:
    code = run(*args)
    if code:
        sys.exit(code)


def ensure_venv(extras: str) -> None:
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes()
    ).hexdigest()
    stamp = VENV / f".installed-{extras or 'core'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    check(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    check(PYTHON, "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", target)
    stamp.write_text(digest)


# The tests drive real programs from Debian: Chromium and its driver (the Selenium scraper) and
# PostgreSQL (the SQL table sink; the tests start a throwaway cluster of their own). Each package
# is named with the file whose presence shows it is installed.
DEBIAN_PACKAGES = {
    "chromium": "/usr/bin/chromium",
    "chromium-driver": "/usr/bin/chromedriver",
    "postgresql": "/usr/lib/postgresql/*/bin/initdb",
}


def missing_packages(
    present: Callable[[str], bool] = lambda pattern: bool(glob.glob(pattern)),
) -> list[str]:
    return [name for name, path in DEBIAN_PACKAGES.items() if not present(path)]


def install_commands(
    packages: Sequence[str],
    *,
    is_root: bool,
    which: Callable[[str], str | None] = shutil.which,
    interactive: bool = False,
) -> list[list[str]]:
    """The apt-get commands that install ``packages``: as root directly, else through sudo
    (``-n`` when nobody can type a password); a one-line error when neither can work."""
    wanted = ", ".join(packages)
    if which("apt-get") is None:
        sys.exit(f"error: the tests need the Debian packages {wanted}; apt-get is not here")
    prefix: list[str] = []
    if not is_root:
        if which("sudo") is None:
            sys.exit(
                f"error: the tests need the Debian packages {wanted}; run as root or install sudo"
            )
        prefix = ["sudo"] if interactive else ["sudo", "-n"]
    return [
        [*prefix, "apt-get", "update", "-qq"],
        [
            *prefix,
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "install",
            "-y",
            "-qq",
            *packages,
        ],
    ]


def ensure_debian_packages() -> None:
    missing = missing_packages()
    if not missing:
        return
    print(f"installing the Debian packages the tests drive: {', '.join(missing)}", flush=True)
    commands = install_commands(
        missing, is_root=os.geteuid() == 0, interactive=sys.stdin is not None and sys.stdin.isatty()
    )
    for command in commands:
        if run(*command):
            sys.exit(f"error: {' '.join(command)} failed; install {', '.join(missing)} by hand")


def quickstart(args: list[str]) -> int:
    ensure_venv("")
    return run(BIN / "overlord", "quickstart", *args)


def test(args: list[str]) -> int:
    ensure_debian_packages()
    ensure_venv("all,dev")
    check(BIN / "ruff", "check", "src", "tests", "benchmarks", "dev.py")
    check(BIN / "ruff", "format", "--check", "src", "tests", "benchmarks", "dev.py")
    check(BIN / "mypy", "--strict", "src/overlord")
    check(BIN / "lint-imports")
    return run(PYTHON, "-m", "pytest", "-n", "2", *args)


COMMANDS = {"quickstart": quickstart, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [args...]")
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
