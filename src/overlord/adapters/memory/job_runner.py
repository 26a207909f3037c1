"""Backend jobs held in a dict, moved along by the test that owns them.

Service tests need a backend whose every state, attempt, log line and submit failure they can
choose, without waiting on processes or a network. Nothing here runs a command: a job stays
SUBMITTED until `advance` moves it, which is how tests and simulations play the part of AWS
Batch's own scheduler. The methods beyond the `JobRunner` port (`advance`, `write_log`,
`fail_next_submits`, `submitted`) are for tests and simulations only.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from attrs import define, evolve, field

from overlord.adapters.memory.clock import SequentialIdFactory
from overlord.domain.errors import BackendError, IllegalTransition, NotFound
from overlord.domain.job_events import AttemptReport, JobStateChange, LogLine, SubmitRequest
from overlord.domain.jobs import JobStatus
from overlord.ports.clock import Clock, IdFactory

TENANT_TAG = "overlord:tenant"


@define(kw_only=True)
class _BackendJob:
    backend_id: str
    request: SubmitRequest
    status: JobStatus
    attempt: int
    updated_at: datetime
    status_reason: str | None = None
    reports: dict[int, AttemptReport] = field(factory=dict)
    logs: dict[int, list[LogLine]] = field(factory=dict)


class MemoryJobRunner:
    """An in-process backend; thread-safe.

    >>> from datetime import UTC, datetime
    >>> from overlord.adapters.memory.clock import FixedClock
    >>> runner = MemoryJobRunner(FixedClock(datetime(2026, 1, 1, tzinfo=UTC)))
    >>> request = SubmitRequest(job_id="j" * 32, job_name="overlord-j", queue="q",
    ...     definition="d", command=("true",), environment=(), timeout_seconds=60, attempts=1,
    ...     tags=(("overlord:tenant", "acme"),))
    >>> backend_id = runner.submit(request)
    >>> runner.advance(backend_id, JobStatus.SUCCEEDED, exit_code=0)
    >>> [(c.tenant, c.status.value) for c in runner.describe([backend_id])]
    [('acme', 'SUCCEEDED')]
    """

    # As on AWS Batch, so that code tested here sends large payloads by reference there too.
    inline_payload_bytes = 24 * 1024

    def __init__(self, clock: Clock | None = None, ids: IdFactory | None = None) -> None:
        if clock is None:
            from overlord.adapters.system import SystemClock

            clock = SystemClock()
        self._clock = clock
        # Counting ids by default: two runners fed the same calls give the same backend ids, so
        # service tests can compare whole records across runs.
        self._ids = SequentialIdFactory() if ids is None else ids
        self._lock = threading.Lock()
        self._jobs: dict[str, _BackendJob] = {}
        self._submitted: list[SubmitRequest] = []
        self._failures: list[BackendError] = []

    # the JobRunner port

    def submit(self, request: SubmitRequest) -> str:
        with self._lock:
            if self._failures:
                raise self._failures.pop(0)
            backend_id = self._ids.new_id()
            self._jobs[backend_id] = _BackendJob(
                backend_id=backend_id,
                request=request,
                status=JobStatus.SUBMITTED,
                attempt=1,
                updated_at=self._clock.now(),
            )
            self._submitted.append(request)
            return backend_id

    def describe(self, backend_job_ids: Sequence[str]) -> list[JobStateChange]:
        with self._lock:
            known = [i for i in dict.fromkeys(backend_job_ids) if i in self._jobs]
            return [self._snapshot(i) for i in known]

    def find(self, job_name: str) -> list[JobStateChange]:
        with self._lock:
            return [
                self._snapshot(backend_id)
                for backend_id, job in self._jobs.items()
                if job.request.job_name == job_name
            ]

    def cancel(self, backend_job_id: str, reason: str) -> None:
        """CANCELLED with the reason; a finished or unknown job is left as it is."""
        with self._lock:
            job = self._jobs.get(backend_job_id)
            if job is None or job.status.terminal:
                return
            self._move(job, JobStatus.CANCELLED, job.attempt, exit_code=None, reason=reason)

    def logs(self, backend_job_id: str, attempt: int) -> list[LogLine]:
        with self._lock:
            job = self._jobs.get(backend_job_id)
            return [] if job is None else list(job.logs.get(attempt, []))

    # for tests and simulations

    @property
    def submitted(self) -> list[SubmitRequest]:
        """Every request the backend accepted, oldest first (refused ones are not here)."""
        with self._lock:
            return list(self._submitted)

    def fail_next_submits(self, count: int, error: BackendError) -> None:
        """Make the next ``count`` submits raise ``error`` (e.g. `Throttled`) and record nothing."""
        with self._lock:
            self._failures.extend([error] * count)

    def advance(
        self,
        backend_job_id: str,
        status: JobStatus,
        *,
        attempt: int | None = None,
        exit_code: int | None = None,
        reason: str | None = None,
    ) -> None:
        """Put a job in ``status`` for ``attempt`` (default: its current one), as a backend would.

        RUNNING starts the attempt; a terminal status stops it with ``exit_code`` (0 by default
        for SUCCEEDED); a higher attempt stops the one before. A finished job cannot move.
        """
        with self._lock:
            job = self._job(backend_job_id)
            if job.status.terminal:
                raise IllegalTransition(f"backend job {backend_job_id} already {job.status}")
            attempt = job.attempt if attempt is None else attempt
            if attempt < job.attempt:
                raise IllegalTransition(
                    f"backend job {backend_job_id} is at attempt {job.attempt}, not {attempt}"
                )
            if exit_code is None and status is JobStatus.SUCCEEDED:
                exit_code = 0
            self._move(job, status, attempt, exit_code=exit_code, reason=reason)

    def write_log(
        self, backend_job_id: str, attempt: int, message: str, *, stream: str = "stdout"
    ) -> None:
        """Append one line to an attempt's log, stamped with the clock."""
        with self._lock:
            job = self._job(backend_job_id)
            line = LogLine(at=self._clock.now(), message=message, stream=stream)
            job.logs.setdefault(attempt, []).append(line)

    # internals, called with the lock held

    def _job(self, backend_job_id: str) -> _BackendJob:
        job = self._jobs.get(backend_job_id)
        if job is None:
            raise NotFound(f"no backend job {backend_job_id!r}")
        return job

    def _move(
        self,
        job: _BackendJob,
        status: JobStatus,
        attempt: int,
        *,
        exit_code: int | None,
        reason: str | None,
    ) -> None:
        now = self._clock.now()
        for earlier in range(1, attempt):
            report = job.reports.get(earlier)
            if report is not None and report.stopped_at is None:
                job.reports[earlier] = evolve(report, stopped_at=now)
        report = job.reports.get(attempt)
        started = status is JobStatus.RUNNING or status.terminal
        if report is None and started:
            report = AttemptReport(
                attempt=attempt,
                started_at=now,
                log_stream=f"memory/{job.backend_id}/{attempt}",
            )
        if report is not None and status.terminal:
            report = evolve(report, stopped_at=now, exit_code=exit_code, status_reason=reason)
        if report is not None:
            job.reports[attempt] = report
        job.status, job.attempt, job.status_reason = status, attempt, reason
        job.updated_at = max(job.updated_at, now)

    def _snapshot(self, backend_job_id: str) -> JobStateChange:
        job = self._jobs[backend_job_id]
        request = job.request
        return JobStateChange(
            tenant=dict(request.tags).get(TENANT_TAG, ""),
            job_id=request.job_id,
            backend_job_id=backend_job_id,
            job_name=request.job_name,
            status=job.status,
            attempt=job.attempt,
            at=job.updated_at,
            status_reason=job.status_reason,
            attempts=tuple(job.reports[a] for a in sorted(job.reports)),
        )
