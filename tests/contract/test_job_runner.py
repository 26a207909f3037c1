"""The JobRunner contract: what every backend does, whether or not it really runs commands.

Add an adapter to ``FACTORIES`` to run it here. Backends differ in how a job makes progress: the
local runner runs the command, an AWS-API server moves jobs on by itself, and the memory runner
moves only when told. A backend whose jobs need a push registers a hook in ``DRIVERS``, which the
suite calls after submitting, so the tests themselves never reach into any adapter. Behaviour
that only a backend running real commands has (exit codes, retries, timeouts, output) is tested
in ``tests/integration/test_local_job_runner.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from attrs import evolve, frozen

from overlord.adapters.aws.job_runner import BatchJobRunner
from overlord.adapters.local.job_runner import LocalJobRunner
from overlord.adapters.memory.job_runner import MemoryJobRunner
from overlord.adapters.system import SystemClock
from overlord.domain.job_events import JobStateChange, SubmitRequest
from overlord.domain.jobs import JobStatus
from overlord.ports.job_runner import JobRunner

FACTORIES: dict[str, Callable[[pytest.FixtureRequest], JobRunner]] = {
    "memory": lambda request: MemoryJobRunner(SystemClock()),
    "local": lambda request: LocalJobRunner(
        request.getfixturevalue("tmp_path") / "jobs", SystemClock()
    ),
    # moto's Batch without Docker runs nothing: a submitted job is SUCCEEDED at once.
    "batch": lambda request: request.getfixturevalue("aws_endpoint") and BatchJobRunner(),
}

# The (queue, job definition) a backend's jobs go to; backends that need them real make them.
TARGETS: dict[str, Callable[[pytest.FixtureRequest], tuple[str, str]]] = {
    "batch": lambda request: request.getfixturevalue("batch_queue"),
}

Drive = Callable[[JobRunner, str], None]


def _memory_runs_to_success(runner: JobRunner, backend_job_id: str) -> None:
    """Play the part of a scheduler that starts the job and sees it succeed."""
    assert isinstance(runner, MemoryJobRunner)
    for change in runner.describe([backend_job_id]):
        if not change.status.terminal:
            runner.advance(backend_job_id, JobStatus.RUNNING, attempt=1)
            runner.advance(backend_job_id, JobStatus.SUCCEEDED, exit_code=0)


def _runs_by_itself(runner: JobRunner, backend_job_id: str) -> None:
    """The backend moves its jobs on without help."""


DRIVERS: dict[str, Drive] = {"memory": _memory_runs_to_success}

BACKEND_STATUSES = {
    JobStatus.SUBMITTED,
    JobStatus.PENDING,
    JobStatus.RUNNABLE,
    JobStatus.STARTING,
    JobStatus.RUNNING,
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
}
WAIT_SECONDS = 30.0


@frozen
class Backend:
    runner: JobRunner
    drive: Drive
    queue: str
    definition: str

    def request(self, tenant: str = "acme") -> SubmitRequest:
        """A request for the weather sample, unique to the test that makes it."""
        job_id = uuid.uuid4().hex
        return SubmitRequest(
            job_id=job_id,
            job_name=f"ct-{job_id}",
            queue=self.queue,
            definition=self.definition,
            command=("python", "-m", "overlord.samples.weather", "ingest"),
            environment=(("OVERLORD_PAYLOAD", '{"stations":["KSEA"]}'),),
            timeout_seconds=60,
            attempts=1,
            tags=(("overlord:job-id", job_id), ("overlord:tenant", tenant)),
        )

    def run_to_the_end(self, backend_job_id: str) -> JobStateChange:
        """Let the job progress, then poll until it is terminal (bounded by WAIT_SECONDS)."""
        self.drive(self.runner, backend_job_id)
        return wait_until_terminal(self.runner, backend_job_id)


@pytest.fixture(params=sorted(FACTORIES))
def backend(request: pytest.FixtureRequest) -> Backend:
    runner = FACTORIES[request.param](request)
    target = TARGETS.get(request.param, lambda _: ("ct-queue", "ct-definition"))(request)
    return Backend(runner, DRIVERS.get(request.param, _runs_by_itself), *target)


def wait_until_terminal(runner: JobRunner, backend_job_id: str) -> JobStateChange:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        [change] = runner.describe([backend_job_id])
        if change.status.terminal:
            return change
        if time.monotonic() > deadline:
            pytest.fail(f"job {backend_job_id} still {change.status} after {WAIT_SECONDS}s")
        time.sleep(0.05)


def test_a_submitted_job_is_described_with_the_names_of_its_request(backend: Backend) -> None:
    request = backend.request(tenant="globex")

    backend_id = backend.runner.submit(request)
    [change] = backend.runner.describe([backend_id])

    assert isinstance(backend_id, str)
    assert backend_id
    assert change.backend_job_id == backend_id
    assert (change.job_id, change.job_name, change.tenant) == (
        request.job_id,
        request.job_name,
        "globex",
    )
    assert change.status in BACKEND_STATUSES
    assert change.attempt >= 1


def test_every_submit_makes_a_new_backend_job(backend: Backend) -> None:
    request = backend.request()

    first, second = backend.runner.submit(request), backend.runner.submit(request)

    assert first != second
    assert {c.backend_job_id for c in backend.runner.describe([first, second])} == {first, second}


def test_unknown_ids_are_left_out_of_describe(backend: Backend) -> None:
    known = backend.runner.submit(backend.request())

    described = backend.runner.describe([str(uuid.uuid4()), known])

    assert [c.backend_job_id for c in described] == [known]
    assert backend.runner.describe([]) == []


def test_find_returns_the_backend_jobs_carrying_a_name(backend: Backend) -> None:
    request = backend.request()
    other = backend.runner.submit(backend.request())
    first, second = backend.runner.submit(request), backend.runner.submit(request)

    found = backend.runner.find(request.job_name)

    assert {c.backend_job_id for c in found} == {first, second}
    assert other not in {c.backend_job_id for c in found}
    assert all(c.job_id == request.job_id for c in found)
    assert backend.runner.find(f"ct-{uuid.uuid4().hex}") == []


def test_a_job_that_runs_ends_in_a_terminal_status(backend: Backend) -> None:
    request = backend.request()
    backend_id = backend.runner.submit(request)

    final = backend.run_to_the_end(backend_id)

    assert final.status is JobStatus.SUCCEEDED
    assert (final.job_id, final.tenant) == (request.job_id, "acme")
    assert final.attempt >= 1
    assert all(report.attempt >= 1 for report in final.attempts)


def test_cancelling_a_finished_job_is_not_an_error_and_changes_nothing(backend: Backend) -> None:
    backend_id = backend.runner.submit(backend.request())
    final = backend.run_to_the_end(backend_id)

    backend.runner.cancel(backend_id, "too late")

    [after] = backend.runner.describe([backend_id])
    assert (after.status, after.status_reason) == (final.status, final.status_reason)


def test_cancelling_an_unknown_job_is_not_an_error(backend: Backend) -> None:
    # The sweeper cancels jobs the backend may have lost.
    backend.runner.cancel(str(uuid.uuid4()), "lost")


def test_a_cancelled_job_ends(backend: Backend) -> None:
    backend_id = backend.runner.submit(backend.request())

    backend.runner.cancel(backend_id, "not needed")
    final = backend.run_to_the_end(backend_id)

    assert final.status.terminal


def test_logs_of_an_attempt_that_never_ran_are_empty(backend: Backend) -> None:
    backend_id = backend.runner.submit(backend.request())
    backend.run_to_the_end(backend_id)

    assert backend.runner.logs(backend_id, 99) == []
    assert backend.runner.logs(str(uuid.uuid4()), 1) == []


def test_log_lines_come_oldest_first(backend: Backend) -> None:
    backend_id = backend.runner.submit(backend.request())
    final = backend.run_to_the_end(backend_id)

    lines = backend.runner.logs(backend_id, final.attempt)

    assert [line.at for line in lines] == sorted(line.at for line in lines)
    assert all(line.stream in ("stdout", "stderr") for line in lines)


def test_a_payload_as_large_as_the_inline_limit_is_submitted_inline(backend: Backend) -> None:
    """What the runner says it takes inline, it takes: a payload of exactly that size is a
    job, under Batch's own request limit with the rest of the request."""
    limit = backend.runner.inline_payload_bytes
    assert 0 < limit <= 30 * 1024 - 2 * 1024
    request = backend.request()
    filler = "x" * (limit - len('{"stations":["KSEA"],"note":""}'))
    payload = '{"stations":["KSEA"],"note":"' + filler + '"}'
    request = evolve(request, environment=(("OVERLORD_PAYLOAD", payload),))

    backend_id = backend.runner.submit(request)

    assert len(payload.encode()) == limit
    assert [c.backend_job_id for c in backend.runner.describe([backend_id])] == [backend_id]
