"""What a tracker remembers of the jobs it saw: old news is answered without a read, and nothing
it remembers hides news — from another tracker, a sweep's replacement or a lost save."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from attrs import evolve
from hypothesis import given, settings
from hypothesis import strategies as st

from overlord.adapters.memory.clock import FixedClock
from overlord.container import Container
from overlord.domain.job_events import AttemptReport, JobStateChange
from overlord.domain.jobs import STUCK, Job, JobStatus
from overlord.domain.names import ConnectorName, Namespace, TenantName
from overlord.ports.document_store import DocumentStore
from overlord.services.follow_ups import FollowUps
from overlord.services.job_repository import JobRepository
from overlord.services.tracking import TrackingService
from overlord.testing import batch_event_sequence, provisioned_memory_container

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _job() -> Job:
    acme, weather = TenantName("acme"), ConnectorName("weather")
    job = Job.request(tenant=acme, connector=weather, job_type="ingest", payload={}, at=T0)
    job.mark_submitted("b", at=T0)
    return job


def _thin(report: AttemptReport) -> AttemptReport:
    """A report that knows less, as a `describe` answer may."""
    return evolve(report, stopped_at=None, log_stream=None)


def _act(job: Job, act: str | JobStateChange) -> None:
    """What a tracker, a user or a sweep may do to a stored job."""
    if isinstance(act, JobStateChange):
        job.track(act)
    elif act == "cancel" and not job.finished:
        job.cancel("cancelled", at=T0)
    elif act == "fail":
        job.fail("lost", at=T0)
    elif act == "note stuck":
        job.note_stuck("waiting", seen=job.status)
    elif act == "replace" and job.backend_job_id == "b" and job.status in STUCK:
        number = job.begin_replacement("b", seen=job.status)
        job.switch_to_replacement(number, "fresh", stuck="b", seen=job.status, reason="r", at=T0)


@settings(max_examples=100, deadline=None)
@given(attempts=st.integers(1, 3), succeeded=st.booleans(), data=st.data())
def test_a_change_is_news_exactly_when_tracking_it_changes_the_job_and_stays_old_news(
    attempts: int, succeeded: bool, data: st.DataObject
) -> None:
    events = batch_event_sequence("acme", "x" * 32, "b", attempts, succeeded=succeeded)
    events += [evolve(e, attempts=tuple(map(_thin, e.attempts))) for e in events]  # as described
    events += [evolve(e, backend_job_id="fresh") for e in events]
    acts = st.one_of(st.sampled_from(events), st.sampled_from(["cancel", "fail", "note stuck"]))
    stream = data.draw(st.lists(acts | st.just("replace"), max_size=len(events)))
    job, states = _job(), []
    for act in stream:
        states.append(job.copy())
        _act(job, act)
    states.append(job)

    for at, state in enumerate(states):
        for event in events:
            assert state.is_news(event) == state.copy().track(event)
            if state.follows(event.backend_job_id) and not state.is_news(event):
                # old news from the backend job it follows is old news to every later state
                assert not any(later.is_news(event) for later in states[at:])
            if not state.may_end_attempt(event):
                tracked = state.copy()
                tracked.track(event)
                assert tracked.logs_due() == state.logs_due()


class CountingStore:
    """The container's document store, counting the job reads that reach it."""

    def __init__(self, inner: DocumentStore) -> None:
        self._inner = inner
        self.job_reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get(self, database: str, collection: str, document_id: str) -> Any:
        self.job_reads += collection == "jobs"
        return self._inner.get(database, collection, document_id)


def _tracker(container: Container, store: DocumentStore | None = None) -> TrackingService:
    """A tracker of its own, as another process would have, over ``store``."""
    documents, namespace = store or container.document_store(), Namespace("overlord")
    records = JobRepository(documents=documents, namespace=namespace)
    follow_ups = FollowUps(
        jobs=records, documents=documents, scheduler=container.scheduler(), namespace=namespace
    )
    return TrackingService(jobs=records, runner=container.job_runner(), follow_ups=follow_ups)


