"""Repair what faults leave behind: reconcile records with backends, sweep stuck jobs.

``reconcile`` handles a crash between recording a job and submitting it (a REQUESTED record
the backend never saw, or saw under the job's name) and backend jobs the record lost track of.
``sweep`` finds jobs stuck before RUNNING longer than their job type allows and applies that
job type's policy: wait (record the backend's reason), fail, or cancel and resubmit.
"""

from __future__ import annotations

import enum
from datetime import timedelta

from attrs import evolve, frozen

from overlord.domain.connectors import StuckPolicy
from overlord.domain.errors import BackendError
from overlord.domain.jobs import Job, JobStatus
from overlord.domain.names import Namespace, tenant_database
from overlord.ports.clock import Clock
from overlord.ports.document_store import DocumentStore
from overlord.ports.job_runner import JobRunner
from overlord.services.job_records import JOBS
from overlord.services.jobs import JobService, batch_job_name
from overlord.services.registry import TenantRegistry
from overlord.services.tracking import TrackingService

STUCK = (JobStatus.SUBMITTED, JobStatus.PENDING, JobStatus.RUNNABLE, JobStatus.STARTING)


class RepairAction(enum.StrEnum):
    MATCHED = "matched"  # a backend job carried the record's name: tracking took it over
    RESUBMITTED = "resubmitted"  # no backend job had the name: submitted now
    DEFERRED = "deferred"  # the backend refused the repair; the job is left for the next run
    REFRESHED = "refreshed"  # the backend's state was pulled into tracking
    LOST = "lost"  # the backend forgot the job: recorded as FAILED
    WAITED = "waited"  # stuck, and the job type's policy is to wait
    FAILED = "failed"  # stuck, and the policy is to fail it
    REPLACED = "replaced"  # stuck, and the policy is to cancel and resubmit
    MOVED_ON = "moved-on"  # stuck, but it moved on while being replaced: replacement cancelled


@frozen
class Repair:
    tenant: str
    job_id: str
    action: RepairAction
    detail: str = ""


