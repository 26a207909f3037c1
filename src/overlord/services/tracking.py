"""Apply backends' job state changes to the tenant's jobs, runs and logs — idempotently.

Events arrive late, twice, and out of order (EventBridge promises neither order nor
exactly-once). Every write here is either a compare-and-set that only moves a job forward or an
insert under an id derived from the job, attempt and line, so any order and any duplication of
a valid event sequence gives the same final job, runs and logs. The job type's follow-up
schedule switch due on success is marked in the same compare-and-set that records SUCCEEDED and
made after it (`follow_ups`), so a redelivered event makes a switch a crash left pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from attrs import evolve

from overlord.domain.errors import DuplicateKey
from overlord.domain.job_events import AttemptReport, JobStateChange
from overlord.domain.jobs import Job, JobStatus, LogEntry
from overlord.domain.names import Namespace, TenantName, tenant_database
from overlord.ports.document_store import DocumentStore
from overlord.ports.job_runner import JobRunner
from overlord.services.follow_ups import FollowUps
from overlord.services.job_records import (
    JOBS,
    LOGS,
    RUNS,
    job_from_document,
    log_id,
    log_to_document,
    run_id,
)

_CAS_ATTEMPTS = 50


class TrackingService:
    def __init__(
        self,
        *,
        documents: DocumentStore,
        runner: JobRunner,
        follow_ups: FollowUps,
        namespace: Namespace,
    ) -> None:
        self._documents = documents
        self._runner = runner
        self._follow_ups = follow_ups
        self._namespace = namespace

    def _database(self, tenant: str) -> str:
        return tenant_database(self._namespace, TenantName(tenant))

    def apply(self, change: JobStateChange) -> Job | None:
        """Record one state change; returns the job as stored, or None for an unknown job or a
        change from a backend job the record no longer follows (one the sweeper replaced)."""
        database = self._database(change.tenant)
        doc = self._documents.get(database, JOBS, change.job_id)
        if doc is None:
            return None
        current_backend = doc.get("backend_job_id")
        if current_backend is not None and current_backend != change.backend_job_id:
            return None
        change = _rebase(change, doc.get("attempt_base", 0))
        job = self._advance_job(database, change)
        if job is None:
            return None
        self._record_runs(database, change)
        self._record_logs(database, job, change)
        self._follow_ups.apply(job)  # a failure is raised: the event comes again
        return job

    def apply_all(self, changes: Iterable[JobStateChange]) -> int:
        return sum(self.apply(change) is not None for change in changes)

    def _advance_job(self, database: str, change: JobStateChange) -> Job | None:
        for _ in range(_CAS_ATTEMPTS):
            doc = self._documents.get(database, JOBS, change.job_id)
            if doc is None:
                return None
            job = job_from_document(doc)
            expected = {
                "status": doc["status"],
                "attempt": doc["attempt"],
                "backend_job_id": doc.get("backend_job_id"),
            }
            changed = job.advance(
                change.status, at=change.at, attempt=change.attempt, reason=change.status_reason
            )
            if job.backend_job_id is None and change.backend_job_id:
                job.backend_job_id = change.backend_job_id
                changed = True
            if not changed:
                return job
            changes: dict[str, Any] = {
                "status": job.status.value,
                "attempt": job.attempt,
                "updated_at": job.updated_at.isoformat(),
                "status_reason": job.status_reason,
                "backend_job_id": job.backend_job_id,
            }
            succeeded = job.status is JobStatus.SUCCEEDED and doc["status"] != job.status.value
            if succeeded and self._follow_ups.due_on_success(job):
                # Marked with SUCCEEDED itself, so that no crash in between loses the switch.
                job.follow_up_pending = changes["follow_up_pending"] = True
            if self._documents.update(database, JOBS, job.id.value, changes, expected=expected):
                return job
        raise RuntimeError(f"job {change.job_id} is contended: gave up after {_CAS_ATTEMPTS}")

    def _record_runs(self, database: str, change: JobStateChange) -> None:
        reports = {r.attempt: r for r in change.attempts}
        for attempt in range(1, change.attempt + 1):
            if attempt < change.attempt:
                status = JobStatus.FAILED  # an earlier attempt ended, and another followed
            else:
                status = change.status
            report = reports.get(attempt, AttemptReport(attempt=attempt))
            self._merge_run(database, change, status, report)

    def _merge_run(
        self, database: str, change: JobStateChange, status: JobStatus, report: AttemptReport
    ) -> None:
        """Fields of the most advanced report win; a known value is never erased."""
        key = run_id(change.job_id, report.attempt)
        incoming: dict[str, Any] = {
            "backend_job_id": change.backend_job_id,
            "status": status.value,
            "rank": status.rank,
            "started_at": report.started_at.isoformat() if report.started_at else None,
            "stopped_at": report.stopped_at.isoformat() if report.stopped_at else None,
            "exit_code": report.exit_code,
            "status_reason": report.status_reason,
            "log_stream": report.log_stream,
        }
        for _ in range(_CAS_ATTEMPTS):
            current = self._documents.get(database, RUNS, key)
            if current is None:
                try:
                    self._documents.insert(
                        database,
                        RUNS,
                        {
                            "_id": key,
                            "job_id": change.job_id,
                            "attempt": report.attempt,
                            **incoming,
                        },
                    )
                    return
                except DuplicateKey:
                    continue
            ahead = incoming["rank"] > current["rank"]
            merged = {
                name: (
                    value
                    if value is not None and (ahead or current.get(name) is None)
                    else current.get(name)
                )
                for name, value in incoming.items()
                if name not in ("status", "rank")
            }
            if ahead:
                merged["status"], merged["rank"] = incoming["status"], incoming["rank"]
            changes = {k: v for k, v in merged.items() if current.get(k) != v}
            if not changes:
                return
            if self._documents.update(
                database,
                RUNS,
                key,
                changes,
                expected={"rank": current["rank"], "stopped_at": current.get("stopped_at")},
            ):
                return
        raise RuntimeError(f"run {key} is contended: gave up after {_CAS_ATTEMPTS}")

    def _record_logs(self, database: str, job: Job, change: JobStateChange) -> None:
        """Fetch the lines of every attempt this change shows, storing each line once."""
        if change.status.rank < JobStatus.RUNNING.rank and change.attempt <= 1:
            return
        for attempt in range(1, change.attempt + 1):
            base = change.attempts_base
            lines = (
                self._runner.logs(change.backend_job_id, attempt - base) if attempt > base else []
            )
            for sequence, line in enumerate(lines):
                if self._documents.get(database, LOGS, log_id(job.id.value, attempt, sequence)):
                    continue
                entry = LogEntry(
                    tenant=job.tenant.value,
                    connector=job.connector.value,
                    job_id=job.id.value,
                    attempt=attempt,
                    sequence=sequence,
                    at=line.at,
                    stream=line.stream,
                    message=line.message,
                )
                try:
                    self._documents.insert(database, LOGS, log_to_document(entry))
                except DuplicateKey:
                    pass  # another tracker stored this line first


def _rebase(change: JobStateChange, base: int) -> JobStateChange:
    """Number a replacement backend job's attempts after those of the jobs it replaced."""
    if base == 0:
        return change
    return evolve(
        change,
        attempt=change.attempt + base,
        attempts=tuple(evolve(r, attempt=r.attempt + base) for r in change.attempts),
        attempts_base=base,
    )
