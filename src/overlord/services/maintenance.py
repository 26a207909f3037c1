"""Repair what faults leave behind: reconcile records with backends, sweep stuck jobs.

``reconcile`` handles a crash between recording a job and submitting it (a REQUESTED record
the backend never saw, or saw under the job's name), backend jobs the record lost track of,
stuck backend jobs a sweep replaced but died before stopping, and follow-up schedule switches
left pending.
``sweep`` finds jobs stuck before RUNNING longer than their job type allows and applies that
job type's policy: wait (record the backend's reason), fail, or cancel and resubmit.
"""

from __future__ import annotations

from datetime import timedelta

from overlord.domain.connectors import StuckPolicy
from overlord.domain.errors import BackendError
from overlord.domain.jobs import STUCK, Job, JobStatus
from overlord.domain.names import Namespace
from overlord.ports.clock import Clock
from overlord.ports.job_runner import JobRunner
from overlord.services.follow_ups import FollowUps
from overlord.services.job_repository import JobRepository
from overlord.services.jobs import JobService, batch_job_name
from overlord.services.registry import TenantRegistry
from overlord.services.repairs import Repair, RepairAction
from overlord.services.replacement import Replacement
from overlord.services.tracking import TrackingService


class MaintenanceService:
    def __init__(
        self,
        *,
        jobs: JobService,
        records: JobRepository,
        tracking: TrackingService,
        follow_ups: FollowUps,
        replacement: Replacement,
        registry: TenantRegistry,
        runner: JobRunner,
        clock: Clock,
        namespace: Namespace,
    ) -> None:
        self._jobs = jobs
        self._records = records
        self._tracking = tracking
        self._follow_ups = follow_ups
        self._replacement = replacement
        self._registry = registry
        self._runner = runner
        self._clock = clock
        self._namespace = namespace

    def _tenants(self, tenant: str | None) -> list[str]:
        if tenant is not None:
            return [tenant]
        return [doc["_id"] for doc in self._registry.tenants()]

    def reconcile(self, tenant: str | None = None, *, older_than_seconds: int = 60) -> list[Repair]:
        """Make records and backend agree; REQUESTED records younger than the threshold are
        left alone because their submission may still be in flight."""
        repairs: list[Repair] = []
        cutoff = self._clock.now() - timedelta(seconds=older_than_seconds)
        for name in self._tenants(tenant):
            following: list[Job] = []
            for job in self._jobs.list(name):
                left = self._replacement.settle(job)
                if left is not None:
                    repairs.append(left)
                if job.follow_up_pending and job.status is not JobStatus.REQUESTED:
                    repairs.append(self._follow_up(job))
                if job.finished:
                    continue
                if job.status is JobStatus.REQUESTED:
                    if job.created_at <= cutoff:
                        repairs.append(self._repair_requested(job))
                    continue
                following.append(job)
            repairs += self._refresh(following)
        return repairs

    def _follow_up(self, job: Job) -> Repair:
        try:
            self._follow_ups.apply(job)
        except BackendError as exc:
            return Repair(job.tenant.value, job.id.value, RepairAction.DEFERRED, exc.message)
        return Repair(job.tenant.value, job.id.value, RepairAction.FOLLOWED_UP, job.job_type)

    def _repair_requested(self, job: Job) -> Repair:
        found = self._runner.find(batch_job_name(self._namespace, job.id))
        if found:
            self._tracking.apply_all(found)
            return Repair(
                job.tenant.value, job.id.value, RepairAction.MATCHED, found[0].backend_job_id
            )
        target = self._jobs.target(job.tenant.value, job.connector.value)
        spec = target.template.job_type(job.job_type)
        try:
            backend_id = self._runner.submit(self._jobs.submit_request(job, target, spec))
        except BackendError as exc:
            return Repair(job.tenant.value, job.id.value, RepairAction.DEFERRED, exc.message)

        def submitted(stored: Job) -> bool:
            if stored.status is not JobStatus.REQUESTED:
                return False  # tracking saw the backend job first
            stored.mark_submitted(backend_id, at=self._clock.now())
            return True

        self._records.modify(job.tenant.value, job.id.value, submitted)
        return Repair(job.tenant.value, job.id.value, RepairAction.RESUBMITTED, backend_id)

    def _refresh(self, jobs: list[Job]) -> list[Repair]:
        """Pull the backend's view of ``jobs`` in one ask (Batch takes 100 ids a call); a job
        the backend no longer knows is failed as lost."""
        described = {
            change.backend_job_id: change
            for change in self._runner.describe(
                [j.backend_job_id for j in jobs if j.backend_job_id]
            )
        }
        repairs = []
        for job in jobs:
            change = described.get(job.backend_job_id or "")
            if change is None:
                self._fail(job, "the backend has no record of this job")
                repairs.append(
                    Repair(
                        job.tenant.value, job.id.value, RepairAction.LOST, job.backend_job_id or ""
                    )
                )
                continue
            self._tracking.apply(change)
            repairs.append(
                Repair(job.tenant.value, job.id.value, RepairAction.REFRESHED, change.status.value)
            )
        return repairs

    def _fail(self, job: Job, reason: str) -> None:
        """Fail the attempt the sweep saw; one that moved on meanwhile is left to tracking."""
        seen = (job.status, job.attempt)

        def fail(stored: Job) -> bool:
            if (stored.status, stored.attempt) != seen:
                return False
            return stored.fail(reason, at=self._clock.now())

        self._records.modify(job.tenant.value, job.id.value, fail)

    def sweep(
        self, tenant: str | None = None, *, threshold_seconds: int | None = None
    ) -> list[Repair]:
        """Apply each stuck job's policy; the threshold defaults to its job type's."""
        repairs: list[Repair] = []
        now = self._clock.now()
        for name in self._tenants(tenant):
            self._jobs.refresh(name)
            for job in self._jobs.list(name):
                stuck = job.backend_job_id
                if job.status not in STUCK or stuck is None:
                    continue
                spec = self._jobs.target(name, job.connector.value).template.job_type(job.job_type)
                limit = (
                    threshold_seconds
                    if threshold_seconds is not None
                    else (spec.stuck_after_seconds)
                )
                if (now - job.updated_at).total_seconds() < limit:
                    continue
                repairs.append(self._unstick(job, stuck, spec.stuck_policy, now - job.updated_at))
        return repairs

    def _unstick(self, job: Job, stuck: str, policy: StuckPolicy, age: timedelta) -> Repair:
        described = self._runner.describe([stuck])
        reason = (described[0].status_reason if described else None) or "no reason given"
        detail = f"{job.status} for {int(age.total_seconds())}s: {reason}"
        tenant, job_id = job.tenant.value, job.id.value
        if policy is StuckPolicy.WAIT:
            seen = job.status
            self._records.modify(
                tenant, job_id, lambda stored: stored.note_stuck(detail, seen=seen)
            )
            return Repair(tenant, job_id, RepairAction.WAITED, detail)
        if policy is StuckPolicy.FAIL:
            self._runner.cancel(stuck, f"stuck: {detail}")
            self._fail(job, f"stuck: {detail}")
            return Repair(tenant, job_id, RepairAction.FAILED, detail)
        return self._replacement.replace(job, stuck, detail)
