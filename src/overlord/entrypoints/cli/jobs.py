"""``overlord jobs``: submit a connector's job once, follow it, and repair what faults leave.

A job id is a digest of the request and already names its tenant, so the commands that take a
JOB_ID look it up in every tenant unless ``--tenant`` narrows the search: the id printed by
``jobs submit`` is all a person has to copy. Everything the caller typed (names, the payload,
the idempotency key) is checked before anything is written, so bad input is one line
on stderr, exit 2, and nothing written.

Every command that reads jobs first pulls the backend's view of the unfinished ones (see
`overlord.entrypoints.cli.job_queries`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import RenderableType
from rich.live import Live
from rich.text import Text

from overlord.domain.jobs import Job, JobStatus
from overlord.domain.names import ConnectorName, TenantName, slug
from overlord.entrypoints.cli.job_queries import (
    Progress,
    check_tenant,
    fail,
    find_job,
    recent_jobs,
    require_tenant,
    wait_for,
)
from overlord.entrypoints.cli.job_views import (
    ending,
    job_detail,
    jobs_table,
    log_lines,
    repair_to_json,
    repairs_table,
    submitted_to_json,
)
from overlord.entrypoints.cli.output import Output
from overlord.entrypoints.cli.payloads import check_idempotency_key, read_payload
from overlord.entrypoints.cli.session import help_without_command, session
from overlord.entrypoints.job_json import job_json, log_json
from overlord.entrypoints.json_input import cancel_reason

if TYPE_CHECKING:
    from overlord.services.repairs import Repair

app = typer.Typer(
    name="jobs",
    help="Submit, follow, cancel and repair connector jobs.",
    invoke_without_command=True,
)

JobIdArg = Annotated[str, typer.Argument(help="Job id (32 hex characters, from `jobs submit`).")]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", "-t", help="Only this tenant (default: every tenant).")
]


@app.callback()
def group(ctx: typer.Context) -> None:
    help_without_command(ctx)


@app.command("submit")
def submit(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant name.")],
    connector: Annotated[str, typer.Argument(help="One of the tenant's connectors.")],
    job_type: Annotated[str, typer.Argument(help="One of the connector's job types.")],
    payload: Annotated[
        str | None,
        typer.Option(help="The job's JSON object: inline, @FILE, or @- for stdin (default: {})."),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Makes an otherwise identical request a new job (a deliberate rerun)."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the job until it finishes (progress on stderr).")
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds --wait follows the job before giving up.")
    ] = 600.0,
) -> None:
    """Submit a job once: the same request returns the existing job (created: false).

    Exits 1 when the backend refused the job or, with --wait, when it ends FAILED or CANCELLED.
    """
    TenantName(tenant)
    ConnectorName(connector)
    slug("job type", job_type)
    body = read_payload(payload)
    check_idempotency_key(idempotency_key)
    current = session(ctx)
    container = current.container()
    require_tenant(container, tenant)
    jobs = container.jobs()
    result = jobs.submit(tenant, connector, job_type, body, idempotency_key=idempotency_key)
    job = result.job
    if wait and not job.finished:
        with Progress(lines=True) as progress:
            job = wait_for(jobs, tenant, job.id.value, timeout=timeout, progress=progress)
    out = current.output
    if out.json:
        out.emit_json(submitted_to_json(job, result.created))
    else:
        verb = "submitted" if result.created else "already submitted"
        out.show(
            Text.assemble(f"{verb} {tenant}/{connector} {job_type}: job ", (job.id.value, "bold")),
            job_detail(job),
        )
    if not job.finished and wait:
        hint = current.command("jobs", "watch", "--tenant", tenant)
        fail(f"job {job.id} is still {job.status} after {timeout:g}s; follow it with `{hint}`")
    problem = ending(job)
    if problem is not None:
        fail(problem)


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    tenant: TenantOpt = None,
    status: Annotated[
        JobStatus | None, typer.Option(case_sensitive=False, help="Only jobs in this status.")
    ] = None,
) -> None:
    """Jobs, oldest first, with their current status."""
    check_tenant(tenant)
    current = session(ctx)
    container = current.container()
    found = recent_jobs(container, tenant, status=status)
    out = current.output
    if out.json:
        out.emit_json([job_json(job, with_runs=False) for job in found])
    elif found:
        out.show(jobs_table(None, found))
    elif status is not None:
        out.show(Text(f"no {status} jobs"))
    else:
        hint = current.command("jobs", "submit", "acme", "weather", "ingest")
        out.show(Text(f"no jobs yet: try `{hint}`"))


@app.command("show")
def show(ctx: typer.Context, job_id: JobIdArg, tenant: TenantOpt = None) -> None:
    """A job with every attempt (run) made so far."""
    check_tenant(tenant)
    current = session(ctx)
    job = find_job(current.container(), job_id, tenant)
    out = current.output
    if out.json:
        out.emit_json(job_json(job))
    else:
        out.show(job_detail(job))


@app.command("logs")
def logs(ctx: typer.Context, job_id: JobIdArg, tenant: TenantOpt = None) -> None:
    """Every log line of every attempt, oldest first."""
    check_tenant(tenant)
    current = session(ctx)
    container = current.container()
    job = find_job(container, job_id, tenant)
    entries = container.jobs().logs(job.tenant.value, job.id.value)
    out = current.output
    if out.json:
        out.emit_json([log_json(entry) for entry in entries])
    else:
        out.show(log_lines(entries))


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    job_id: JobIdArg,
    tenant: TenantOpt = None,
    reason: Annotated[str, typer.Option(help="Recorded as the job's status reason.")] = (
        "cancelled by user"
    ),
) -> None:
    """Stop a job that has not finished (refused, exit 2, for one that has)."""
    check_tenant(tenant)
    cancel_reason(reason, "--reason")
    current = session(ctx)
    container = current.container()
    job = find_job(container, job_id, tenant)
    cancelled = container.jobs().cancel(job.tenant.value, job.id.value, reason)
    out = current.output
    if out.json:
        out.emit_json(job_json(cancelled, with_runs=False))
    else:
        out.show(Text(f"cancelled job {cancelled.id}: {reason}", style="yellow"))


@app.command("watch")
def watch(
    ctx: typer.Context,
    tenant: TenantOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Show the table once and stop.")] = False,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between refreshes.")] = 2.0,
    limit: Annotated[int, typer.Option(min=1, help="How many recent jobs to show.")] = 20,
) -> None:
    """A live table of the most recently updated jobs, until Ctrl-C.

    With --output json, one JSON array per refresh, each on its own line.
    """
    check_tenant(tenant)
    current = session(ctx)
    container = current.container()
    out = current.output

    def snapshot() -> list[Job]:
        found = recent_jobs(container, tenant)
        return sorted(found, key=lambda job: job.updated_at, reverse=True)[:limit]

    def frame(title: str) -> RenderableType:
        found = snapshot()
        return jobs_table(title, found) if found else Text(f"{title}: no jobs yet")

    try:
        while True:
            if out.json:
                jobs = [job_json(job, with_runs=False) for job in snapshot()]
                sys.stdout.write(json.dumps(jobs, ensure_ascii=False) + "\n")
                sys.stdout.flush()
            elif once:
                out.show(frame("jobs"))
            elif out.console.is_terminal:
                live_forever(out, lambda: frame("jobs (Ctrl-C to stop)"), interval)
            else:  # a log: one table per refresh, each stamped
                out.show(frame(f"jobs at {time.strftime('%H:%M:%S')}"))
            if once:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return  # the way out of a watch, not a failure


def live_forever(out: Output, frame: Callable[[], RenderableType], interval: float) -> None:
    """Redraw ``frame`` in place every ``interval`` seconds, until interrupted."""
    with Live(frame(), console=out.console, auto_refresh=False) as live:
        while True:
            time.sleep(interval)
            live.update(frame(), refresh=True)


@app.command("reconcile")
def reconcile(
    ctx: typer.Context,
    tenant: TenantOpt = None,
    older_than: Annotated[
        int,
        typer.Option(
            min=0, help="Leave REQUESTED jobs younger than this (seconds): still submitting."
        ),
    ] = 60,
) -> None:
    """Make job records and the backend agree after a crash.

    Jobs a crash left REQUESTED are matched to the backend job carrying their name, or
    submitted if there is none; the rest are refreshed, and jobs the backend has lost fail.
    """
    check_tenant(tenant)
    current = session(ctx)
    container = current.container()
    if tenant is not None:
        require_tenant(container, tenant)
    repairs = container.maintenance().reconcile(tenant, older_than_seconds=older_than)
    show_repairs(current.output, "reconciled", repairs)


@app.command("sweep")
def sweep(
    ctx: typer.Context,
    tenant: TenantOpt = None,
    threshold: Annotated[
        int | None,
        typer.Option(
            min=0, help="Seconds before a job counts as stuck (default: its job type's setting)."
        ),
    ] = None,
) -> None:
    """Apply each stuck job's policy: wait, fail, or cancel and resubmit.

    A job is stuck when it has waited before RUNNING longer than its job type allows.
    """
    check_tenant(tenant)
    current = session(ctx)
    container = current.container()
    if tenant is not None:
        require_tenant(container, tenant)
    repairs = container.maintenance().sweep(tenant, threshold_seconds=threshold)
    show_repairs(current.output, "swept", repairs)


def show_repairs(out: Output, verb: str, repairs: list[Repair]) -> None:
    if out.json:
        out.emit_json([repair_to_json(repair) for repair in repairs])
    elif repairs:
        out.show(repairs_table(f"{verb}: {len(repairs)} job(s)", repairs))
    else:
        out.show(Text(f"{verb}: nothing to do"))
