"""How jobs, runs, log lines and repairs look: plain data for ``--output json``, Rich for people.

Shared by ``overlord jobs``, ``overlord schedules`` and ``overlord quickstart`` so that a job
reads the same wherever it is shown. JSON keys are stable (scripts depend on them); times are
ISO 8601 in JSON and ``when`` text in tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from overlord.domain.jobs import Job, JobStatus, LogEntry, Run, canonical_json
from overlord.entrypoints.cli.output import table, text, when
from overlord.services.repairs import Repair

STATUS_STYLES = {
    JobStatus.SUCCEEDED: "green",
    JobStatus.FAILED: "red",
    JobStatus.SUBMIT_FAILED: "red",
    JobStatus.CANCELLED: "yellow",
    JobStatus.RUNNING: "cyan",
}
FAILED_ENDS = frozenset({JobStatus.FAILED, JobStatus.SUBMIT_FAILED, JobStatus.CANCELLED})


def _when(moment: datetime | None) -> str:
    return "" if moment is None else when(moment.isoformat())


def status_text(status: JobStatus) -> Text:
    return text(status, STATUS_STYLES.get(status, ""))


def submitted_to_json(job: Job, created: bool) -> dict[str, Any]:
    """What ``jobs submit`` answers, the same three keys as the API's submit route."""
    return {"job_id": job.id.value, "status": job.status.value, "created": created}


def repair_to_json(repair: Repair) -> dict[str, str]:
    return {
        "tenant": repair.tenant,
        "job_id": repair.job_id,
        "action": repair.action.value,
        "detail": repair.detail,
    }


def jobs_table(title: str | None, jobs: Iterable[Job]) -> Table:
    """One line per job, narrow enough for 80 columns: ``jobs show`` has the rest."""
    grid = table(title, "job id", "job", "status", "updated (UTC)")
    grid.columns[0].min_width = 32  # an id is copied whole, so it is never folded
    for job in jobs:
        status = status_text(job.status)
        if job.attempt > 1:
            status.append(f" ({job.attempt})")
        grid.add_row(
            text(job.id),
            text(f"{job.tenant}/{job.connector} {job.job_type}"),
            status,
            text(job.updated_at.astimezone(UTC).strftime("%m-%d %H:%M:%S")),
        )
    return grid


def runs_table(runs: Iterable[Run]) -> Table:
    grid = table("runs", "attempt", "status", "started", "stopped", "exit code", "reason")
    for run in runs:
        grid.add_row(
            text(run.attempt),
            status_text(run.status),
            text(_when(run.started_at)),
            text(_when(run.stopped_at)),
            text("" if run.exit_code is None else run.exit_code),
            text(run.status_reason or ""),
        )
    return grid


PAYLOAD_PREVIEW = 200  # characters of a payload the table view shows; JSON shows it whole


def payload_preview(payload: str, limit: int = PAYLOAD_PREVIEW) -> str:
    """A payload short enough for a screen: a 30 KB one would bury the job's status and runs."""
    if len(payload) <= limit:
        return payload
    size = len(payload.encode("utf-8"))
    return f"{payload[:limit]}… ({size:,} bytes; --output json shows all)"


def job_detail(job: Job) -> Group:
    """One job as a person reads it: what was asked, where it got to, and each attempt."""
    header = Text.assemble(
        ("job ", "bold"),
        (job.id.value, "bold"),
        f"  {job.tenant}/{job.connector} {job.job_type}\nstatus: ",
        status_text(job.status),
        f" (attempt {job.attempt})",
        f": {job.status_reason}" if job.status_reason else "",
        f"\ncreated {_when(job.created_at)}, updated {_when(job.updated_at)}",
        f"\npayload: {payload_preview(canonical_json(job.payload))}",
        f"\nidempotency key: {job.idempotency_key}" if job.idempotency_key else "",
        f"\nbackend job: {job.backend_job_id or 'none yet'}",
    )
    if not job.runs:
        return Group(header, Text("no runs yet", style="dim"))
    return Group(header, Text(), runs_table(job.runs))


def log_lines(entries: Iterable[LogEntry]) -> Text:
    """``[attempt] time stream  message`` per line; stderr stands out, messages stay literal."""
    lines = Text()
    for entry in entries:
        if lines:
            lines.append("\n")
        lines.append(f"[{entry.attempt}] {_when(entry.at)} ", style="dim")
        lines.append(f"{entry.stream:<6} ", style="red" if entry.stream == "stderr" else "dim")
        lines.append(entry.message)
    return lines or Text("no log lines yet", style="dim")


def repairs_table(title: str, repairs: Iterable[Repair]) -> Table:
    grid = table(title, "tenant", "job id", "action", "detail")
    for repair in repairs:
        grid.add_row(
            text(repair.tenant), text(repair.job_id), text(repair.action), text(repair.detail)
        )
    return grid


def ending(job: Job) -> str | None:
    """Why a finished job counts as a failure for the exit code, or None if it does not."""
    if job.status not in FAILED_ENDS:
        return None
    reason = f": {job.status_reason}" if job.status_reason else ""
    return f"job {job.id} ended {job.status}{reason}"