def _submitted(container: Container, attempts: int) -> tuple[str, list[JobStateChange]]:
    job = container.jobs().submit("acme", "weather", "ingest", {}).job
    assert job.backend_job_id is not None
    for attempt in range(1, attempts + 1):
        container.job_runner().write_log(job.backend_job_id, attempt, f"attempt {attempt}")
    return job.id.value, batch_event_sequence("acme", job.id.value, job.backend_job_id, attempts)


def _recorded(container: Container, job_id: str) -> tuple[Any, ...]:
    job = container.job_records().load("acme", job_id)
    assert job is not None
    return evolve(job, version=0), container.job_records().logs("acme", job_id)


def test_events_a_tracker_already_applied_are_answered_without_reading_the_job() -> None:
    container = provisioned_memory_container("acme", "weather", clock=FixedClock(T0))
    job_id, events = _submitted(container, 2)
    store = CountingStore(container.document_store())
    tracking = _tracker(container, cast("DocumentStore", store))
    tracking.apply_all(events)
    recorded, reads = _recorded(container, job_id), store.job_reads

    assert tracking.apply_all(reversed(events)) == len(events)

    assert store.job_reads == reads
    assert _recorded(container, job_id) == recorded


@settings(max_examples=60, deadline=None)
@given(attempts=st.integers(1, 3), data=st.data())
def test_two_trackers_sharing_a_stream_in_any_order_record_what_one_would_in_order(
    attempts: int, data: st.DataObject
) -> None:
    container = provisioned_memory_container("acme", "weather", clock=FixedClock(T0))
    job_id, events = _submitted(container, attempts)
    stream = data.draw(st.permutations([*events, *events]))
    which = data.draw(st.lists(st.booleans(), min_size=len(stream), max_size=len(stream)))
    first, second = _tracker(container), _tracker(container)
    alone = provisioned_memory_container("acme", "weather", clock=FixedClock(T0))
    alone_id, alone_events = _submitted(alone, attempts)
    alone.tracking().apply_all(alone_events)

    for event, by_first in zip(stream, which, strict=True):
        assert (first if by_first else second).apply(event) is not None

    assert job_id == alone_id
    assert _recorded(container, job_id) == _recorded(alone, alone_id)


def test_a_tracker_that_saw_a_job_before_a_sweep_replaced_its_backend_job_follows_the_new_one() -> (
    None
):
    container = provisioned_memory_container("acme", "weather", clock=FixedClock(T0))
    job_id, events = _submitted(container, 1)
    tracking = _tracker(container)
    runnable = next(e for e in events if e.status is JobStatus.RUNNABLE)
    seen = tracking.apply(runnable)
    assert seen is not None
    assert seen.backend_job_id is not None
    stuck = seen.backend_job_id

    def replace(job: Job) -> bool:  # what a sweep in another process does
        number = job.begin_replacement(stuck, seen=JobStatus.RUNNABLE)
        job.switch_to_replacement(
            number, "fresh", stuck=stuck, seen=JobStatus.RUNNABLE, reason="stuck", at=T0
        )
        return True

    container.job_records().modify("acme", job_id, replace)
    replaced = _recorded(container, job_id)
    fresh = [evolve(e, backend_job_id="fresh") for e in events]

    tracking.apply(runnable)  # old news from the stuck job: nothing to write, whoever it follows
    assert tracking.apply(events[-1]) is None  # news from the stuck job: not the record's
    assert _recorded(container, job_id) == replaced
    assert tracking.apply(fresh[-1]) is not None
    job = container.job_records().load("acme", job_id)
    assert job is not None
    assert (job.backend_job_id, job.status, job.attempt) == ("fresh", JobStatus.SUCCEEDED, 2)
    assert [run.status for run in job.runs] == [JobStatus.FAILED, JobStatus.SUCCEEDED]
