"""Submit a connector's job once, and read jobs, runs and logs back.

The job record is the ledger: it is inserted (conditionally, keyed by the request-derived id)
before the backend is called, because AWS Batch's SubmitJob has no idempotency token. Of many
identical requests racing, exactly one wins the insert and submits; the others return the
winner's job. A crash between the insert and the submit, or a submission whose answer was lost
(`OutcomeUnknown`), leaves a REQUESTED record that `MaintenanceService.reconcile` repairs.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from attrs import frozen

from overlord.domain.connectors import FollowUpTrigger, JobTypeSpec
from overlord.domain.errors import (
    BackendError,
    DuplicateKey,
    IllegalTransition,
    InvalidTemplate,
    NotFound,
    OutcomeUnknown,
    PayloadTooLarge,
)
from overlord.domain.job_events import SubmitRequest
from overlord.domain.jobs import Job, JobId, JobStatus, LogEntry, canonical_json
from overlord.domain.names import ConnectorName, Namespace, TenantName
from overlord.ports.clock import Clock
from overlord.ports.document_store import DocumentStore
from overlord.ports.job_runner import JobRunner
from overlord.ports.object_store import ObjectStore
from overlord.ports.payload_validator import PayloadValidator
from overlord.services.catalog import CatalogService
from overlord.services.follow_ups import FollowUps, due
from overlord.services.job_records import live_logs
from overlord.services.job_repository import JobRepository
from overlord.services.targets import Target, read_target
from overlord.services.tracking import TrackingService


@frozen
class SubmitResult:
    job: Job
    created: bool


class JobService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        documents: DocumentStore,
        objects: ObjectStore,
        runner: JobRunner,
        follow_ups: FollowUps,
        tracking: TrackingService,
        clock: Clock,
        namespace: Namespace,
        max_payload_bytes: int,
        payloads: PayloadValidator,
        catalog: Callable[[], CatalogService],
    ) -> None:
        self._jobs = jobs
        self._documents = documents
        self._objects = objects
        self._runner = runner
        self._follow_ups = follow_ups
        self._tracking = tracking
        self._clock = clock
        self._namespace = namespace
        self._max_payload = max_payload_bytes
        self._payloads = payloads
        self._catalog = catalog

    @contextlib.contextmanager
    def _tenant(self, tenant: str) -> Iterator[str]:
        """The tenant's database; a store's complaint about a missing database becomes one
        about the tenant, which is what a caller can act on."""
        database = self._jobs.database(tenant)
        try:
            yield database
        except NotFound:
            if self._documents.database_exists(database):
                raise
            raise NotFound(
                f"no tenant {tenant!r}: run `overlord tenants init {tenant} CONNECTOR` first"
            ) from None

    def target(self, tenant: str, connector: str) -> Target:
        """Where the tenant's connector runs; a connector the catalog does not know is named as
        unknown, with the known ones, rather than as one to provision."""
        try:
            return read_target(self._documents, self._namespace, tenant, connector)
        except NotFound:
            known = [template.name.value for template in self._catalog().list()]
            if connector not in known:
                raise NotFound(
                    f"unknown connector {connector!r}; the catalog has {', '.join(known)}"
                ) from None
            raise

    def submit(
        self,
        tenant: str,
        connector: str,
        job_type: str,
        payload: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> SubmitResult:
        """Submit once: the same request returns the same job with ``created=False``.

        >>> from overlord.testing import provisioned_memory_container
        >>> jobs = provisioned_memory_container("acme", "weather").jobs()
        >>> first = jobs.submit("acme", "weather", "ingest", {"stations": ["KSEA"]})
        >>> again = jobs.submit("acme", "weather", "ingest", {"stations": ["KSEA"]})
        >>> (first.created, again.created, first.job.id == again.job.id)
        (True, False, True)
        """
        target = self.target(tenant, connector)
        spec = target.template.job_type(job_type)
        job = Job.request(
            tenant=TenantName(tenant),
            connector=ConnectorName(connector),
            job_type=job_type,
            payload=payload,
            at=self._clock.now(),
            idempotency_key=idempotency_key,
            follow_up_on_success=due(spec, FollowUpTrigger.SUCCEEDED),
        )
        body = canonical_json(job.payload)
        if len(body.encode("utf-8")) > self._max_payload:
            raise PayloadTooLarge(
                f"the payload is {len(body.encode('utf-8'))} bytes; the limit is "
                f"{self._max_payload} (OVERLORD_MAX_PAYLOAD_BYTES)"
            )
        self._check_payload(connector, spec, job.payload)
        job.follow_up_pending = due(spec, FollowUpTrigger.SUBMITTED)
        try:
            self._jobs.add(job)
        except DuplicateKey:
            existing = self.get(tenant, job.id.value)
            if existing.status is not JobStatus.REQUESTED:  # its submitter is done with it
                self._switch_follow_up(existing)
            return SubmitResult(existing, created=False)
        job = self._start(job, target, spec, body)
        self._switch_follow_up(job)
        return SubmitResult(job, created=True)

    def _check_payload(self, connector: str, spec: JobTypeSpec, payload: Mapping[str, Any]) -> None:
        """`InvalidPayload` naming the offending field before anything is written, rather than
        a job the backend fails and retries to failure."""
        if spec.payload_schema is None:
            return
        try:
            self._payloads.validate(spec.payload_schema, payload)
        except InvalidTemplate as exc:
            raise InvalidTemplate(
                f"connector {connector}: job_types.{spec.name}.{exc.message}"
            ) from None

    def _start(self, job: Job, target: Target, spec: JobTypeSpec, body: str) -> Job:
        """Submit the recorded job and record the outcome; returns the job as stored. Losing
        the save to tracking, which already moved the job further, is fine: its rules refuse
        the outcome then, and the stored job stands."""
        now = self._clock.now

        def outcome(change: Callable[[Job], None]) -> Job:
            def record(stored: Job) -> bool:
                try:
                    change(stored)
                except IllegalTransition:
                    return False
                return True

            return self._jobs.modify(job.tenant.value, job.id.value, record) or job

        try:
            backend_id = self._runner.submit(self.submit_request(job, target, spec, body))
        except OutcomeUnknown as exc:
            # The backend may hold the job: failing it could lose a job that runs, and
            # resubmitting could run it twice. Reconcile settles it by looking it up by name.
            reason = f"{exc.message}; `overlord jobs reconcile` settles it"
            return outcome(lambda stored: stored.mark_outcome_unknown(reason))
        except BackendError as exc:
            message = exc.message
            return outcome(lambda stored: stored.mark_submit_failed(message, at=now()))
        return outcome(lambda stored: stored.mark_submitted(backend_id, at=now()))

    def submit_request(
        self, job: Job, target: Target, spec: JobTypeSpec, body: str | None = None
    ) -> SubmitRequest:
        """The backend request for a recorded job (also used by reconcile to resubmit)."""
        body = canonical_json(job.payload) if body is None else body
        if len(body.encode("utf-8")) <= self._runner.inline_payload_bytes:
            payload_env = ("OVERLORD_PAYLOAD", body)
        else:
            bucket, key = target.names["bucket"], f"jobs/{job.id}/payload.json"
            self._objects.put_object(
                bucket, key, body.encode("utf-8"), content_type="application/json"
            )
            payload_env = ("OVERLORD_PAYLOAD_REF", f"{bucket}/{key}")
        return SubmitRequest(
            job_id=job.id.value,
            job_name=batch_job_name(self._namespace, job.id),
            queue=target.names["job_queue"],
            definition=target.names["job_definition"],
            command=spec.command,
            environment=(
                payload_env,
                ("OVERLORD_JOB_ID", job.id.value),
                ("OVERLORD_TENANT", job.tenant.value),
                ("OVERLORD_CONNECTOR", job.connector.value),
                ("OVERLORD_JOB_TYPE", job.job_type),
            ),
            timeout_seconds=spec.timeout_seconds,
            attempts=spec.retry_attempts,
            tags=(
                ("overlord:job-id", job.id.value),
                ("overlord:tenant", job.tenant.value),
                ("overlord:connector", job.connector.value),
                ("overlord:job-type", job.job_type),
            ),
            share_identifier=target.names.get("share_identifier"),
        )

    def _switch_follow_up(self, job: Job) -> None:
        """The job type's follow-up switch, if one is due; a scheduler that fails leaves it
        pending on the record for a repeat of the request or `overlord jobs reconcile`."""
        with contextlib.suppress(BackendError):
            self._follow_ups.apply(job)

    def get(self, tenant: str, job_id: str) -> Job:
        """A job with its runs; another tenant's job is simply not there (NotFound)."""
        with self._tenant(tenant):
            job = self._jobs.load(tenant, job_id)
        if job is None:
            raise NotFound(f"tenant {tenant!r} has no job {job_id!r}")
        return job

    def list(
        self, tenant: str, *, status: JobStatus | None = None, connector: str | None = None
    ) -> builtins.list[Job]:
        with self._tenant(tenant):
            return self._jobs.find(tenant, status=status, connector=connector)

    def logs(self, tenant: str, job_id: str) -> builtins.list[LogEntry]:
        """The stored lines of the job's finished attempts, and those of an attempt still
        going fetched from the backend as they are now (stored once it has finished)."""
        job = self.get(tenant, job_id)
        entries = self._jobs.logs(tenant, job_id)
        if job.backend_job_id is not None:
            # Pages a tracker stored before it could mark them stored are there already.
            stored = {(entry.attempt, entry.sequence) for entry in entries}
            for run in job.runs:
                if not run.logs_stored and run.attempt > job.attempt_base:
                    lines = self._runner.logs(job.backend_job_id, job.backend_attempt(run.attempt))
                    entries += [
                        entry
                        for entry in live_logs(job, run.attempt, lines)
                        if (entry.attempt, entry.sequence) not in stored
                    ]
        return sorted(entries, key=lambda e: (e.attempt, e.sequence))

    def refresh(self, tenant: str, job_id: str | None = None) -> None:
        """Pull the backend's view of unfinished jobs into tracking (the local backend reports
        this way; on AWS, EventBridge events push the same changes)."""
        jobs = [self.get(tenant, job_id)] if job_id else self.list(tenant)
        backend_ids = [j.backend_job_id for j in jobs if j.backend_job_id and not j.finished]
        if backend_ids:
            self._tracking.apply_all(self._runner.describe(backend_ids))

    def cancel(self, tenant: str, job_id: str, reason: str = "cancelled by user") -> Job:
        """Stop a job that is still going; one that already finished on the backend is
        recorded as it finished (refreshed first) and refused with `IllegalTransition`."""
        self.refresh(tenant, job_id)
        job = self.get(tenant, job_id)
        if job.backend_job_id and not job.finished:
            self._runner.cancel(job.backend_job_id, reason)

        def cancel(stored: Job) -> bool:
            stored.cancel(reason, at=self._clock.now())
            return True

        cancelled = self._jobs.modify(tenant, job_id, cancel)
        if cancelled is None:
            raise NotFound(f"tenant {tenant!r} has no job {job_id!r}")
        return cancelled


def batch_job_name(namespace: Namespace, job_id: JobId) -> str:
    return f"{namespace}-{job_id}"
