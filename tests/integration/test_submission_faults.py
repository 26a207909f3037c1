"""Submitting once under faults, on the local profile: SQLite records, subprocess jobs.

Identical requests racing in threads and in separate processes must make one record and one
backend job. A backend that throttles or fails leaves the job SUBMIT_FAILED with its reason; one
whose answer was lost leaves it REQUESTED with the reason, neither failed nor resent. A
process that dies between recording a job and submitting it (or between submitting and
recording that it did) leaves a REQUESTED record that ``overlord jobs reconcile`` repairs,
resubmitting or matching the backend job found by name. Faults come from a runner wrapper put
in place with a container provider override.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from overlord.container import Container
from overlord.domain.errors import BackendError, OutcomeUnknown, Throttled
from overlord.domain.job_events import JobStateChange, LogLine, SubmitRequest
from overlord.domain.jobs import Job, JobStatus
from overlord.entrypoints.cli.app import main
from overlord.ports.job_runner import JobRunner
from overlord.services.maintenance import RepairAction
from overlord.settings import Settings

PAYLOAD = {"stations": ["KSEA"]}
THREADS = 12
PROCESSES = 4
LOST = 3  # exit status of a process whose submission found the job already there
WAIT_SECONDS = 60.0


class Crash(BaseException):
    """The process dies here: no handler in the code under test catches it."""


Submit = Callable[[JobRunner, SubmitRequest], str]


class FaultyRunner:
    """The real runner, except that submitting goes through ``submit``, which may fail."""

    def __init__(self, inner: JobRunner, submit: Submit) -> None:
        self._inner = inner
        self._submit = submit
        self.inline_payload_bytes = inner.inline_payload_bytes
        self.calls = 0

    def submit(self, request: SubmitRequest) -> str:
        self.calls += 1
        return self._submit(self._inner, request)

    def describe(self, backend_job_ids: Sequence[str]) -> list[JobStateChange]:
        return self._inner.describe(backend_job_ids)

    def find(self, job_name: str) -> list[JobStateChange]:
        return self._inner.find(job_name)

    def cancel(self, backend_job_id: str, reason: str) -> None:
        self._inner.cancel(backend_job_id, reason)

    def logs(self, backend_job_id: str, attempt: int) -> list[LogLine]:
        return self._inner.logs(backend_job_id, attempt)


def refusing(error: BaseException) -> Submit:
    def submit(inner: JobRunner, request: SubmitRequest) -> str:
        raise error

    return submit


def crash_after_submitting(inner: JobRunner, request: SubmitRequest) -> str:
    inner.submit(request)
    raise Crash


def losing_the_answer(*, accepted: bool) -> Submit:
    """The backend's answer never comes back, after it accepted the job or before."""

    def submit(inner: JobRunner, request: SubmitRequest) -> str:
        if accepted:
            inner.submit(request)
        raise OutcomeUnknown(f"submitting {request.job_name}: the answer was lost")

    return submit


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI reads OVERLORD_* and ./overlord.toml: neither may leak in from the developer."""
    for name in list(os.environ):
        if name.startswith("OVERLORD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def local_container(home: Path) -> Container:
    return Container.from_settings(Settings(profile="local", home=home))


@pytest.fixture
def container(home: Path) -> Container:
    container = local_container(home)
    container.provisioning().apply("acme", "weather")
    return container


@pytest.fixture
def backend(container: Container) -> JobRunner:
    """The real local runner, kept before any test wraps it."""
    runner: JobRunner = container.job_runner()
    return runner


def faulty(home: Path, backend: JobRunner, submit: Submit) -> tuple[Container, FaultyRunner]:
    """A container, as one process builds it, whose runner submits through ``submit``.

    Services are singletons that keep the runner they were built with, so each fault gets a
    container of its own, as each process has, and the test reads results from another."""
    runner = FaultyRunner(backend, submit)
    container = local_container(home)
    container.job_runner.override(providers.Object(runner))
    return container, runner


def cli(home: Path, *args: str) -> Any:
    """``overlord ARGS`` in process on ``home``; its JSON output."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--home", str(home), "--profile", "local", "-o", "json", *args])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def settled(home: Path, job_id: str) -> Job:
    """The job once its backend has finished it, read as a new CLI process would."""
    jobs = local_container(home).jobs()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        jobs.refresh("acme", job_id)
        job = jobs.get("acme", job_id)
        if job.finished:
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} still {job.status} after {WAIT_SECONDS}s")
        time.sleep(0.05)


