"""The local runner with real subprocesses: exit codes, output, retries, timeouts, cancel, and
jobs that outlive the process that submitted them — what the JobRunner contract cannot ask of
a backend that does not run commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from overlord.adapters.local.job_runner import LocalJobRunner
from overlord.adapters.system import SystemClock
from overlord.domain.job_events import JobStateChange, SubmitRequest
from overlord.domain.jobs import JobStatus

WAIT_SECONDS = 30.0
SLEEPER = ("python", "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(60)")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "jobs"


@pytest.fixture
def runner(root: Path) -> LocalJobRunner:
    return LocalJobRunner(root, SystemClock())


def request(
    command: tuple[str, ...],
    payload: object = None,
    *,
    attempts: int = 1,
    timeout_seconds: int = 60,
) -> SubmitRequest:
    job_id = uuid.uuid4().hex
    environment = (
        (("OVERLORD_PAYLOAD", json.dumps(payload)), ("OVERLORD_TENANT", "acme"))
        if payload is not None
        else ()
    )
    return SubmitRequest(
        job_id=job_id,
        job_name=f"it-{job_id}",
        queue="it-queue",
        definition="it-definition",
        command=command,
        environment=environment,
        timeout_seconds=timeout_seconds,
        attempts=attempts,
        tags=(("overlord:tenant", "acme"),),
    )


def weather(payload: object, *, attempts: int = 1) -> SubmitRequest:
    return request(
        ("python", "-m", "overlord.samples.weather", "ingest"), payload, attempts=attempts
    )


def wait_for(
    runner: LocalJobRunner, backend_id: str, done: Callable[[JobStateChange], bool]
) -> JobStateChange:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        [change] = runner.describe([backend_id])
        if done(change):
            return change
        if time.monotonic() > deadline:
            pytest.fail(f"job {backend_id} still {change.status} after {WAIT_SECONDS}s")
        time.sleep(0.05)


def finished(runner: LocalJobRunner, backend_id: str) -> JobStateChange:
    return wait_for(runner, backend_id, lambda change: change.status.terminal)


def first_line(runner: LocalJobRunner, backend_id: str) -> str:
    """The first line the running attempt printed (the sleeper prints its pid)."""
    wait_for(runner, backend_id, lambda change: bool(runner.logs(backend_id, 1)))
    return runner.logs(backend_id, 1)[0].message


def gone(pid: int) -> bool:
    """No such process, or only its unreaped exit status (a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def assert_gone_soon(pid: int) -> None:
    deadline = time.monotonic() + 10
    while not gone(pid):
        assert time.monotonic() < deadline, f"process {pid} is still running"
        time.sleep(0.05)


def test_a_succeeding_sample_job_succeeds_with_its_output_in_the_logs(
    runner: LocalJobRunner,
) -> None:
    backend_id = runner.submit(weather({"stations": ["KSEA", "KJFK"]}))

    final = finished(runner, backend_id)

    assert (final.status, final.attempt) == (JobStatus.SUCCEEDED, 1)
    [attempt] = final.attempts
    assert attempt.exit_code == 0
    assert attempt.started_at is not None
    assert attempt.stopped_at is not None
    assert attempt.started_at <= attempt.stopped_at
    lines = runner.logs(backend_id, 1)
    assert {line.stream for line in lines} == {"stdout"}
    assert lines[0].message.startswith("tenant acme: ingesting 2 station(s)")
    observed = [json.loads(line.message)["station_id"] for line in lines[1:-1]]
    assert observed == ["KSEA", "KJFK"]


def test_a_failing_job_uses_every_attempt_then_fails(runner: LocalJobRunner) -> None:
    backend_id = runner.submit(weather({"fail": True}, attempts=2))

    final = finished(runner, backend_id)

    assert (final.status, final.attempt) == (JobStatus.FAILED, 2)
    assert [(a.attempt, a.exit_code) for a in final.attempts] == [(1, 1), (2, 1)]
    assert final.status_reason == "exited with code 1"
    for attempt in (1, 2):
        [line] = runner.logs(backend_id, attempt)
        assert line.stream == "stderr"
        assert "fail=true" in line.message


def test_bad_input_fails_the_job_with_the_reason_on_stderr(runner: LocalJobRunner) -> None:
    backend_id = runner.submit(weather({"stations": "KSEA"}))

    assert finished(runner, backend_id).status is JobStatus.FAILED
    assert "non-empty list" in runner.logs(backend_id, 1)[0].message


def test_an_attempt_over_its_timeout_is_killed_and_fails(runner: LocalJobRunner) -> None:
    started = time.monotonic()
    backend_id = runner.submit(
        request(("python", "-c", "import time; time.sleep(30)"), timeout_seconds=1)
    )

    final = finished(runner, backend_id)

    assert final.status is JobStatus.FAILED
    assert "timed out" in (final.status_reason or "")
    assert final.attempts[0].status_reason == "timed out after 1s"
    assert time.monotonic() - started < 15


def test_cancelling_a_running_job_kills_its_process(runner: LocalJobRunner) -> None:
    backend_id = runner.submit(request(SLEEPER))
    pid = int(first_line(runner, backend_id))

    runner.cancel(backend_id, "not needed")
    final = finished(runner, backend_id)

    assert (final.status, final.status_reason) == (JobStatus.CANCELLED, "not needed")
    assert final.attempts[0].stopped_at is not None
    assert_gone_soon(pid)


def test_a_job_outlives_the_process_that_submitted_it(root: Path) -> None:
    submitter = f"""
import sys
from pathlib import Path
from overlord.adapters.local.job_runner import LocalJobRunner
from overlord.adapters.system import SystemClock
from overlord.domain.job_events import SubmitRequest

request = SubmitRequest(job_id="{"d" * 32}", job_name="it-outlives", queue="q", definition="d",
    command=("python", "-c", "import time; time.sleep(2); print('still here', flush=True)"),
    environment=(), timeout_seconds=60, attempts=1, tags=(("overlord:tenant", "acme"),))
print(LocalJobRunner(Path({str(root)!r}), SystemClock()).submit(request))
"""
    done = subprocess.run(
        [sys.executable, "-c", submitter], capture_output=True, text=True, timeout=60, check=True
    )
    backend_id = done.stdout.strip()
    runner = LocalJobRunner(root, SystemClock())

    [meanwhile] = runner.describe([backend_id])
    final = finished(runner, backend_id)

    assert not meanwhile.status.terminal
    assert final.status is JobStatus.SUCCEEDED
    assert [line.message for line in runner.logs(backend_id, 1)] == ["still here"]
    assert [c.backend_job_id for c in runner.find("it-outlives")] == [backend_id]


def test_the_job_sees_the_submitters_environment_plus_its_own(
    runner: LocalJobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERLORD_IT_INHERITED", "from the submitter")
    script = "import os; print(os.environ['OVERLORD_IT_INHERITED'], os.environ['OVERLORD_TENANT'])"
    backend_id = runner.submit(request(("python", "-c", script), {}))

    assert finished(runner, backend_id).status is JobStatus.SUCCEEDED
    assert runner.logs(backend_id, 1)[0].message == "from the submitter acme"


def test_a_command_that_cannot_start_fails_its_attempts(runner: LocalJobRunner) -> None:
    backend_id = runner.submit(request((f"overlord-no-such-program-{uuid.uuid4().hex}",)))

    final = finished(runner, backend_id)

    assert final.status is JobStatus.FAILED
    assert "cannot start" in (final.status_reason or "")


def test_a_lost_supervisor_fails_the_job(runner: LocalJobRunner, root: Path) -> None:
    backend_id = runner.submit(request(SLEEPER))
    child = int(first_line(runner, backend_id))
    state = json.loads((root / backend_id / "state.json").read_text())
    try:
        os.kill(state["supervisor_pid"], signal.SIGKILL)

        final = wait_for(runner, backend_id, lambda change: change.status.terminal)
    finally:
        os.killpg(child, signal.SIGKILL)

    assert final.status is JobStatus.FAILED
    assert "supervisor" in (final.status_reason or "")


def test_malformed_ids_are_unknown_and_never_touch_other_paths(runner: LocalJobRunner) -> None:
    for bad in ("../..", "..", "", "not-an-id", "/etc/passwd"):
        assert runner.describe([bad]) == []
        assert runner.logs(bad, 1) == []
        runner.cancel(bad, "nope")


def test_a_stopped_supervisor_fails_the_job_and_takes_the_attempt_with_it(
    runner: LocalJobRunner, root: Path
) -> None:
    backend_id = runner.submit(request(SLEEPER))
    child = int(first_line(runner, backend_id))
    state = json.loads((root / backend_id / "state.json").read_text())

    os.kill(state["supervisor_pid"], signal.SIGTERM)
    final = finished(runner, backend_id)

    assert final.status is JobStatus.FAILED
    assert final.status_reason == "the local supervisor was stopped by SIGTERM"
    assert_gone_soon(child)


def test_output_is_stored_line_by_line_as_printed(runner: LocalJobRunner) -> None:
    script = (
        "import sys; print('caf\\u00e9 \\u2028 tab\\there'); "
        "sys.stderr.write('to stderr\\n'); sys.stdout.write('no newline at the end')"
    )
    backend_id = runner.submit(request(("python", "-c", script)))

    assert finished(runner, backend_id).status is JobStatus.SUCCEEDED
    lines = {(line.stream, line.message) for line in runner.logs(backend_id, 1)}
    assert lines == {
        ("stdout", "caf\u00e9 \u2028 tab\there"),
        ("stderr", "to stderr"),
        ("stdout", "no newline at the end"),
    }
