"""Sweeping stuck jobs on the memory adapters: each policy, and replacing without losing a job.

The marketplace ``submit-feed`` job type is stuck after 900 s and is cancelled and resubmitted;
``check-feed-status`` is failed after 600 s. The memory backend keeps a job SUBMITTED until the
test moves it, which is exactly a backend that never starts a job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from dependency_injector import providers

from overlord.adapters.memory.clock import FixedClock
from overlord.adapters.memory.job_runner import MemoryJobRunner
from overlord.container import Container
from overlord.domain.errors import OutcomeUnknown, Throttled
from overlord.domain.job_events import JobStateChange, LogLine, SubmitRequest
from overlord.domain.jobs import Job, JobStatus
from overlord.services.maintenance import RepairAction

FEED = {"feed_id": "f-1", "items": [{"sku": "A-1", "price": 10}]}
PAST_STUCK = 901


class Crash(BaseException):
    """The sweeping process dies here."""


class Backend:
    """The memory runner, with hooks after each accepted submit and before each cancel, where
    a test makes the sweeping process die or another event arrive."""

    def __init__(self, inner: MemoryJobRunner) -> None:
        self.inner = inner
        self.inline_payload_bytes = inner.inline_payload_bytes
        self.after_submit: Callable[[str], None] = lambda backend_id: None
        self.before_cancel: Callable[[str], None] = lambda backend_id: None

    def submit(self, request: SubmitRequest) -> str:
        backend_id = self.inner.submit(request)
        self.after_submit(backend_id)
        return backend_id

    def describe(self, backend_job_ids: Sequence[str]) -> list[JobStateChange]:
        return self.inner.describe(backend_job_ids)

    def find(self, job_name: str) -> list[JobStateChange]:
        return self.inner.find(job_name)

    def cancel(self, backend_job_id: str, reason: str) -> None:
        self.before_cancel(backend_job_id)
        self.inner.cancel(backend_job_id, reason)

    def logs(self, backend_job_id: str, attempt: int) -> list[LogLine]:
        return self.inner.logs(backend_job_id, attempt)


@pytest.fixture
def backend(container: Container) -> Backend:
    backend = Backend(container.job_runner())
    container.job_runner.override(providers.Object(backend))
    container.provisioning().apply("acme", "marketplace")
    return backend


def stuck_feed(container: Container, clock: FixedClock) -> tuple[Job, str]:
    """A submit-feed job past its stuck threshold, and its backend job id."""
    job = container.jobs().submit("acme", "marketplace", "submit-feed", FEED).job
    clock.advance(PAST_STUCK)
    assert job.backend_job_id is not None
    return job, job.backend_job_id


def sweep_dying(container: Container, backend: Backend, where: str) -> None:
    """A sweep whose process dies at the backend hook ``where`` (after_submit, before_cancel)."""

    def crash(backend_id: str) -> None:
        raise Crash

    setattr(backend, where, crash)
    try:
        with pytest.raises(Crash):
            container.maintenance().sweep("acme")
    finally:
        setattr(backend, where, lambda backend_id: None)


def status_of(backend: Backend, backend_id: str) -> JobStatus:
    [change] = backend.inner.describe([backend_id])
    return change.status


def names(backend: Backend) -> list[str]:
    return [request.job_name for request in backend.inner.submitted]


def stored(container: Container, job: Job) -> Any:
    return container.jobs().get("acme", job.id.value)


def test_a_young_job_is_left_alone(container: Container, backend: Backend) -> None:
    job = container.jobs().submit("acme", "marketplace", "submit-feed", FEED).job

    assert container.maintenance().sweep("acme") == []
    assert stored(container, job).status is JobStatus.SUBMITTED


def test_a_stuck_job_is_replaced_first_and_cancelled_after(
    container: Container, backend: Backend, clock: FixedClock
) -> None:
    job, old = stuck_feed(container, clock)

    [repair] = container.maintenance().sweep("acme")

    assert (repair.action, repair.job_id) == (RepairAction.REPLACED, job.id.value)
    new = repair.detail
    assert names(backend) == [f"overlord-{job.id}", f"overlord-{job.id}-r1"]
    assert status_of(backend, old) is JobStatus.CANCELLED
    replaced = stored(container, job)
    assert (replaced.backend_job_id, replaced.status) == (new, JobStatus.SUBMITTED)
    assert replaced.status_reason.startswith("replaced after being stuck: SUBMITTED for 901s")

    backend.inner.advance(new, JobStatus.RUNNING)
    backend.inner.advance(new, JobStatus.SUCCEEDED)
    container.jobs().refresh("acme")
    finished = stored(container, job)

    # The cancelled job's end is not the record's: it follows its replacement.
    assert (finished.status, finished.backend_job_id) == (JobStatus.SUCCEEDED, new)


def test_a_refused_replacement_leaves_the_stuck_job_running_for_the_next_sweep(
    container: Container, backend: Backend, clock: FixedClock
) -> None:
    job, old = stuck_feed(container, clock)
    backend.inner.fail_next_submits(1, Throttled("Rate exceeded"))

    [deferred] = container.maintenance().sweep("acme")

    assert (deferred.action, deferred.detail) == (
        RepairAction.DEFERRED,
        "replacing it: Rate exceeded",
    )
    assert status_of(backend, old) is JobStatus.SUBMITTED  # not cancelled for nothing
    kept = stored(container, job)
    assert (kept.backend_job_id, kept.replacing) == (old, 1)  # a replacement may be under way

    [replaced] = container.maintenance().sweep("acme")

    assert replaced.action is RepairAction.REPLACED
    assert status_of(backend, old) is JobStatus.CANCELLED
    assert names(backend) == [f"overlord-{job.id}", f"overlord-{job.id}-r1"]


def test_a_sweep_that_died_after_submitting_is_finished_by_the_next_without_a_second_job(
    container: Container, backend: Backend, clock: FixedClock
) -> None:
    job, old = stuck_feed(container, clock)

    sweep_dying(container, backend, "after_submit")
    assert stored(container, job).backend_job_id == old  # not recorded yet

    [repair] = container.maintenance().sweep("acme")

    assert repair.action is RepairAction.REPLACED
    assert names(backend) == [f"overlord-{job.id}", f"overlord-{job.id}-r1"]  # adopted
    [made] = backend.inner.find(f"overlord-{job.id}-r1")
    assert stored(container, job).backend_job_id == made.backend_job_id == repair.detail


def test_a_replacement_that_finished_before_the_next_sweep_is_adopted_not_run_again(
    container: Container, backend: Backend, clock: FixedClock
) -> None:
    job, old = stuck_feed(container, clock)
    sweep_dying(container, backend, "after_submit")
    [made] = backend.inner.find(f"overlord-{job.id}-r1")
    backend.inner.advance(made.backend_job_id, JobStatus.SUCCEEDED)

    [repair] = container.maintenance().sweep("acme")
    container.jobs().refresh("acme")

    assert (repair.action, repair.detail) == (RepairAction.REPLACED, made.backend_job_id)
    assert names(backend) == [f"overlord-{job.id}", f"overlord-{job.id}-r1"]
    assert status_of(backend, old) is JobStatus.CANCELLED
    assert stored(container, job).status is JobStatus.SUCCEEDED


def test_a_replacement_whose_submit_outcome_is_unknown_is_adopted_by_the_next_sweep(
    container: Container, backend: Backend, clock: FixedClock
) -> None:
    job, old = stuck_feed(container, clock)

    def answer_lost(backend_id: str) -> None:
        raise OutcomeUnknown("submitting: the answer was lost")

    backend.after_submit = answer_lost
    [deferred] = container.maintenance().sweep("acme")
    backend.after_submit = lambda backend_id: None
    [replaced] = container.maintenance().sweep("acme")

    assert deferred.action is RepairAction.DEFERRED
    [made] = backend.inner.find(f"overlord-{job.id}-r1")
    assert (replaced.action, replaced.detail) == (RepairAction.REPLACED, made.backend_job_id)
    assert names(backend) == [f"overlord-{job.id}", f"overlord-{job.id}-r1"]
    assert status_of(backend, old) is JobStatus.CANCELLED


def test_a_replacement_a_dying_sweep_left_for_a_job_that_then_started_is_stopped_by_reconcile(
    container: Container, backend: Backend, clock: FixedClock
) -> None:
    job, old = stuck_feed(container, clock)

    sweep_dying(container, backend, "after_submit")
    [orphan] = backend.inner.find(f"overlord-{job.id}-r1")
    backend.inner.advance(old, JobStatus.RUNNING)  # the stuck job starts after all

    assert container.maintenance().sweep("acme") == []  # running: not stuck
    repairs = container.maintenance().reconcile("acme", older_than_seconds=0)
    again = container.maintenance().reconcile("acme", older_than_seconds=0)

    assert [(r.action, r.detail) for r in repairs] == [
        (RepairAction.MOVED_ON, orphan.backend_job_id),
        (RepairAction.REFRESHED, "RUNNING"),
    ]
    assert [r.action for r in again] == [RepairAction.REFRESHED]  # settled once
    assert status_of(backend, orphan.backend_job_id) is JobStatus.CANCELLED
    kept = stored(container, job)
    assert (kept.status, kept.backend_job_id, kept.replacing) == (JobStatus.RUNNING, old, None)


def test_a_stuck_job_a_dying_sweep_left_queued_is_stopped_by_reconcile(
    container: Container, backend: Backend, clock: FixedClock
) -> None:
    job, old = stuck_feed(container, clock)

    sweep_dying(container, backend, "before_cancel")
    replaced = stored(container, job)
    assert replaced.superseded == (old,)
    assert status_of(backend, old) is JobStatus.SUBMITTED  # still queued: it could start

    [repair] = container.maintenance().reconcile("acme", older_than_seconds=0)

    assert (repair.action, repair.job_id) == (RepairAction.REFRESHED, job.id.value)
    assert status_of(backend, old) is JobStatus.CANCELLED
    settled = stored(container, job)
    assert settled.backend_job_id == replaced.backend_job_id != old
    assert settled.superseded == ()


def test_a_job_that_starts_while_being_replaced_keeps_running_and_its_replacement_is_cancelled(
    container: Container, backend: Backend, clock: FixedClock
) -> None:
    job, old = stuck_feed(container, clock)

    def old_one_starts(backend_id: str) -> None:
        backend.inner.advance(old, JobStatus.RUNNING)
        container.jobs().refresh("acme")  # its event arrives before the sweep records anything

    backend.after_submit = old_one_starts
    [repair] = container.maintenance().sweep("acme")

    assert repair.action is RepairAction.MOVED_ON
    assert status_of(backend, repair.detail) is JobStatus.CANCELLED
    assert status_of(backend, old) is JobStatus.RUNNING
    kept = stored(container, job)
    assert (kept.status, kept.backend_job_id) == (JobStatus.RUNNING, old)
    assert (kept.replacing, kept.replacements) == (None, 1)  # -r1 is spent


def test_a_job_type_that_fails_stuck_jobs_cancels_and_fails_it(
    container: Container, backend: Backend, clock: FixedClock
) -> None:
    job = container.jobs().submit("acme", "marketplace", "check-feed-status", {}).job
    clock.advance(601)

    [repair] = container.maintenance().sweep("acme")

    assert repair.action is RepairAction.FAILED
    assert job.backend_job_id is not None
    assert status_of(backend, job.backend_job_id) is JobStatus.CANCELLED
    failed = stored(container, job)
    assert failed.status is JobStatus.FAILED
    assert failed.status_reason.startswith("stuck: SUBMITTED for 601s")
    assert names(backend) == [f"overlord-{job.id}"]