def backend_jobs(backend: JobRunner, job_id: str) -> list[JobStateChange]:
    return backend.find(f"overlord-{job_id}")


def test_identical_submissions_from_many_threads_make_one_record_and_one_backend_job(
    container: Container, backend: JobRunner, home: Path
) -> None:
    jobs = container.jobs()
    start = threading.Barrier(THREADS)
    created: list[bool] = []
    ids: set[str] = set()

    def submit() -> None:
        start.wait()
        result = jobs.submit("acme", "weather", "ingest", PAYLOAD)
        created.append(result.created)
        ids.add(result.job.id.value)

    threads = [threading.Thread(target=submit) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [job_id] = ids
    assert sorted(created) == [False] * (THREADS - 1) + [True]
    assert [job.id.value for job in jobs.list("acme")] == [job_id]
    assert len(backend_jobs(backend, job_id)) == 1
    assert settled(home, job_id).status is JobStatus.SUCCEEDED


def _submit_in_a_process(home: str, start: Barrier) -> None:
    jobs = local_container(Path(home)).jobs()
    start.wait()
    if not jobs.submit("acme", "weather", "ingest", PAYLOAD).created:
        raise SystemExit(LOST)


def test_identical_submissions_from_several_processes_make_one_record_and_one_backend_job(
    container: Container, backend: JobRunner, home: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES, timeout=120)
    processes = [
        context.Process(target=_submit_in_a_process, args=(str(home), start))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    exit_codes = [process.exitcode for process in processes]
    assert (exit_codes.count(0), exit_codes.count(LOST)) == (1, PROCESSES - 1), exit_codes
    [job] = container.jobs().list("acme")
    assert len(backend_jobs(backend, job.id.value)) == 1
    assert settled(home, job.id.value).status is JobStatus.SUCCEEDED


@pytest.mark.parametrize(
    "error",
    [Throttled("Rate exceeded"), BackendError("Service unavailable, try again later")],
    ids=["throttled", "failing"],
)
def test_a_backend_refusing_the_submit_leaves_the_job_submit_failed_with_its_reason(
    container: Container, backend: JobRunner, home: Path, error: BackendError
) -> None:
    refused, runner = faulty(home, backend, refusing(error))
    result = refused.jobs().submit("acme", "weather", "ingest", PAYLOAD)
    repeat = refused.jobs().submit("acme", "weather", "ingest", PAYLOAD)
    repairs = refused.maintenance().reconcile("acme", older_than_seconds=0)

    job_id = result.job.id.value
    assert (result.created, result.job.status) == (True, JobStatus.SUBMIT_FAILED)
    stored = container.jobs().get("acme", job_id)
    assert (stored.status, stored.status_reason) == (JobStatus.SUBMIT_FAILED, error.message)
    # The same request names the same, finished job: no second call to the backend, and
    # reconcile leaves a finished job alone.
    assert (repeat.created, repeat.job.status) == (False, JobStatus.SUBMIT_FAILED)
    assert runner.calls == 1
    assert repairs == []
    assert backend_jobs(backend, job_id) == []
    # Asking again on purpose takes an idempotency key, and makes a new job that runs.
    rerun = container.jobs().submit("acme", "weather", "ingest", PAYLOAD, idempotency_key="retry")
    assert rerun.created
    assert settled(home, rerun.job.id.value).status is JobStatus.SUCCEEDED


def test_a_crash_before_the_backend_saw_the_job_is_repaired_by_resubmitting(
    container: Container, backend: JobRunner, home: Path
) -> None:
    crashing, runner = faulty(home, backend, refusing(Crash()))
    with pytest.raises(Crash):
        crashing.jobs().submit("acme", "weather", "ingest", PAYLOAD)
    [job] = container.jobs().list("acme")
    assert (job.status, runner.calls) == (JobStatus.REQUESTED, 1)

    in_flight = cli(home, "jobs", "reconcile")
    [repair] = cli(home, "jobs", "reconcile", "--older-than", "0")

    assert in_flight == []  # a young REQUESTED job may still be submitting: left alone
    assert (repair["job_id"], repair["action"]) == (job.id.value, "resubmitted")
    [backend_job] = backend_jobs(backend, job.id.value)
    assert repair["detail"] == backend_job.backend_job_id
    assert settled(home, job.id.value).status is JobStatus.SUCCEEDED


def test_a_crash_after_the_backend_accepted_the_job_is_repaired_by_matching_it_by_name(
    container: Container, backend: JobRunner, home: Path
) -> None:
    crashing, _ = faulty(home, backend, crash_after_submitting)
    with pytest.raises(Crash):
        crashing.jobs().submit("acme", "weather", "ingest", PAYLOAD)
    [job] = container.jobs().list("acme")
    assert job.status is JobStatus.REQUESTED
    [accepted] = backend_jobs(backend, job.id.value)

    [repair] = cli(home, "jobs", "reconcile", "--older-than", "0")

    assert (repair["action"], repair["detail"]) == ("matched", accepted.backend_job_id)
    final = settled(home, job.id.value)
    assert (final.status, final.backend_job_id) == (JobStatus.SUCCEEDED, accepted.backend_job_id)
    assert len(backend_jobs(backend, job.id.value)) == 1  # matched, not submitted again


@pytest.mark.parametrize(
    ("accepted", "action"), [(True, "matched"), (False, "resubmitted")], ids=["taken", "not-taken"]
)
def test_a_lost_answer_leaves_the_job_requested_until_reconcile_settles_it_once(
    container: Container, backend: JobRunner, home: Path, accepted: bool, action: str
) -> None:
    unsure, runner = faulty(home, backend, losing_the_answer(accepted=accepted))
    result = unsure.jobs().submit("acme", "weather", "ingest", PAYLOAD)
    repeat = unsure.jobs().submit("acme", "weather", "ingest", PAYLOAD)
    job_id = result.job.id.value

    # Neither failed (the job may run) nor resent (it may run twice): left for reconcile.
    assert (result.created, result.job.status) == (True, JobStatus.REQUESTED)
    stored = container.jobs().get("acme", job_id)
    assert stored.status is JobStatus.REQUESTED
    assert stored.status_reason is not None
    assert "the answer was lost" in stored.status_reason
    assert "overlord jobs reconcile" in stored.status_reason
    assert (repeat.created, runner.calls) == (False, 1)
    assert len(backend_jobs(backend, job_id)) == (1 if accepted else 0)

    [repair] = cli(home, "jobs", "reconcile", "--older-than", "0")

    assert (repair["job_id"], repair["action"]) == (job_id, action)
    [backend_job] = backend_jobs(backend, job_id)
    assert repair["detail"] == backend_job.backend_job_id
    final = settled(home, job_id)
    assert (final.status, final.backend_job_id) == (
        JobStatus.SUCCEEDED,
        backend_job.backend_job_id,
    )


def test_a_throttled_repair_leaves_the_record_for_the_next_reconcile(
    container: Container, backend: JobRunner, home: Path
) -> None:
    crashing, _ = faulty(home, backend, refusing(Crash()))
    with pytest.raises(Crash):
        crashing.jobs().submit("acme", "weather", "ingest", PAYLOAD)
    repairing, _ = faulty(home, backend, refusing(Throttled("Rate exceeded")))
    [throttled] = repairing.maintenance().reconcile("acme", older_than_seconds=0)
    [job] = container.jobs().list("acme")

    assert (throttled.job_id, throttled.action, throttled.detail) == (
        job.id.value,
        RepairAction.DEFERRED,
        "Rate exceeded",
    )
    assert job.status is JobStatus.REQUESTED
    [repair] = cli(home, "jobs", "reconcile", "--older-than", "0")
    assert repair["action"] == "resubmitted"
    assert settled(home, job.id.value).status is JobStatus.SUCCEEDED
