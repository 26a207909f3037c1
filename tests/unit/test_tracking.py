"""Tracking: any order and any duplication of a valid event sequence gives the same record, also
when an invocation dies between two of its writes and the event is delivered again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from attrs import evolve
from hypothesis import given, settings
from hypothesis import strategies as st

from overlord.adapters.memory.clock import FixedClock
from overlord.container import Container
from overlord.domain.job_events import JobStateChange
from overlord.domain.jobs import JobStatus
from overlord.domain.names import Namespace
from overlord.ports.document_store import DocumentStore
from overlord.services.follow_ups import FollowUps
from overlord.services.job_repository import JobRepository
from overlord.services.tracking import TrackingService
from overlord.testing import batch_event_sequence, provisioned_memory_container

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _recorded(container: Container, job_id: str) -> tuple[Any, ...]:
    """The job with its runs, and its stored lines; the version says only how many saves it
    took, which the order of events may change."""
    job = container.job_records().load("acme", job_id)
    assert job is not None
    return (evolve(job, version=0), container.job_records().logs("acme", job_id))


class Crash(BaseException):
    """The Lambda invocation dies here; EventBridge delivers the event again."""


class CrashingStore:
    """The container's document store, dying once at its ``at``-th write: before the write
    lands, or just after it landed and before the caller hears of it."""

    def __init__(self, inner: DocumentStore, at: int, *, landed: bool) -> None:
        self._inner, self._at, self._landed = inner, at, landed
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _write(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.writes += 1
        dying = self.writes == self._at
        if dying and not self._landed:
            raise Crash
        result = getattr(self._inner, name)(*args, **kwargs)
        if dying:
            raise Crash
        return result

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        return self._write("insert", *args, **kwargs)

    def update(self, *args: Any, **kwargs: Any) -> Any:
        return self._write("update", *args, **kwargs)


def _track(
    order: list[JobStateChange], attempts: int, crash: tuple[int, bool] | None = None
) -> tuple[Any, ...]:
    """The records ``order`` leaves; with ``crash`` = (n, landed), the invocation dies at the
    n-th write (0: never) and its event is delivered again. The last item is the write count."""
    container = provisioned_memory_container("acme", "weather", clock=FixedClock(T0))
    job = container.jobs().submit("acme", "weather", "ingest", {}).job
    runner = container.job_runner()
    assert job.backend_job_id is not None
    for attempt in range(1, attempts + 1):
        runner.write_log(job.backend_job_id, attempt, f"attempt {attempt} says hello")
    job_id, backend_id = job.id.value, job.backend_job_id
    events = [
        evolve(e, job_id=job_id, backend_job_id=backend_id, job_name=f"overlord-{job_id}")
        for e in order
    ]
    if crash is None:
        container.tracking().apply_all(events)
        return _recorded(container, job.id.value)
    store = CrashingStore(container.document_store(), crash[0], landed=crash[1])
    documents, namespace = cast("DocumentStore", store), Namespace("overlord")
    records = JobRepository(documents=documents, namespace=namespace)
    follow_ups = FollowUps(
        jobs=records, documents=documents, scheduler=container.scheduler(), namespace=namespace
    )
    tracking = TrackingService(jobs=records, runner=runner, follow_ups=follow_ups)
    for event in events:
        try:
            tracking.apply(event)
        except Crash:
            tracking.apply(event)  # redelivered
    return (*_recorded(container, job.id.value), store.writes)


@settings(max_examples=60, deadline=None)
@given(
    attempts=st.integers(1, 3),
    succeeded=st.booleans(),
    data=st.data(),
)
def test_any_order_and_duplication_of_events_gives_the_same_job_runs_and_logs(
    attempts: int, succeeded: bool, data: st.DataObject
) -> None:
    events = batch_event_sequence("acme", "x" * 32, "b", attempts, succeeded=succeeded)
    shuffled = data.draw(st.permutations(events))
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=6))

    in_order = _track(events, attempts)
    chaotic = _track([*shuffled, *duplicates], attempts)

    assert chaotic == in_order
    job, logs = chaotic
    assert job.status is (JobStatus.SUCCEEDED if succeeded else JobStatus.FAILED)
    assert [(r.attempt, r.logs_stored) for r in job.runs] == [
        (n, True) for n in range(1, attempts + 1)
    ]
    assert [line.attempt for line in logs] == list(range(1, attempts + 1))


@settings(max_examples=60, deadline=None)
@given(attempts=st.integers(1, 3), landed=st.booleans(), data=st.data())
def test_an_invocation_dying_between_any_two_writes_loses_nothing_once_redelivered(
    attempts: int, landed: bool, data: st.DataObject
) -> None:
    events = batch_event_sequence("acme", "x" * 32, "b", attempts)
    shuffled = data.draw(st.permutations(events))
    *clean, writes = _track(shuffled, attempts, crash=(0, landed))
    crash_at = data.draw(st.integers(1, writes), label="dies at write")

    *crashed, _ = _track(shuffled, attempts, crash=(crash_at, landed))

    assert crashed == clean == list(_track(events, attempts))


def test_a_late_running_event_never_reopens_a_finished_job() -> None:
    container = provisioned_memory_container("acme", "weather")
    job = container.jobs().submit("acme", "weather", "ingest", {}).job
    assert job.backend_job_id is not None
    events = batch_event_sequence("acme", job.id.value, job.backend_job_id, 1)
    [running] = [e for e in events if e.status is JobStatus.RUNNING]

    container.tracking().apply(events[-1])
    container.tracking().apply(running)

    assert container.jobs().get("acme", job.id.value).status is JobStatus.SUCCEEDED


def test_events_for_unknown_jobs_are_ignored() -> None:
    container = provisioned_memory_container("acme", "weather")
    event = batch_event_sequence("acme", "f" * 32, "b", 1)[0]

    assert container.tracking().apply(event) is None


def test_lines_stored_before_a_crash_are_shown_once_until_the_event_comes_again() -> None:
    container = provisioned_memory_container("acme", "weather", clock=FixedClock(T0))
    job = container.jobs().submit("acme", "weather", "ingest", {}).job
    runner = container.job_runner()
    assert job.backend_job_id is not None
    runner.write_log(job.backend_job_id, 1, "fetching KSEA")
    events = batch_event_sequence("acme", job.id.value, job.backend_job_id, 1)
    [running] = [e for e in events if e.status is JobStatus.RUNNING]
    container.tracking().apply(running)
    store = CrashingStore(container.document_store(), 1, landed=True)
    documents = cast("DocumentStore", store)
    records = JobRepository(documents=documents, namespace=Namespace("overlord"))
    follow_ups = FollowUps(
        jobs=records,
        documents=documents,
        scheduler=container.scheduler(),
        namespace=Namespace("overlord"),
    )
    tracking = TrackingService(jobs=records, runner=runner, follow_ups=follow_ups)

    with pytest.raises(Crash):
        tracking.apply(events[-1])  # the page landed; the save marking it stored did not

    assert [e.message for e in container.jobs().logs("acme", job.id.value)] == ["fetching KSEA"]
    tracking.apply(events[-1])
    assert [e.message for e in container.jobs().logs("acme", job.id.value)] == ["fetching KSEA"]
    assert container.jobs().get("acme", job.id.value).runs[0].logs_stored
