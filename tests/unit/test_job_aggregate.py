"""The rules `Job` owns beyond its status: the replacement lifecycle, when an attempt's log
lines are due, the follow-up mark; and the repository's bounded retry of a lost save."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from overlord.domain.errors import Contended, IllegalTransition
from overlord.domain.job_events import AttemptReport, JobStateChange
from overlord.domain.jobs import Job, JobStatus
from overlord.domain.names import ConnectorName, Namespace, TenantName
from overlord.ports.document_store import DocumentStore
from overlord.services.job_repository import MODIFY_ROUNDS, JobRepository
from overlord.testing import provisioned_memory_container

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def stuck_job() -> Job:
    job = Job.request(
        tenant=TenantName("acme"),
        connector=ConnectorName("weather"),
        job_type="ingest",
        payload={},
        at=AT,
    )
    job.mark_submitted("stuck", at=AT)
    job.advance(JobStatus.RUNNABLE, at=AT, attempt=1)
    return job


def change(job: Job, status: JobStatus, attempt: int, backend: str = "stuck") -> JobStateChange:
    return JobStateChange(
        tenant="acme",
        job_id=job.id.value,
        backend_job_id=backend,
        job_name=f"overlord-{job.id}",
        status=status,
        attempt=attempt,
        at=AT,
        attempts=(AttemptReport(attempt=attempt, exit_code=0),),
    )


def test_a_replacement_switches_only_while_the_job_is_as_the_sweep_saw_it() -> None:
    job = stuck_job()
    number = job.begin_replacement("stuck", seen=JobStatus.RUNNABLE)

    job.switch_to_replacement(
        number, "fresh", stuck="stuck", seen=JobStatus.RUNNABLE, reason="replaced", at=AT
    )

    assert (job.backend_job_id, job.replacements, job.replacing) == ("fresh", 1, None)
    assert (job.superseded, job.attempt_base) == (("stuck",), 1)
    with pytest.raises(IllegalTransition, match="moved on"):
        job.begin_replacement("stuck", seen=JobStatus.RUNNABLE)


def test_a_job_that_started_meanwhile_refuses_its_replacement_and_the_number_is_spent() -> None:
    job = stuck_job()
    number = job.begin_replacement("stuck", seen=JobStatus.RUNNABLE)
    job.track(change(job, JobStatus.RUNNING, 1))

    with pytest.raises(IllegalTransition):
        job.switch_to_replacement(
            number, "fresh", stuck="stuck", seen=JobStatus.RUNNABLE, reason="r", at=AT
        )
    assert job.abandon_replacement(number)
    assert (job.replacing, job.replacements) == (None, 1)
    assert not job.abandon_replacement(number)


def test_superseded_jobs_are_forgotten_only_if_no_replacement_was_made_since() -> None:
    job = stuck_job()
    number = job.begin_replacement("stuck", seen=JobStatus.RUNNABLE)
    job.switch_to_replacement(
        number, "fresh", stuck="stuck", seen=JobStatus.RUNNABLE, reason="r", at=AT
    )

    assert not job.superseded_stopped(replacements=0)
    assert job.superseded_stopped(replacements=1)
    assert job.superseded == ()


def test_a_replacement_numbers_its_attempts_after_the_ones_before_it() -> None:
    job = stuck_job()
    number = job.begin_replacement("stuck", seen=JobStatus.RUNNABLE)
    job.switch_to_replacement(
        number, "fresh", stuck="stuck", seen=JobStatus.RUNNABLE, reason="r", at=AT
    )

    assert job.track(change(job, JobStatus.SUCCEEDED, 1, backend="fresh"))
    assert not job.track(change(job, JobStatus.RUNNING, 1, backend="stuck"))

    assert [(r.attempt, r.status) for r in job.runs] == [
        (1, JobStatus.FAILED),
        (2, JobStatus.SUCCEEDED),
    ]
    assert job.logs_due() == [2]
    assert job.backend_attempt(2) == 1


def test_log_lines_are_due_once_an_attempt_has_finished_and_until_stored() -> None:
    job = stuck_job()
    job.track(change(job, JobStatus.RUNNING, 1))
    assert job.logs_due() == []

    job.track(change(job, JobStatus.RUNNING, 2))
    assert job.logs_due() == [1]

    job.logs_stored(1)
    job.track(change(job, JobStatus.SUCCEEDED, 2))
    assert job.logs_due() == [2]
    with pytest.raises(IllegalTransition):
        job.logs_stored(3)


def test_the_follow_up_mark_is_cleared_once() -> None:
    job = stuck_job()
    job.follow_up_due()

    assert job.follow_up_made()
    assert not job.follow_up_made()


class LosingStore:
    """A document store whose every compare-and-set loses, as if another writer always saved
    first."""

    def __init__(self, inner: DocumentStore) -> None:
        self._inner = inner
        self.updates = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def update(self, *args: Any, **kwargs: Any) -> bool:
        self.updates += 1
        return False


def test_a_save_that_always_loses_gives_up_after_a_bounded_number_of_rounds() -> None:
    container = provisioned_memory_container("acme", "weather")
    job = container.jobs().submit("acme", "weather", "ingest", {}).job
    store = LosingStore(container.document_store())
    records = JobRepository(documents=cast("DocumentStore", store), namespace=Namespace("overlord"))

    with pytest.raises(Contended, match="gave up"):
        records.modify("acme", job.id.value, lambda stored: stored.follow_up_due() is None)

    assert store.updates == MODIFY_ROUNDS
    assert container.jobs().get("acme", job.id.value).follow_up_pending is False
