"""Drive the real ``overlord`` CLI, in process (fast) or as a subprocess (as users run it).

Every test gets its own ``OVERLORD_HOME`` under ``tmp_path``: in process it is passed with
``--home``, to a subprocess through the child's own environment. The process environment is
never changed; the OVERLORD_* variables a developer may have set are hidden with monkeypatch
(restored after each test) and the working directory moves to ``tmp_path`` so that a stray
``overlord.toml`` cannot leak into a test.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import sqlite3
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from attrs import frozen

from overlord.container import Container
from overlord.entrypoints.cli.app import main
from overlord.settings import Settings


@frozen
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return self.stderr.splitlines()


def run_in_process(*args: str) -> Outcome:
    """``overlord ARGS`` through `main`, as the console script calls it."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return Outcome(code, out.getvalue(), err.getvalue())


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a child process: ours without OVERLORD_*, plus ``OVERLORD_HOME``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERLORD_")}
    env.update(OVERLORD_HOME=str(home), **extra)
    return env


def run_subprocess(home: Path, *args: str, stdin: str | None = None, **env: str) -> Outcome:
    """``overlord ARGS`` in a child process on ``home``, fed ``stdin`` (else no input)."""
    done = subprocess.run(
        [sys.executable, "-m", "overlord.entrypoints.cli", *args],
        env=child_env(home, **env),
        cwd=home.parent,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a digest of its content: equal trees mean
    that nothing was created, changed or removed."""
    if not root.exists():
        return {}
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.name.endswith((".sqlite3-wal", ".sqlite3-shm")):
            continue  # read through the database below
        key = path.relative_to(root).as_posix()
        if path.is_dir():
            found[key] = "dir"
        elif path.name.endswith(".sqlite3"):
            found[key] = _database_digest(path)
        else:
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _database_digest(path: Path) -> str:
    """A digest of a SQLite database's content (schema and rows, WAL included), not its bytes:
    open connections checkpoint the WAL into the file whenever SQLite decides, which moves
    bytes between the two files without changing a single row."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(connection.iterdump()).encode()).hexdigest()
    finally:
        connection.close()


Cli = Callable[..., Outcome]


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("OVERLORD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cli(home: Path) -> Cli:
    """``cli("tenants", "list")`` runs ``overlord --home HOME --profile local tenants list``."""

    def run(*args: str, profile: str = "local", output: str = "table") -> Outcome:
        return run_in_process("--home", str(home), "--profile", profile, "-o", output, *args)

    return run


@pytest.fixture
def container(home: Path) -> Iterator[Container]:
    """The container a CLI invocation on ``home`` builds, to look at the ports directly."""
    built = Container.from_settings(Settings(profile="local", home=home))
    yield built
    built.shutdown_resources()


@pytest.fixture
def aws_account(aws_endpoint: str) -> dict[str, str]:
    """The OVERLORD_* settings of an aws deployment in its own namespace, scheduler included."""
    from tests.integration.aws_network import make_batch_network, make_scheduler_target

    network, target = make_batch_network(), make_scheduler_target()
    return {
        "OVERLORD_PROFILE": "aws",
        "OVERLORD_DOCUMENT_STORE": "dynamodb",
        "OVERLORD_NAMESPACE": f"t{random.getrandbits(32):08x}",
        "OVERLORD_BATCH_SUBNETS": ",".join(network.subnets),
        "OVERLORD_BATCH_SECURITY_GROUPS": ",".join(network.security_groups),
        "OVERLORD_BATCH_SERVICE_ROLE_ARN": network.service_role_arn or "",
        "OVERLORD_BATCH_EXECUTION_ROLE_ARN": network.execution_role_arn or "",
        "OVERLORD_BATCH_JOB_ROLE_ARN": network.job_role_arn or "",
        "OVERLORD_SCHEDULER_TARGET_ARN": target.target_arn,
        "OVERLORD_SCHEDULER_ROLE_ARN": target.role_arn,
    }


@pytest.fixture
def lambda_zip(tmp_path: Path) -> Path:
    """A Lambda package for ``overlord deploy --package``: moto creates functions from it
    without running them, so its content only has to be a zip."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("overlord_placeholder.py", "")
    path = tmp_path / "overlord-lambda.zip"
    path.write_bytes(data.getvalue())
    return path


@pytest.fixture
def stack_namespace(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A namespace of the test's own (``OVERLORD_NAMESPACE``), so a platform stack's global
    names (its bucket, its roles) are its own on the shared moto server."""
    name = f"t{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OVERLORD_NAMESPACE", name)
    return name
