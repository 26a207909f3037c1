"""Reconcile on the memory adapters: how many questions it asks the backend."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from dependency_injector import providers

from overlord.adapters.memory.job_runner import MemoryJobRunner
from overlord.container import Container
from overlord.domain.job_events import JobStateChange
from overlord.domain.jobs import JobStatus
from overlord.services.repairs import RepairAction


class CountingRunner(MemoryJobRunner):
    """The memory runner, recording the ids of each ``describe`` and able to forget a job (as
    a backend whose state was wiped does)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[str]] = []
        self.forgotten: set[str] = set()

    def describe(self, backend_job_ids: Sequence[str]) -> list[JobStateChange]:
        self.asked.append(list(backend_job_ids))
        return [
            c for c in super().describe(backend_job_ids) if c.backend_job_id not in self.forgotten
        ]


@pytest.fixture
def runner(container: Container) -> CountingRunner:
    runner = CountingRunner()
    container.job_runner.override(providers.Object(runner))
    container.provisioning().apply("acme", "weather")
    return runner


def test_every_unfinished_job_of_a_tenant_is_described_in_one_ask(
    container: Container, runner: CountingRunner
) -> None:
    jobs = [container.jobs().submit("acme", "weather", "ingest", {"n": n}).job for n in range(5)]
    assert jobs[0].backend_job_id is not None
    runner.advance(jobs[0].backend_job_id, JobStatus.SUCCEEDED)
    runner.asked.clear()

    repairs = container.maintenance().reconcile("acme")

    assert len(runner.asked) == 1
    assert sorted(runner.asked[0]) == sorted(str(j.backend_job_id) for j in jobs)
    assert {r.action for r in repairs} == {RepairAction.REFRESHED}
    assert container.jobs().get("acme", jobs[0].id.value).status is JobStatus.SUCCEEDED


def test_a_job_its_backend_no_longer_knows_is_failed_as_lost(
    container: Container, runner: CountingRunner
) -> None:
    job = container.jobs().submit("acme", "weather", "ingest", {}).job
    assert job.backend_job_id is not None
    runner.forgotten.add(job.backend_job_id)

    [repair] = container.maintenance().reconcile("acme")
    again = container.maintenance().reconcile("acme")

    assert (repair.action, repair.detail) == (RepairAction.LOST, job.backend_job_id)
    failed = container.jobs().get("acme", job.id.value)
    assert (failed.status, failed.status_reason) == (
        JobStatus.FAILED,
        "the backend has no record of this job",
    )
    assert again == []  # finished: nothing more to ask
