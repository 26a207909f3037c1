"""Helpers for testing code built on Overlord: a wired container with nothing outside memory.

>>> container = provisioned_memory_container("acme", "weather")
>>> container.jobs().submit("acme", "weather", "ingest", {}).created
True
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from dependency_injector import providers

from overlord.container import Container
from overlord.domain.job_events import AttemptReport, JobStateChange
from overlord.domain.jobs import JobStatus
from overlord.ports.clock import Clock
from overlord.settings import Settings


def memory_container(settings: Settings | None = None, *, clock: Clock | None = None) -> Container:
    """A container on the memory profile: every port in process, nothing written to disk.

    Pass a ``clock`` (such as `FixedClock`) when two containers must record identical times.
    """
    container = Container.from_settings((settings or Settings()).replace(profile="memory"))
    if clock is not None:
        container.clock.override(providers.Object(clock))
    return container


def provisioned_memory_container(
    tenant: str, *connectors: str, clock: Clock | None = None
) -> Container:
    """A memory container with ``tenant`` provisioned for each of ``connectors``."""
    container = memory_container(clock=clock)
    for connector in connectors:
        container.provisioning().apply(tenant, connector)
    return container


_FIRST_ATTEMPT = (
    JobStatus.SUBMITTED,
    JobStatus.PENDING,
    JobStatus.RUNNABLE,
    JobStatus.STARTING,
    JobStatus.RUNNING,
)
_RETRY = (JobStatus.RUNNABLE, JobStatus.STARTING, JobStatus.RUNNING)


def batch_event_sequence(
    tenant: str,
    job_id: str,
    backend_id: str,
    attempts: int,
    *,
    succeeded: bool = True,
    start: datetime = datetime(2026, 3, 1, 12, tzinfo=UTC),
) -> list[JobStateChange]:
    """The state changes AWS Batch reports, in order, for a job whose earlier attempts fail and
    whose last one ends it: the valid sequence that tracking tests shuffle and duplicate.

    >>> [c.status.value for c in batch_event_sequence("acme", "a" * 32, "b", 2)][4:]
    ['RUNNING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED']
    """
    events: list[JobStateChange] = []
    finished: list[AttemptReport] = []
    clock = (start + timedelta(seconds=s) for s in range(1, 1000))

    def change(
        status: JobStatus, attempt: int, at: datetime, reports: tuple[AttemptReport, ...]
    ) -> JobStateChange:
        return JobStateChange(
            tenant=tenant,
            job_id=job_id,
            backend_job_id=backend_id,
            job_name=f"overlord-{job_id}",
            status=status,
            attempt=attempt,
            at=at,
            status_reason=f"{status} at attempt {attempt}",
            attempts=reports,
        )

    for attempt in range(1, attempts + 1):
        started = None
        for status in _FIRST_ATTEMPT if attempt == 1 else _RETRY:
            at = next(clock)
            running: tuple[AttemptReport, ...] = ()
            if status is JobStatus.RUNNING:
                started = at
                running = (AttemptReport(attempt=attempt, started_at=at, log_stream=f"s{attempt}"),)
            events.append(change(status, attempt, at, (*finished, *running)))
        last = attempt == attempts
        finished.append(
            AttemptReport(
                attempt=attempt,
                started_at=started,
                stopped_at=next(clock),
                exit_code=0 if (last and succeeded) else 1,
                status_reason="Essential container in task exited",
                log_stream=f"s{attempt}",
            )
        )
    final = JobStatus.SUCCEEDED if succeeded else JobStatus.FAILED
    events.append(change(final, attempts, next(clock), tuple(finished)))
    return events


def batch_state_change_event(
    detail: Mapping[str, Any], *, time: str = "2026-01-01T00:00:05Z", region: str = "us-east-1"
) -> dict[str, Any]:
    """The EventBridge "Batch Job State Change" envelope AWS wraps around a job description,
    as ``job_state_change_handler`` receives it.

    >>> batch_state_change_event({"jobId": "4c75"})["resources"]
    ['arn:aws:batch:us-east-1:123456789012:job/4c75']
    """
    return {
        "version": "0",
        "id": "c8f9c4b5-76e5-d76a-f980-7011e206042b",
        "detail-type": "Batch Job State Change",
        "source": "aws.batch",
        "account": "123456789012",
        "time": time,
        "region": region,
        "resources": [f"arn:aws:batch:{region}:123456789012:job/{detail.get('jobId')}"],
        "detail": dict(detail),
    }
