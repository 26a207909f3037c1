"""The marketplace feed-status poll: switched on by ``submit-feed``, off by a poll that succeeds,
and switched exactly as due though the scheduler fails or the process dies in between."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from dependency_injector import providers

from overlord.adapters.memory.job_runner import MemoryJobRunner
from overlord.container import Container
from overlord.domain.errors import Throttled
from overlord.domain.jobs import Job, JobStatus
from overlord.ports.scheduler import Scheduler
from overlord.services.repairs import RepairAction

FEED = {"items": [{"sku": "A-1", "price": 9.5, "quantity": 3}]}
GROUP, POLL = "overlord-acme", "marketplace-check-feed-status"


class FlakyScheduler:
    """The container's scheduler, whose next ``failures`` switches are throttled."""

    def __init__(self, inner: Scheduler) -> None:
        self._inner = inner
        self.failures = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def set_enabled(self, group: str, name: str, enabled: bool) -> None:
        if self.failures:
            self.failures -= 1
            raise Throttled("Rate exceeded")
        self._inner.set_enabled(group, name, enabled)


@pytest.fixture
def scheduler(container: Container) -> FlakyScheduler:
    flaky = FlakyScheduler(container.scheduler())
    container.scheduler.override(providers.Object(flaky))
    container.provisioning().apply("acme", "marketplace")
    return flaky


def polling(container: Container) -> bool:
    poll = container.scheduler().describe_schedule(GROUP, POLL)
    assert poll is not None
    return poll.enabled


def runner(container: Container) -> MemoryJobRunner:
    found: MemoryJobRunner = container.job_runner()
    return found


def finish(container: Container, job: Job, status: JobStatus) -> Job:
    assert job.backend_job_id is not None
    runner(container).advance(job.backend_job_id, JobStatus.RUNNING)
    runner(container).advance(
        job.backend_job_id, status, exit_code=0 if status.value == "SUCCEEDED" else 75
    )
    container.jobs().refresh("acme")
    return container.jobs().get("acme", job.id.value)


def test_a_submitted_feed_starts_the_poll_and_a_poll_that_succeeds_stops_it(
    container: Container, scheduler: FlakyScheduler
) -> None:
    feed = container.jobs().submit("acme", "marketplace", "submit-feed", FEED).job
    assert polling(container)
    finish(container, feed, JobStatus.SUCCEEDED)
    assert polling(container)  # the feed's own success says nothing about its processing

    not_yet = container.jobs().submit("acme", "marketplace", "check-feed-status", {"n": 1}).job
    assert not finish(container, not_yet, JobStatus.FAILED).follow_up_pending
    assert polling(container)  # not done yet: keep polling

    done = container.jobs().submit("acme", "marketplace", "check-feed-status", {"n": 2}).job
    finished = finish(container, done, JobStatus.SUCCEEDED)

    assert not polling(container)
    assert not finished.follow_up_pending


def test_a_feed_the_backend_refused_starts_no_poll(
    container: Container, scheduler: FlakyScheduler
) -> None:
    runner(container).fail_next_submits(1, Throttled("Rate exceeded"))

    feed = container.jobs().submit("acme", "marketplace", "submit-feed", FEED).job

    assert feed.status is JobStatus.SUBMIT_FAILED
    assert not polling(container)
    assert not container.jobs().get("acme", feed.id.value).follow_up_pending


def test_a_poll_switch_the_scheduler_refused_is_made_by_a_repeat_of_the_request(
    container: Container, scheduler: FlakyScheduler
) -> None:
    scheduler.failures = 1
    first = container.jobs().submit("acme", "marketplace", "submit-feed", FEED)

    assert first.created
    assert first.job.status is JobStatus.SUBMITTED  # the job itself went ahead
    assert container.jobs().get("acme", first.job.id.value).follow_up_pending
    assert not polling(container)

    again = container.jobs().submit("acme", "marketplace", "submit-feed", FEED)

    assert not again.created
    assert polling(container)
    assert not container.jobs().get("acme", first.job.id.value).follow_up_pending


