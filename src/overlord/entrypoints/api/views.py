"""Results as the JSON documents the routes answer with: stable keys, ISO times, plain values.

The provisioning report has the shape of ``overlord tenants init --output json``, so a script
can switch between the CLI and the API without changing how it reads the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from overlord.domain.jobs import Job, LogEntry, Run
from overlord.services.provisioning import ProvisioningReport


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def report_json(report: ProvisioningReport) -> dict[str, Any]:
    return {
        "tenant": report.tenant,
        "connector": report.connector,
        "resources": [
            {"kind": r.kind.value, "name": r.name, "action": r.action.value}
            for r in report.resources
        ],
    }


def connector_state_json(
    configuration: Mapping[str, Any], plan: ProvisioningReport
) -> dict[str, Any]:
    """The configuration document and, per resource, whether it is as the template says
    (``would-keep``) or what applying again would do."""
    return {
        **report_json(plan),
        "in_sync": not plan.changed,
        "configuration": dict(configuration),
    }


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


def job_json(job: Job) -> dict[str, Any]:
    return {
        **job_summary_json(job),
        "payload": job.payload,
        "backend_job_id": job.backend_job_id,
        "idempotency_key": job.idempotency_key,
        "runs": [run_json(run) for run in job.runs],
    }


def log_json(entry: LogEntry) -> dict[str, Any]:
    return {
        "attempt": entry.attempt,
        "sequence": entry.sequence,
        "at": _iso(entry.at),
        "stream": entry.stream,
        "message": entry.message,
    }
