"""How jobs, their runs and log lines are stored as documents in the tenant's database.

A job's document holds its runs, so that one compare-and-set saves the whole aggregate, and a
``version`` that each save moves on. An attempt's log lines are stored in pages of lines whose
ids derive from the job id, attempt and page number, so that storing the same lines twice is a
no-op and concurrent trackers never duplicate a line. Only `JobRepository` uses this module.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from overlord.domain.job_events import LogLine
from overlord.domain.jobs import Job, JobId, JobStatus, LogEntry, Run
from overlord.domain.names import ConnectorName, TenantName

JOBS, LOGS = "jobs", "logs"

# A page stays far below DynamoDB's 400 KB item limit, whatever the lines hold.
LOG_PAGE_LINES = 500
LOG_PAGE_BYTES = 128 * 1024


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
        "created_at": job.created_at.isoformat(),
        "idempotency_key": job.idempotency_key,
        "follow_up_on_success": job.follow_up_on_success,
        **job_changes(job),
        "version": job.version,
    }


def job_changes(job: Job) -> dict[str, Any]:
    """The fields a save writes (`MUTABLE_FIELDS`); the rest of a job's document is fixed when
    it is requested, and the version is the save's to move on."""
    return {
        "status": job.status.value,
        "attempt": job.attempt,
        "updated_at": job.updated_at.isoformat(),
        "backend_job_id": job.backend_job_id,
        "status_reason": job.status_reason,
        "replacements": job.replacements,
        "replacing": job.replacing,
        "superseded": list(job.superseded),
        "follow_up_pending": job.follow_up_pending,
        "attempt_base": job.attempt_base,
        "runs": [run_to_document(run) for run in job.runs],
    }


# The fields of `job_changes`, which a load remembers as stored.
MUTABLE_FIELDS = (
    "status",
    "attempt",
    "updated_at",
    "backend_job_id",
    "status_reason",
    "replacements",
    "replacing",
    "superseded",
    "follow_up_pending",
    "attempt_base",
    "runs",
)


@functools.lru_cache(maxsize=1024)
def _tenant(name: str) -> TenantName:
    """Names are immutable values and a store holds few of them: each is checked once."""
    return TenantName(name)


@functools.lru_cache(maxsize=1024)
def _connector(name: str) -> ConnectorName:
    return ConnectorName(name)


def job_from_document(doc: dict[str, Any]) -> Job:
    return Job(
        id=JobId(doc["_id"]),
        tenant=_tenant(doc["tenant"]),
        connector=_connector(doc["connector"]),
        job_type=doc["job_type"],
        payload=doc["payload"],
        status=JobStatus(doc["status"]),
        attempt=doc["attempt"],
        created_at=datetime.fromisoformat(doc["created_at"]),
        updated_at=datetime.fromisoformat(doc["updated_at"]),
        backend_job_id=doc.get("backend_job_id"),
        status_reason=doc.get("status_reason"),
        idempotency_key=doc.get("idempotency_key"),
        runs=[run_from_document(run) for run in doc.get("runs", ())],
        replacements=doc.get("replacements", 0),
        replacing=doc.get("replacing"),
        superseded=tuple(doc.get("superseded", ())),
        follow_up_pending=doc.get("follow_up_pending", False),
        follow_up_on_success=doc.get("follow_up_on_success"),
        attempt_base=doc.get("attempt_base", 0),
        version=doc.get("version", 0),
    )


def run_to_document(run: Run) -> dict[str, Any]:
    return {
        "attempt": run.attempt,
        "backend_job_id": run.backend_job_id,
        "status": run.status.value,
        "started_at": _iso(run.started_at),
        "stopped_at": _iso(run.stopped_at),
        "exit_code": run.exit_code,
        "status_reason": run.status_reason,
        "log_stream": run.log_stream,
        "logs_stored": run.logs_stored,
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
        logs_stored=doc.get("logs_stored", False),
    )


def log_pages(job: Job, attempt: int, lines: Sequence[LogLine]) -> list[dict[str, Any]]:
    """The documents that store ``lines`` of ``job``'s ``attempt``: pages of at most
    `LOG_PAGE_LINES` lines and about `LOG_PAGE_BYTES` of text each."""
    pages: list[list[dict[str, Any]]] = [[]]
    size = 0
    for sequence, line in enumerate(lines):
        entry = {
            "sequence": sequence,
            "at": line.at.isoformat(),
            "stream": line.stream,
            "message": line.message,
        }
        weight = len(line.message.encode("utf-8")) + 64
        if pages[-1] and (len(pages[-1]) >= LOG_PAGE_LINES or size + weight > LOG_PAGE_BYTES):
            pages.append([])
            size = 0
        pages[-1].append(entry)
        size += weight
    return [
        {
            "_id": f"{job.id.value}-{attempt:03d}-{number:05d}",
            "tenant": job.tenant.value,
            "connector": job.connector.value,
            "job_id": job.id.value,
            "attempt": attempt,
            "page": number,
            "lines": page,
        }
        for number, page in enumerate(pages)
        if page
    ]


def logs_from_page(doc: dict[str, Any]) -> list[LogEntry]:
    return [
        LogEntry(
            tenant=doc["tenant"],
            connector=doc["connector"],
            job_id=doc["job_id"],
            attempt=doc["attempt"],
            sequence=line["sequence"],
            at=datetime.fromisoformat(line["at"]),
            stream=line["stream"],
            message=line["message"],
        )
        for line in doc["lines"]
    ]


def live_logs(job: Job, attempt: int, lines: Sequence[LogLine]) -> list[LogEntry]:
    """Lines of an attempt still running, as fetched from the backend and not stored."""
    return [
        LogEntry(
            tenant=job.tenant.value,
            connector=job.connector.value,
            job_id=job.id.value,
            attempt=attempt,
            sequence=sequence,
            at=line.at,
            stream=line.stream,
            message=line.message,
        )
        for sequence, line in enumerate(lines)
    ]