@pytest.mark.parametrize(
    ("failures", "first_run"),
    [
        (1, [(RepairAction.FOLLOWED_UP, "submit-feed")]),
        # refused once more: deferred, then made by the refresh of the same run
        (2, [(RepairAction.DEFERRED, "Rate exceeded")]),
    ],
)
def test_a_poll_switch_left_pending_is_made_by_reconcile(
    container: Container, scheduler: FlakyScheduler, failures: int, first_run: list[Any]
) -> None:
    scheduler.failures = failures
    feed = container.jobs().submit("acme", "marketplace", "submit-feed", FEED).job
    assert not polling(container)

    runs = [container.maintenance().reconcile("acme") for _ in range(2)]

    switches = [
        [(r.action, r.detail) for r in run if r.action is not RepairAction.REFRESHED]
        for run in runs
    ]
    assert switches == [first_run, []]
    assert {r.job_id for run in runs for r in run} == {feed.id.value}
    assert polling(container)
    assert not container.jobs().get("acme", feed.id.value).follow_up_pending


def test_a_success_recorded_before_a_failed_switch_is_switched_when_the_event_comes_again(
    container: Container, scheduler: FlakyScheduler
) -> None:
    container.jobs().submit("acme", "marketplace", "submit-feed", FEED)
    poll = container.jobs().submit("acme", "marketplace", "check-feed-status", {}).job
    assert poll.backend_job_id is not None
    runner(container).advance(poll.backend_job_id, JobStatus.SUCCEEDED)
    [succeeded] = runner(container).describe([poll.backend_job_id])
    scheduler.failures = 1

    with pytest.raises(Throttled):
        container.tracking().apply(succeeded)
    recorded = container.jobs().get("acme", poll.id.value)
    assert (recorded.status, recorded.follow_up_pending) == (JobStatus.SUCCEEDED, True)
    assert polling(container)

    container.tracking().apply(succeeded)  # EventBridge delivers it again

    assert not polling(container)
    assert not container.jobs().get("acme", poll.id.value).follow_up_pending


def test_a_success_of_a_job_whose_connector_was_removed_is_recorded_with_nothing_to_switch(
    container: Container, scheduler: FlakyScheduler
) -> None:
    poll = container.jobs().submit("acme", "marketplace", "check-feed-status", {}).job
    container.document_store().delete("overlord-acme", "connectors", "marketplace")

    finished = finish(container, poll, JobStatus.SUCCEEDED)

    assert (finished.status, finished.follow_up_pending) == (JobStatus.SUCCEEDED, False)


class CountingReads:
    """The container's document store, counting the documents read from each collection."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.reads: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get(self, database: str, collection: str, document_id: str) -> Any:
        self.reads[collection] += 1
        return self._inner.get(database, collection, document_id)


@pytest.mark.parametrize(
    ("job_type", "payload", "switches"),
    [("submit-feed", FEED, False), ("check-feed-status", {}, True)],
)
def test_tracking_a_success_follows_up_as_the_template_said_at_submission_without_reading_it(
    container: Container, scheduler: FlakyScheduler, job_type: str, payload: Any, switches: bool
) -> None:
    # A success is tracked once per job, on AWS a DynamoDB read of the template each time;
    # the job knows from its submission whether its type switches a schedule on success.
    counting = CountingReads(container.document_store())
    container.document_store.override(providers.Object(counting))  # before a service holds it
    container.jobs().submit("acme", "marketplace", "submit-feed", FEED)
    job = container.jobs().submit("acme", "marketplace", job_type, payload).job
    assert job.backend_job_id is not None
    runner(container).advance(job.backend_job_id, JobStatus.SUCCEEDED)
    [succeeded] = runner(container).describe([job.backend_job_id])
    assert counting.reads["connectors"] > 0  # the submissions read the template
    counting.reads.clear()

    recorded = container.tracking().apply(succeeded)

    assert recorded is not None
    assert (recorded.status, recorded.follow_up_pending) == (JobStatus.SUCCEEDED, False)
    assert polling(container) is not switches
    # Only a switch that is made needs the connector's schedule names.
    assert counting.reads["connectors"] == (1 if switches else 0)


def test_a_record_from_before_submissions_kept_the_decision_reads_the_template(
    container: Container, scheduler: FlakyScheduler
) -> None:
    container.jobs().submit("acme", "marketplace", "submit-feed", FEED)
    poll = container.jobs().submit("acme", "marketplace", "check-feed-status", {}).job
    container.document_store().update(
        "overlord-acme", "jobs", poll.id.value, {"follow_up_on_success": None}
    )
    assert poll.backend_job_id is not None
    runner(container).advance(poll.backend_job_id, JobStatus.SUCCEEDED)
    [succeeded] = runner(container).describe([poll.backend_job_id])

    recorded = container.tracking().apply(succeeded)

    assert recorded is not None
    assert not recorded.follow_up_pending
    assert not polling(container)
