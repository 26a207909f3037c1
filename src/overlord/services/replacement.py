"""Replace a stuck backend job so that no fault loses the job or runs it twice.

The record is marked (``replacing``) before the replacement is submitted, switched to it in one
save that also lists the stuck job as ``superseded``, and only then is the stuck job cancelled.
Each step is a rule of `Job` that holds only while the stuck job is still the record's and still
in the status the sweep saw, so a job that starts meanwhile keeps running and its replacement is
cancelled. The replacement's name counts replacements (``-r1``, ``-r2``; a number is never
reused once its replacement was abandoned), so a sweep that died after submitting, or whose
submit had an unknown outcome, is finished by the next one, which finds that job by name;
reconcile stops what a dead sweep left behind: a replacement for a job that has moved on, a
stuck job that was never cancelled.
"""

from __future__ import annotations

from attrs import evolve

from overlord.domain.errors import BackendError, IllegalTransition
from overlord.domain.jobs import STUCK, Job
from overlord.domain.names import Namespace
from overlord.ports.clock import Clock
from overlord.ports.job_runner import JobRunner
from overlord.services.job_repository import JobRepository
from overlord.services.jobs import JobService, batch_job_name
from overlord.services.repairs import Repair, RepairAction


class Replacement:
    def __init__(
        self,
        *,
        jobs: JobService,
        records: JobRepository,
        runner: JobRunner,
        clock: Clock,
        namespace: Namespace,
    ) -> None:
        self._jobs = jobs
        self._records = records
        self._runner = runner
        self._clock = clock
        self._namespace = namespace

    def replace(self, job: Job, stuck: str, detail: str) -> Repair:
        """Run ``job`` again as a new backend job, then stop the stuck one, ``stuck``."""
        tenant, job_id, seen = job.tenant.value, job.id.value, job.status
        numbers: list[int] = []

        def begin(stored: Job) -> bool:
            numbers.append(stored.begin_replacement(stuck, seen=seen))
            return True

        try:
            marked = self._records.modify(tenant, job_id, begin)
        except IllegalTransition:
            marked = None
        if marked is None:
            return Repair(tenant, job_id, RepairAction.MOVED_ON, "before a replacement was made")
        number = numbers[-1]
        target = self._jobs.target(tenant, job.connector.value)
        request = evolve(
            self._jobs.submit_request(marked, target, target.template.job_type(job.job_type)),
            job_name=self._name(job, number),
        )
        try:
            made = self._runner.find(request.job_name)
            backend_id = made[0].backend_job_id if made else self._runner.submit(request)
        except BackendError as exc:
            # The mark stays: the submit's outcome may be unknown. The next sweep adopts a
            # replacement by its name; reconcile cancels it if the job moves on meanwhile.
            return Repair(tenant, job_id, RepairAction.DEFERRED, f"replacing it: {exc.message}")

        def switch(stored: Job) -> bool:
            stored.switch_to_replacement(
                number,
                backend_id,
                stuck=stuck,
                seen=seen,
                reason=f"replaced after being stuck: {detail}",
                at=self._clock.now(),
            )
            return True

        try:
            self._records.modify(tenant, job_id, switch)
        except IllegalTransition:
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
            replacements = job.replacements
            self._records.modify(
                job.tenant.value,
                job.id.value,
                lambda stored: stored.superseded_stopped(replacements=replacements),
            )
        return repair

    def _abandon(self, job: Job, number: int) -> list[str]:
        """Cancel replacement ``number`` unless the record follows it, and give its number up,
        so that a later replacement is never taken for this cancelled one."""
        stored = self._records.load(job.tenant.value, job.id.value)
        following = None if stored is None else stored.backend_job_id
        found = self._runner.find(self._name(job, number))
        orphans = [c.backend_job_id for c in found if c.backend_job_id != following]
        for orphan in orphans:
            self._runner.cancel(orphan, "the stuck job it was to replace moved on")
        self._records.modify(
            job.tenant.value, job.id.value, lambda stored: stored.abandon_replacement(number)
        )
        return orphans

    def _name(self, job: Job, number: int) -> str:
        return f"{batch_job_name(self._namespace, job.id)}-r{number}"