class MaintenanceService:
    def __init__(
        self,
        *,
        jobs: JobService,
        tracking: TrackingService,
        runner: JobRunner,
        documents: DocumentStore,
        clock: Clock,
        namespace: Namespace,
    ) -> None:
        self._jobs = jobs
        self._tracking = tracking
        self._runner = runner
        self._documents = documents
        self._clock = clock
        self._namespace = namespace
        self._registry = TenantRegistry(documents, namespace)

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
            for job in self._jobs.list(name):
                if job.finished:
                    continue
                if job.status is JobStatus.REQUESTED:
                    if job.created_at <= cutoff:
                        repairs.append(self._repair_requested(job))
                    continue
                repairs.append(self._refresh(job))
        return repairs

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
        job.mark_submitted(backend_id, at=self._clock.now())
        self._documents.update(
            self._database(job),
            JOBS,
            job.id.value,
            {
                "status": job.status.value,
                "backend_job_id": backend_id,
                "updated_at": job.updated_at.isoformat(),
            },
            expected={"status": JobStatus.REQUESTED.value},
        )
        return Repair(job.tenant.value, job.id.value, RepairAction.RESUBMITTED, backend_id)

    def _database(self, job: Job) -> str:
        return tenant_database(self._namespace, job.tenant)

    def _refresh(self, job: Job) -> Repair:
        assert job.backend_job_id is not None
        described = self._runner.describe([job.backend_job_id])
        if described:
            self._tracking.apply_all(described)
            return Repair(
                job.tenant.value, job.id.value, RepairAction.REFRESHED, described[0].status.value
            )
        self._fail(job, "the backend has no record of this job")
        return Repair(job.tenant.value, job.id.value, RepairAction.LOST, job.backend_job_id)

    def _fail(self, job: Job, reason: str) -> None:
        before = {"status": job.status.value, "attempt": job.attempt}
        if job.advance(JobStatus.FAILED, at=self._clock.now(), attempt=job.attempt, reason=reason):
            self._documents.update(
                self._database(job),
                JOBS,
                job.id.value,
                {
                    "status": job.status.value,
                    "status_reason": reason,
                    "updated_at": job.updated_at.isoformat(),
                },
                expected=before,
            )

    def sweep(
        self, tenant: str | None = None, *, threshold_seconds: int | None = None
    ) -> list[Repair]:
        """Apply each stuck job's policy; the threshold defaults to its job type's."""
        repairs: list[Repair] = []
        now = self._clock.now()
        for name in self._tenants(tenant):
            self._jobs.refresh(name)
            for job in self._jobs.list(name):
                if job.status not in STUCK or job.backend_job_id is None:
                    continue
                spec = self._jobs.target(name, job.connector.value).template.job_type(job.job_type)
                limit = (
                    threshold_seconds
                    if threshold_seconds is not None
                    else (spec.stuck_after_seconds)
                )
                if (now - job.updated_at).total_seconds() < limit:
                    continue
                repairs.append(self._unstick(job, spec.stuck_policy, now - job.updated_at))
        return repairs

    def _unstick(self, job: Job, policy: StuckPolicy, age: timedelta) -> Repair:
        assert job.backend_job_id is not None
        described = self._runner.describe([job.backend_job_id])
        reason = (described[0].status_reason if described else None) or "no reason given"
        detail = f"{job.status} for {int(age.total_seconds())}s: {reason}"
        tenant, job_id = job.tenant.value, job.id.value
        if policy is StuckPolicy.WAIT:
            self._documents.update(
                self._database(job),
                JOBS,
                job_id,
                {"status_reason": detail},
                expected={"status": job.status.value},
            )
            return Repair(tenant, job_id, RepairAction.WAITED, detail)
        if policy is StuckPolicy.FAIL:
            self._runner.cancel(job.backend_job_id, f"stuck: {detail}")
            self._fail(job, f"stuck: {detail}")
            return Repair(tenant, job_id, RepairAction.FAILED, detail)
        return self._replace(job, detail)

    def _replace(self, job: Job, detail: str) -> Repair:
        """Run the job again as a new backend job, then stop the stuck one.

        The replacement goes first, so a refused submit leaves the stuck job running rather
        than cancelled with nothing in its place. Its name counts the replacements, so a sweep
        that died after submitting adopts the job it made instead of making another; its
        attempts continue the record's count."""
        assert job.backend_job_id is not None
        tenant, job_id, database = job.tenant.value, job.id.value, self._database(job)
        stored = self._documents.get(database, JOBS, job_id) or {}
        number = int(stored.get("replacements", 0)) + 1
        target = self._jobs.target(tenant, job.connector.value)
        request = evolve(
            self._jobs.submit_request(job, target, target.template.job_type(job.job_type)),
            job_name=f"{batch_job_name(self._namespace, job.id)}-r{number}",
        )
        try:
            made = self._runner.find(request.job_name)
            backend_id = made[0].backend_job_id if made else self._runner.submit(request)
        except BackendError as exc:
            return Repair(tenant, job_id, RepairAction.DEFERRED, f"replacing it: {exc.message}")
        replaced = self._documents.update(
            database,
            JOBS,
            job_id,
            {
                "backend_job_id": backend_id,
                "attempt_base": job.attempt if job.attempt > 0 else 1,
                "replacements": number,
                "status_reason": f"replaced after being stuck: {detail}",
                "updated_at": self._clock.now().isoformat(),
            },
            expected={"backend_job_id": job.backend_job_id, "status": job.status.value},
        )
        if not replaced:
            now = self._documents.get(database, JOBS, job_id) or {}
            if now.get("backend_job_id") != backend_id:  # not another sweep's replacement
                self._runner.cancel(backend_id, "the stuck job it was to replace moved on")
            return Repair(tenant, job_id, RepairAction.MOVED_ON, backend_id)
        self._runner.cancel(job.backend_job_id, f"stuck: {detail}")
        return Repair(tenant, job_id, RepairAction.REPLACED, backend_id)
