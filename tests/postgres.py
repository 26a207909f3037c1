"""A throwaway PostgreSQL cluster, started once per test process by the ``postgres_url`` fixture.

Debian's server binaries run against a fresh data directory on a free port of 127.0.0.1 (about a
second); as root they run as the ``postgres`` OS user, since initdb refuses root. Tests name
their own tables, so the one database needs no clean-up between them. A machine without the
binaries fails the tests that need them, loudly: a skipped database test passes for no reason.
Register the fixture by importing it into a conftest.py.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

_DATABASE = "overlord_test"
_START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


def _binaries() -> Path:
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        pytest.fail(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): install Debian's "
            "'postgresql' package, as .ci/run does, to run the PostgreSQL tests",
            pytrace=False,
        )
    newest = max(found, key=lambda path: [int(n) for n in re.findall(r"\d+", path)])
    return Path(newest).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Cluster:
    def __init__(self, binaries: Path, root: Path) -> None:
        self.binaries = binaries
        self.root = root
        self.data = root / "data"
        self.log = root / "log"
        # initdb refuses to run as root; runuser (util-linux) switches without a password.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*self.prefix, str(self.binaries / tool), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    def must(self, tool: str, *args: str) -> None:
        done = self.run(tool, *args)
        if done.returncode != 0:
            self.fail(tool, done)

    def fail(self, tool: str, done: subprocess.CompletedProcess[str]) -> NoReturn:
        log = self.log.read_text(errors="replace")[-2000:] if self.log.is_file() else ""
        pytest.fail(
            f"PostgreSQL {tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
            + (f"\nserver log:\n{log}" if log else ""),
            pytrace=False,
        )

    def start(self) -> int:
        for _ in range(_START_ATTEMPTS):
            port = _free_port()
            options = (
                f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off -c synchronous_commit=off"
            )
            started = self.run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                "-o", options, "start",
            )  # fmt: skip
            if started.returncode == 0:
                return port
        self.fail("pg_ctl start", started)

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql+psycopg://`` URL of an empty database on a cluster made for this session."""
    binaries = _binaries()
    root = Path(tempfile.mkdtemp(prefix="overlord-pg-"))
    cluster = _Cluster(binaries, root)
    if cluster.prefix:
        shutil.chown(root, "postgres", "postgres")
    try:
        cluster.must(
            "initdb", "-D", str(cluster.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-locale", "--no-sync",
        )  # fmt: skip
        port = cluster.start()
        try:
            server = ("-h", "127.0.0.1", "-p", str(port), "-U", "postgres")
            cluster.must("createdb", *server, _DATABASE)
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{_DATABASE}"
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
