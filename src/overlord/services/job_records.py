"""How jobs, runs and log lines are stored as documents in the tenant's database.

Run and log documents have ids derived from the job id, attempt and line number, so writing
the same report twice is a no-op and concurrent trackers never duplicate a line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from overlord.domain.jobs import Job, JobId, JobStatus, LogEntry, Run
from overlord.domain.names import ConnectorName, TenantName

JOBS, RUNS, LOGS = "jobs", "runs", "logs"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def job_to_document(job: Job) -> dict[str, Any]:
    return {
        "_id": job.id.value,
        "tenant": job.tenant.value,
        "connector": job.connector.value,
        "job_type": job.job_type,
        "payload": job.payload,
        "status": job.status.value,
        "attempt": job.attempt,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "backend_job_id": job.backend_job_id,
        "status_reason": job.status_reason,
        "idempotency_key": job.idempotency_key,
        "replacements": job.replacements,
        "replacing": job.replacing,
        "superseded": list(job.superseded),
        "follow_up_pending": job.follow_up_pending,
    }


def job_from_document(doc: dict[str, Any], runs: list[Run] | None = None) -> Job:
    return Job(
        id=JobId(doc["_id"]),
        tenant=TenantName(doc["tenant"]),
        connector=ConnectorName(doc["connector"]),
        job_type=doc["job_type"],
        payload=doc["payload"],
        status=JobStatus(doc["status"]),
        attempt=doc["attempt"],
        created_at=datetime.fromisoformat(doc["created_at"]),
        updated_at=datetime.fromisoformat(doc["updated_at"]),
        backend_job_id=doc.get("backend_job_id"),
        status_reason=doc.get("status_reason"),
        idempotency_key=doc.get("idempotency_key"),
        runs=runs or [],
        replacements=doc.get("replacements", 0),
        replacing=doc.get("replacing"),
        superseded=tuple(doc.get("superseded", ())),
        follow_up_pending=doc.get("follow_up_pending", False),
    )


def run_id(job_id: str, attempt: int) -> str:
    return f"{job_id}-{attempt:03d}"


def run_to_document(job_id: str, run: Run) -> dict[str, Any]:
    return {
        "_id": run_id(job_id, run.attempt),
        "job_id": job_id,
        "attempt": run.attempt,
        "backend_job_id": run.backend_job_id,
        "status": run.status.value,
        "started_at": _iso(run.started_at),
        "stopped_at": _iso(run.stopped_at),
        "exit_code": run.exit_code,
        "status_reason": run.status_reason,
        "log_stream": run.log_stream,
    }


def run_from_document(doc: dict[str, Any]) -> Run:
    return Run(
        attempt=doc["attempt"],
        backend_job_id=doc.get("backend_job_id"),
        status=JobStatus(doc["status"]),
        started_at=_dt(doc.get("started_at")),
        stopped_at=_dt(doc.get("stopped_at")),
        exit_code=doc.get("exit_code"),
        status_reason=doc.get("status_reason"),
        log_stream=doc.get("log_stream"),
    )


def log_id(job_id: str, attempt: int, sequence: int) -> str:
    return f"{job_id}-{attempt:03d}-{sequence:07d}"


def log_to_document(entry: LogEntry) -> dict[str, Any]:
    return {
        "_id": log_id(entry.job_id, entry.attempt, entry.sequence),
        "tenant": entry.tenant,
        "connector": entry.connector,
        "job_id": entry.job_id,
        "attempt": entry.attempt,
        "sequence": entry.sequence,
        "at": entry.at.isoformat(),
        "stream": entry.stream,
        "message": entry.message,
    }


def log_from_document(doc: dict[str, Any]) -> LogEntry:
    return LogEntry(
        tenant=doc["tenant"],
        connector=doc["connector"],
        job_id=doc["job_id"],
        attempt=doc["attempt"],
        sequence=doc["sequence"],
        at=datetime.fromisoformat(doc["at"]),
        stream=doc["stream"],
        message=doc["message"],
    )
