"""What a compute backend says about a job, in the backend-neutral words tracking applies.

Batch's "Job State Change" events, a local supervisor's reports and `describe` answers all
become `JobStateChange`s, so one tracking service serves every backend.
"""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from overlord.domain.jobs import JobStatus


@frozen(kw_only=True)
class SubmitRequest:
    """Everything a backend needs to start a job; the name and tags carry the job id so that
    reconciliation can find a backend job whose record was never updated."""

    job_id: str
    job_name: str
    queue: str
    definition: str
    command: tuple[str, ...]
    environment: tuple[tuple[str, str], ...]
    timeout_seconds: int
    attempts: int
    tags: tuple[tuple[str, str], ...]
    share_identifier: str | None = None


@frozen(kw_only=True)
class AttemptReport:
    """One finished or running attempt as the backend describes it."""

    attempt: int
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    exit_code: int | None = None
    status_reason: str | None = None
    log_stream: str | None = None


@frozen(kw_only=True)
class JobStateChange:
    """A job's state at one moment, as reported by its backend.

    ``attempt`` is the 1-based attempt the status belongs to; ``attempts`` lists the attempts
    the backend has details for (finished ones, plus the running one when known), numbered as
    the backend job numbers them (`Job.track` numbers a replacement's after the job's own).
    """

    tenant: str
    job_id: str
    backend_job_id: str
    job_name: str
    status: JobStatus
    attempt: int
    at: datetime
    status_reason: str | None = None
    attempts: tuple[AttemptReport, ...] = ()


@frozen(kw_only=True)
class LogLine:
    at: datetime
    message: str
    stream: str = "stdout"
