"""The job SDK in real processes: what importing it costs, and how the local runner and its
supervisor understand what a job tells them (its profile, its attempt, "not done yet")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from overlord.adapters.local.job_runner import LocalJobRunner
from overlord.adapters.local.object_store import LocalObjectStore
from overlord.adapters.system import SystemClock
from overlord.domain.infrastructure import BucketSpec
from overlord.domain.job_events import JobStateChange, SubmitRequest
from overlord.domain.jobs import JobStatus

WAIT_SECONDS = 30.0
MODULES = (
    "import sys; print(sorted({'boto3', 'botocore', 'dependency_injector'} & set(sys.modules)))"
)


def python(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def request(command: tuple[str, ...], *, attempts: int = 1, payload: str = "{}") -> SubmitRequest:
    job_id = uuid.uuid4().hex
    return SubmitRequest(
        job_id=job_id,
        job_name=f"it-{job_id}",
        queue="it-queue",
        definition="it-definition",
        command=command,
        environment=(("OVERLORD_PAYLOAD", payload), ("OVERLORD_TENANT", "acme")),
        timeout_seconds=60,
        attempts=attempts,
        tags=(("overlord:tenant", "acme"),),
    )


def finished(runner: LocalJobRunner, backend_id: str) -> JobStateChange:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        [change] = runner.describe([backend_id])
        if change.status.terminal:
            return change
        if time.monotonic() > deadline:
            pytest.fail(f"job {backend_id} still {change.status} after {WAIT_SECONDS}s")
        time.sleep(0.05)


def messages(runner: LocalJobRunner, backend_id: str, attempt: int) -> list[str]:
    """What the attempt printed on stdout."""
    return [line.message for line in runner.logs(backend_id, attempt) if line.stream == "stdout"]


def test_importing_the_sdk_loads_no_cloud_sdk_and_no_container() -> None:
    assert python(f"import overlord.job; {MODULES}") == "[]\n"


def test_a_local_job_reads_a_stored_payload_without_importing_boto3(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "home" / "objects")
    store.ensure_bucket(BucketSpec("overlord-acme-weather"))
    store.put_object("overlord-acme-weather", "jobs/j/payload.json", b'{"stations": ["KSEA"]}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERLORD_")}
    env.update(
        OVERLORD_PROFILE="local",
        OVERLORD_HOME=str(tmp_path / "home"),
        OVERLORD_PAYLOAD_REF="overlord-acme-weather/jobs/j/payload.json",
    )

    printed = python(f"from overlord import job; print(job.current().payload); {MODULES}", env)

    assert printed.splitlines() == ["{'stations': ['KSEA']}", "['dependency_injector']"]


def test_a_local_job_is_told_its_profile_over_what_it_inherits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERLORD_PROFILE", "aws")
    runner = LocalJobRunner(tmp_path / "home" / "jobs", SystemClock(), home=tmp_path / "home")
    script = "import os; print(os.environ['OVERLORD_PROFILE'], os.environ['OVERLORD_HOME'])"

    backend_id = runner.submit(request(("python", "-c", script)))

    assert finished(runner, backend_id).status is JobStatus.SUCCEEDED
    assert messages(runner, backend_id, 1) == [f"local {tmp_path / 'home'}"]


def test_each_attempt_knows_its_number(tmp_path: Path) -> None:
    runner = LocalJobRunner(tmp_path / "jobs", SystemClock())
    script = "from overlord import job; c = job.current(); c.progress(f'attempt {c.attempt}'); 1/0"

    backend_id = runner.submit(request(("python", "-c", script), attempts=2))

    assert finished(runner, backend_id).status is JobStatus.FAILED
    assert [messages(runner, backend_id, n) for n in (1, 2)] == [["attempt 1"], ["attempt 2"]]


def test_a_job_not_done_yet_fails_once_with_its_reason_and_is_not_retried(tmp_path: Path) -> None:
    runner = LocalJobRunner(tmp_path / "jobs", SystemClock())
    feed = json.dumps({"feed_id": "feed-0123456789abcdef0123", "processing": True})
    command = ("python", "-m", "overlord.samples.marketplace", "check-feed-status")

    backend_id = runner.submit(request(command, attempts=3, payload=feed))
    final = finished(runner, backend_id)

    reason = "not done yet: feed feed-0123456789abcdef0123 is still processing"
    assert (final.status, final.attempt, final.status_reason) == (JobStatus.FAILED, 1, reason)
    [attempt] = final.attempts
    assert (attempt.exit_code, attempt.status_reason) == (75, reason)
    assert messages(runner, backend_id, 1)[-1] == reason


def test_an_exit_75_without_the_sdk_is_not_done_yet_too(tmp_path: Path) -> None:
    runner = LocalJobRunner(tmp_path / "jobs", SystemClock())

    backend_id = runner.submit(request(("python", "-c", "raise SystemExit(75)"), attempts=2))
    final = finished(runner, backend_id)

    assert (final.status, final.attempt) == (JobStatus.FAILED, 1)
    assert final.status_reason == "not done yet (exit code 75)"
