"""Replace a stuck backend job so that no fault loses the job or runs it twice.

The record is marked (``replacing``) before the replacement is submitted, switched to it in one
compare-and-set that also lists the stuck job as ``superseded``, and only then is the stuck job
cancelled. Each step is conditional on the stuck job still being the record's and still in the
status the sweep saw, so a job that starts meanwhile keeps running and its replacement is
cancelled. The replacement's name counts replacements (``-r1``, ``-r2``; a number is never
reused once its replacement was abandoned), so a sweep that died after submitting, or whose
submit had an unknown outcome, is finished by the next one, which finds that job by name;
reconcile stops what a dead sweep left behind: a replacement for a job that has moved on, a
stuck job that was never cancelled.
"""

from __future__ import annotations

from typing import Any

from attrs import evolve

from overlord.domain.errors import BackendError
from overlord.domain.jobs import STUCK, Job
from overlord.domain.names import Namespace, tenant_database
from overlord.ports.clock import Clock
from overlord.ports.document_store import DocumentStore
from overlord.ports.job_runner import JobRunner
from overlord.services.job_records import JOBS
from overlord.services.jobs import JobService, batch_job_name
from overlord.services.repairs import Repair, RepairAction


class Replacement:
    def __init__(
        self,
        *,
        jobs: JobService,
        runner: JobRunner,
        documents: DocumentStore,
        clock: Clock,
        namespace: Namespace,
    ) -> None:
        self._jobs = jobs
        self._runner = runner
        self._documents = documents
        self._clock = clock
        self._namespace = namespace

    def replace(self, job: Job, detail: str) -> Repair:
        """Run ``job`` again as a new backend job, then stop the stuck one."""
        stuck = job.backend_job_id
        assert stuck is not None
        tenant, job_id = job.tenant.value, job.id.value
        as_seen = {"backend_job_id": stuck, "status": job.status.value}
        number = job.replacements + 1
        if not self._update(job, {"replacing": number}, expected=as_seen):
            return Repair(tenant, job_id, RepairAction.MOVED_ON, "before a replacement was made")
        target = self._jobs.target(tenant, job.connector.value)
        request = evolve(
            self._jobs.submit_request(job, target, target.template.job_type(job.job_type)),
            job_name=self._name(job, number),
        )
        try:
            made = self._runner.find(request.job_name)
            backend_id = made[0].backend_job_id if made else self._runner.submit(request)
        except BackendError as exc:
            # The mark stays: the submit's outcome may be unknown. The next sweep adopts a
            # replacement by its name; reconcile cancels it if the job moves on meanwhile.
            return Repair(tenant, job_id, RepairAction.DEFERRED, f"replacing it: {exc.message}")
        switched = self._update(
            job,
            {
                "backend_job_id": backend_id,
                "attempt_base": job.attempt if job.attempt > 0 else 1,
                "replacements": number,
                "replacing": None,
                "superseded": [*job.superseded, stuck],
                "status_reason": f"replaced after being stuck: {detail}",
                "updated_at": self._clock.now().isoformat(),
            },
            expected={**as_seen, "replacing": number},
        )
        if not switched:
            self._abandon(job, number)
            return Repair(tenant, job_id, RepairAction.MOVED_ON, backend_id)
        self._runner.cancel(stuck, f"stuck: {detail}")
        return Repair(tenant, job_id, RepairAction.REPLACED, backend_id)

    def settle(self, job: Job) -> Repair | None:
        """Stop what a sweep that died mid-replacement left running; None if nothing was left.

        A replacement under way for a job no longer stuck is cancelled (one for a job still
        stuck is left for the next sweep, which adopts it); superseded jobs are cancelled,
        which changes nothing for those the sweep did stop."""
        repair = None
        if job.replacing is not None and job.status not in STUCK:
            cancelled = self._abandon(job, job.replacing)
            repair = Repair(
                job.tenant.value, job.id.value, RepairAction.MOVED_ON, ", ".join(cancelled)
            )
        if job.superseded:
            for replaced in job.superseded:
                self._runner.cancel(replaced, "superseded by a replacement")
            # No replacement since this read: its stuck job would be on the list too.
            self._update(job, {"superseded": []}, expected={"replacements": job.replacements})
        return repair

    def _abandon(self, job: Job, number: int) -> list[str]:
        """Cancel replacement ``number`` unless the record follows it, and clear the mark; the
        number is spent, so that a later replacement is never taken for this cancelled one."""
        stored = self._documents.get(self._database(job), JOBS, job.id.value) or {}
        found = self._runner.find(self._name(job, number))
        orphans = [
            c.backend_job_id for c in found if c.backend_job_id != stored.get("backend_job_id")
        ]
        for orphan in orphans:
            self._runner.cancel(orphan, "the stuck job it was to replace moved on")
        self._update(
            job, {"replacing": None, "replacements": number}, expected={"replacing": number}
        )
        return orphans

    def _name(self, job: Job, number: int) -> str:
        return f"{batch_job_name(self._namespace, job.id)}-r{number}"

    def _database(self, job: Job) -> str:
        return tenant_database(self._namespace, job.tenant)

    def _update(self, job: Job, changes: dict[str, Any], *, expected: dict[str, Any]) -> bool:
        return self._documents.update(
            self._database(job), JOBS, job.id.value, changes, expected=expected
        )
