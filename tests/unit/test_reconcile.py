"""Reconcile on the memory adapters: how many questions it asks the backend."""

from __future__ import annotations

from collections.abc import Sequence

from dependency_injector import providers

from overlord.adapters.memory.job_runner import MemoryJobRunner
from overlord.container import Container
from overlord.domain.job_events import JobStateChange
from overlord.domain.jobs import JobStatus
from overlord.services.repairs import RepairAction


class CountingRunner(MemoryJobRunner):
    """The memory runner, recording the ids of each ``describe``."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[str]] = []

    def describe(self, backend_job_ids: Sequence[str]) -> list[JobStateChange]:
        self.asked.append(list(backend_job_ids))
        return super().describe(backend_job_ids)


def test_every_unfinished_job_of_a_tenant_is_described_in_one_ask(container: Container) -> None:
    runner = CountingRunner()
    container.job_runner.override(providers.Object(runner))
    container.provisioning().apply("acme", "weather")
    jobs = [container.jobs().submit("acme", "weather", "ingest", {"n": n}).job for n in range(5)]
    assert jobs[0].backend_job_id is not None
    runner.advance(jobs[0].backend_job_id, JobStatus.SUCCEEDED)
    runner.asked.clear()

    repairs = container.maintenance().reconcile("acme")

    assert len(runner.asked) == 1
    assert sorted(runner.asked[0]) == sorted(str(j.backend_job_id) for j in jobs)
    assert {r.action for r in repairs} == {RepairAction.REFRESHED}
    assert container.jobs().get("acme", jobs[0].id.value).status is JobStatus.SUCCEEDED
