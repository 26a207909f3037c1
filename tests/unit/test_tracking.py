"""Tracking: any order and any duplication of a valid event sequence gives the same record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from overlord.adapters.memory.clock import FixedClock
from overlord.container import Container
from overlord.domain.job_events import AttemptReport, JobStateChange
from overlord.domain.jobs import JobStatus
from overlord.testing import provisioned_memory_container

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
STEPS = (JobStatus.RUNNABLE, JobStatus.STARTING, JobStatus.RUNNING)


def valid_sequence(
    job_id: str, backend_id: str, attempts: int, succeeded: bool
) -> list[JobStateChange]:
    """What Batch sends for a job whose earlier attempts fail and whose last one ends it."""
    events: list[JobStateChange] = []
    finished: list[AttemptReport] = []
    clock = iter(T0 + timedelta(seconds=i) for i in range(1000))
    for attempt in range(1, attempts + 1):
        running = AttemptReport(attempt=attempt, log_stream=f"stream-{attempt}")
        for status in STEPS:
            at = next(clock)
            current = (running,) if status is JobStatus.RUNNING else ()
            events.append(_change(job_id, backend_id, status, attempt, at, (*finished, *current)))
        last = attempt == attempts
        finished.append(
            AttemptReport(
                attempt=attempt,
                started_at=T0 + timedelta(seconds=attempt),
                stopped_at=next(clock),
                exit_code=0 if (last and succeeded) else 1,
                status_reason="Essential container in task exited",
                log_stream=f"stream-{attempt}",
            )
        )
    final = JobStatus.SUCCEEDED if succeeded else JobStatus.FAILED
    events.append(_change(job_id, backend_id, final, attempts, next(clock), tuple(finished)))
    return events


def _change(
    job_id: str,
    backend_id: str,
    status: JobStatus,
    attempt: int,
    at: datetime,
    attempts: tuple[AttemptReport, ...],
) -> JobStateChange:
    return JobStateChange(
        tenant="acme",
        job_id=job_id,
        backend_job_id=backend_id,
        job_name=f"overlord-{job_id}",
        status=status,
        attempt=attempt,
        at=at,
        status_reason=f"{status} at attempt {attempt}",
        attempts=attempts,
    )


def _recorded(container: Container, job_id: str) -> tuple[Any, ...]:
    documents = container.document_store()
    return (
        documents.get("overlord-acme", "jobs", job_id),
        documents.find("overlord-acme", "runs", {"job_id": job_id}),
        documents.find("overlord-acme", "logs", {"job_id": job_id}),
    )


def _track(order: list[JobStateChange], attempts: int) -> tuple[Any, ...]:
    container = provisioned_memory_container("acme", "weather", clock=FixedClock(T0))
    job = container.jobs().submit("acme", "weather", "ingest", {}).job
    runner = container.job_runner()
    assert job.backend_job_id is not None
    for attempt in range(1, attempts + 1):
        runner.write_log(job.backend_job_id, attempt, f"attempt {attempt} says hello")
    events = [
        _change(job.id.value, job.backend_job_id, e.status, e.attempt, e.at, e.attempts)
        for e in order
    ]
    container.tracking().apply_all(events)
    return _recorded(container, job.id.value)


@settings(max_examples=60, deadline=None)
@given(
    attempts=st.integers(1, 3),
    succeeded=st.booleans(),
    data=st.data(),
)
def test_any_order_and_duplication_of_events_gives_the_same_job_runs_and_logs(
    attempts: int, succeeded: bool, data: st.DataObject
) -> None:
    events = valid_sequence("x" * 32, "b", attempts, succeeded)
    shuffled = data.draw(st.permutations(events))
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=6))

    in_order = _track(events, attempts)
    chaotic = _track([*shuffled, *duplicates], attempts)

    assert chaotic == in_order
    job, runs, logs = chaotic
    assert job["status"] == ("SUCCEEDED" if succeeded else "FAILED")
    assert [r["attempt"] for r in runs] == list(range(1, attempts + 1))
    assert len(logs) == attempts


def test_a_late_running_event_never_reopens_a_finished_job() -> None:
    container = provisioned_memory_container("acme", "weather")
    job = container.jobs().submit("acme", "weather", "ingest", {}).job
    assert job.backend_job_id is not None
    events = valid_sequence(job.id.value, job.backend_job_id, 1, True)

    container.tracking().apply(events[-1])
    container.tracking().apply(events[2])

    assert container.jobs().get("acme", job.id.value).status is JobStatus.SUCCEEDED


def test_events_for_unknown_jobs_are_ignored() -> None:
    container = provisioned_memory_container("acme", "weather")
    event = valid_sequence("f" * 32, "b", 1, True)[0]

    assert container.tracking().apply(event) is None
