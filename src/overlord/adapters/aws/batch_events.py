"""What AWS Batch says about a job, read into the backend-neutral `JobStateChange`.

Batch describes a job the same way in a ``DescribeJobs`` answer and in the ``detail`` of the
EventBridge "Batch Job State Change" event, so one reader serves the runner's pull side and the
Lambda's push side. The reader trusts nothing: an event arrives from outside, so anything that
is not a well-formed description of an Overlord job (tags ``overlord:tenant`` and
``overlord:job-id``, or the same values in the container's environment) is `InvalidInput`.

Attempt numbering follows Batch: ``attempts`` lists attempts that have started; a job that is
RUNNABLE again after a failed attempt is waiting for the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from overlord.domain.errors import InvalidInput, InvalidName
from overlord.domain.job_events import AttemptReport, JobStateChange
from overlord.domain.job_protocol import NOT_DONE_EXIT_CODE, not_done_reason
from overlord.domain.jobs import JobId, JobStatus
from overlord.domain.names import TenantName

TENANT_TAG = "overlord:tenant"
JOB_ID_TAG = "overlord:job-id"
EVENT_SOURCE = "aws.batch"
EVENT_DETAIL_TYPE = "Batch Job State Change"
BATCH_STATUSES = frozenset(
    {
        JobStatus.SUBMITTED,
        JobStatus.PENDING,
        JobStatus.RUNNABLE,
        JobStatus.STARTING,
        JobStatus.RUNNING,
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
    }
)
# Epoch milliseconds beyond year 9999 cannot be a Batch timestamp.
_MAX_MILLIS = 253_402_300_799_999


def job_state_change_from_event(event: object) -> JobStateChange:
    """The state change an EventBridge "Batch Job State Change" event reports.

    >>> event = {"source": "aws.batch", "detail-type": "Batch Job State Change",
    ...     "time": "2026-01-01T00:00:05Z", "detail": {"jobId": "b-1", "jobName": "overlord-x",
    ...     "status": "RUNNABLE", "createdAt": 1767225600000, "attempts": [],
    ...     "tags": {"overlord:tenant": "acme", "overlord:job-id": "0" * 32}}}
    >>> change = job_state_change_from_event(event)
    >>> change.tenant, change.status.value, change.attempt, change.at.isoformat()
    ('acme', 'RUNNABLE', 1, '2026-01-01T00:00:05+00:00')
    """
    if not isinstance(event, Mapping):
        raise InvalidInput("a Batch job state change event must be a JSON object")
    if event.get("source") != EVENT_SOURCE or event.get("detail-type") != EVENT_DETAIL_TYPE:
        raise InvalidInput(
            f"not a {EVENT_DETAIL_TYPE!r} event from {EVENT_SOURCE!r}: "
            f"source {_short(event.get('source'))}, detail-type {_short(event.get('detail-type'))}"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidInput("the event has no 'detail' object")
    at = _event_time(event.get("time"))
    return job_state_change_from_description(detail, at=at)


def job_state_change_from_description(
    job: Mapping[str, Any], *, at: datetime | None = None
) -> JobStateChange:
    """The state change a Batch job description (``DescribeJobs`` item or event detail) shows.

    ``at`` is when the state was observed (an event's time); without it, the latest time the
    description itself carries.
    """
    backend_job_id = _text(job, "jobId")
    job_name = _text(job, "jobName")
    status = _status(job.get("status"))
    tenant, job_id = _identity(job)
    attempts = _attempts(job.get("attempts", []))
    attempt = _current_attempt(status, attempts)
    latest = _latest_time(job, attempts)  # read even when unused: a malformed time is refused
    observed = latest if at is None else at
    if observed is None:
        raise InvalidInput(f"Batch job {backend_job_id!r} carries no time")
    reason = job.get("statusReason")
    if status is JobStatus.FAILED and attempts and attempts[-1].exit_code == NOT_DONE_EXIT_CODE:
        # Batch's reason says only that the container exited; the line saying why is in the logs.
        reason = not_done_reason([])
    return JobStateChange(
        tenant=tenant,
        job_id=job_id,
        backend_job_id=backend_job_id,
        job_name=job_name,
        status=status,
        attempt=attempt,
        at=observed,
        status_reason=reason if isinstance(reason, str) and reason else None,
        attempts=attempts,
    )


def log_stream_of(job: Mapping[str, Any], attempt: int) -> str | None:
    """The CloudWatch stream of one attempt, when Batch has named it."""
    attempts = job.get("attempts")
    if isinstance(attempts, list) and 1 <= attempt <= len(attempts):
        stream = _container(attempts[attempt - 1]).get("logStreamName")
        if isinstance(stream, str) and stream:
            return stream
    if attempt == _current_attempt_number(job):
        stream = _container(job).get("logStreamName")
        if isinstance(stream, str) and stream:
            return stream
    return None


def log_group_of(job: Mapping[str, Any], default: str) -> str:
    """The log group the job definition sends to (``awslogs-group``), else Batch's default."""
    options = _container(job).get("logConfiguration", {})
    if isinstance(options, Mapping):
        group = options.get("options", {})
        if isinstance(group, Mapping) and isinstance(group.get("awslogs-group"), str):
            return str(group["awslogs-group"])
    return default


def _short(value: object) -> str:
    return repr(value)[:60]


def _text(job: Mapping[str, Any], key: str) -> str:
    value = job.get(key)
    if not isinstance(value, str) or not value or len(value) > 256:
        raise InvalidInput(f"the Batch job has no valid {key!r}: {_short(value)}")
    return value


def _status(value: object) -> JobStatus:
    if isinstance(value, str):
        for status in BATCH_STATUSES:
            if status.value == value:
                return status
    raise InvalidInput(f"unknown Batch job status {_short(value)}")


def _identity(job: Mapping[str, Any]) -> tuple[str, str]:
    """Tenant and job id from the job's tags, else from the container's environment."""
    tags = job.get("tags")
    found = dict(tags) if isinstance(tags, Mapping) else {}
    environment = _container(job).get("environment", [])
    if isinstance(environment, list):
        names = {"OVERLORD_TENANT": TENANT_TAG, "OVERLORD_JOB_ID": JOB_ID_TAG}
        for item in environment:
            name = item.get("name") if isinstance(item, Mapping) else None
            if isinstance(name, str) and name in names:
                found.setdefault(names[name], item.get("value"))
    tenant, job_id = found.get(TENANT_TAG), found.get(JOB_ID_TAG)
    if not isinstance(tenant, str) or not isinstance(job_id, str):
        raise InvalidInput(f"the Batch job carries no {TENANT_TAG!r} and {JOB_ID_TAG!r} tags")
    try:
        return TenantName(tenant).value, JobId(job_id).value
    except InvalidName as exc:
        raise InvalidInput(f"the Batch job's tags are not an Overlord job's: {exc}") from exc


def _container(item: object) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        container = item.get("container")
        if isinstance(container, Mapping):
            return container
    return {}


def _millis(value: object, what: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_MILLIS:
        raise InvalidInput(f"{what} is not a time in epoch milliseconds: {_short(value)}")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _event_time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"the event's time is not text: {_short(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"the event's time is not ISO 8601: {_short(value)}") from exc
    if parsed.tzinfo is None:
        raise InvalidInput(f"the event's time has no timezone: {_short(value)}")
    return parsed.astimezone(UTC)


def _attempts(value: object) -> tuple[AttemptReport, ...]:
    if not isinstance(value, list):
        raise InvalidInput(f"the Batch job's attempts are not a list: {_short(value)}")
    reports = []
    for number, item in enumerate(value, start=1):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"attempt {number} of the Batch job is not an object")
        container = _container(item)
        exit_code = container.get("exitCode")
        reason = item.get("statusReason") or container.get("reason")
        stream = container.get("logStreamName")
        reports.append(
            AttemptReport(
                attempt=number,
                started_at=_millis(item.get("startedAt"), f"attempt {number} startedAt"),
                stopped_at=_millis(item.get("stoppedAt"), f"attempt {number} stoppedAt"),
                exit_code=exit_code
                if isinstance(exit_code, int) and not isinstance(exit_code, bool)
                else None,
                status_reason=reason if isinstance(reason, str) and reason else None,
                log_stream=stream if isinstance(stream, str) and stream else None,
            )
        )
    return tuple(reports)


def _current_attempt(status: JobStatus, attempts: tuple[AttemptReport, ...]) -> int:
    """The attempt ``status`` belongs to.

    Finished attempts are listed; one still running may or may not be (Batch lists it once it
    stops). A job that has not finished and whose last listed attempt has stopped is waiting
    for (or running) the next attempt.
    """
    if status.terminal:
        return max(len(attempts), 1)
    if attempts and attempts[-1].stopped_at is None:
        return len(attempts)
    return len(attempts) + 1


def _current_attempt_number(job: Mapping[str, Any]) -> int:
    try:
        return _current_attempt(_status(job.get("status")), _attempts(job.get("attempts", [])))
    except InvalidInput:
        return 0


def _latest_time(job: Mapping[str, Any], attempts: tuple[AttemptReport, ...]) -> datetime | None:
    times = [_millis(job.get(key), key) for key in ("createdAt", "startedAt", "stoppedAt")] + [
        t for report in attempts for t in (report.started_at, report.stopped_at)
    ]
    known = [t for t in times if t is not None]
    return max(known) if known else None
