"""Jobs, runs and log lines as JSON: one shape for ``overlord -o json jobs ...`` and the API.

A script that switches between the CLI and the HTTP API reads the same keys either way; keys
are stable, times ISO 8601, statuses their names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from overlord.domain.jobs import Job, LogEntry, Run


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def job_summary_json(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.id.value,
        "tenant": job.tenant.value,
        "connector": job.connector.value,
        "job_type": job.job_type,
        "status": job.status.value,
        "attempt": job.attempt,
        "status_reason": job.status_reason,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
    }


def job_json(job: Job, *, with_runs: bool = True) -> dict[str, Any]:
    found = {
        **job_summary_json(job),
        "payload": job.payload,
        "backend_job_id": job.backend_job_id,
        "idempotency_key": job.idempotency_key,
        # What repairs have done or still owe: sweeps' replacements, a pending schedule switch.
        "replacements": job.replacements,
        "superseded_backend_job_ids": list(job.superseded),
        "follow_up_pending": job.follow_up_pending,
    }
    if with_runs:
        found["runs"] = [run_json(run) for run in job.runs]
    return found


def run_json(run: Run) -> dict[str, Any]:
    return {
        "attempt": run.attempt,
        "status": run.status.value,
        "backend_job_id": run.backend_job_id,
        "started_at": _iso(run.started_at),
        "stopped_at": _iso(run.stopped_at),
        "exit_code": run.exit_code,
        "status_reason": run.status_reason,
        "log_stream": run.log_stream,
    }


def log_json(entry: LogEntry) -> dict[str, Any]:
    return {
        "attempt": entry.attempt,
        "sequence": entry.sequence,
        "at": _iso(entry.at),
        "stream": entry.stream,
        "message": entry.message,
    }
