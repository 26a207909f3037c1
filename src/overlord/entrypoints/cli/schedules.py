"""``overlord schedules``: a tenant's schedules, and the runner that fires them locally.

On AWS, EventBridge Scheduler fires schedules. The local profile has no server, so
``schedules run`` is the tick loop: it asks the local scheduler what is due, submits each due
schedule's job through `JobService.submit`, then records the firing. The submission's
idempotency key is the schedule and the moment it was due, so a firing repeated — two runners
at once, or a runner that crashed between submitting and recording — finds the job the first
one made instead of submitting again.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol, runtime_checkable

import typer
from attrs import frozen
from rich.text import Text

from overlord.domain.errors import BackendError, InvalidInput, OverlordError
from overlord.domain.infrastructure import (
    DueSchedule,
    ScheduleDefinition,
    scheduled_idempotency_key,
)
from overlord.domain.names import TenantName, schedule_group
from overlord.entrypoints.cli.job_queries import require_tenant
from overlord.entrypoints.cli.output import table, text, when
from overlord.entrypoints.cli.session import help_without_command, session

if TYPE_CHECKING:
    from overlord.services.jobs import JobService

app = typer.Typer(
    name="schedules",
    help="List schedules, and fire local ones (the local schedule runner).",
    invoke_without_command=True,
)


@runtime_checkable
class FiringScheduler(Protocol):
    """What a scheduler that does not fire schedules itself offers (the local one)."""

    def due(self, now: datetime) -> list[DueSchedule]: ...

    def mark_fired(self, group: str, name: str, at: datetime) -> None: ...


@frozen
class Firing:
    """One schedule fired: the job it submitted, or why it could not."""

    group: str
    name: str
    due_at: datetime
    job_id: str | None = None
    status: str | None = None
    created: bool | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schedule": f"{self.group}/{self.name}",
            "due_at": self.due_at.isoformat(),
            "job_id": self.job_id,
            "status": self.status,
            "created": self.created,
            "error": self.error,
        }


@app.callback()
def group(ctx: typer.Context) -> None:
    help_without_command(ctx)


@app.command("list")
def list_schedules(
    ctx: typer.Context, tenant: Annotated[str, typer.Argument(help="Tenant name.")]
) -> None:
    """A tenant's schedules: when each fires and what it submits."""
    name = TenantName(tenant)
    current = session(ctx)
    container = current.container()
    require_tenant(container, tenant)
    found = container.scheduler().list_schedules(schedule_group(container.namespace(), name))
    out = current.output
    if out.json:
        out.emit_json([schedule_to_json(schedule) for schedule in found])
        return
    if not found:
        out.show(Text(f"tenant {tenant} has no schedules"))
        return
    grid = table(None, "name", "expression", "timezone", "submits", "payload", "enabled")
    for schedule in found:
        target = schedule.target
        grid.add_row(
            text(schedule.name),
            text(schedule.expression),
            text(schedule.timezone),
            text(f"{target.connector} {target.job_type}"),
            text(target.payload_json),
            text("yes" if schedule.enabled else "no", "green" if schedule.enabled else "dim"),
        )
    out.show(grid)


@app.command("run")
def run(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Fire what is due now, then stop.")] = False,
    interval: Annotated[
        float, typer.Option(min=1.0, help="Seconds between looks at what is due.")
    ] = 30.0,
) -> None:
    """Fire due local schedules until Ctrl-C: each submits its job once per due time."""
    current = session(ctx)
    container = current.container()
    scheduler = container.scheduler()
    if not isinstance(scheduler, FiringScheduler):
        raise InvalidInput(
            f"schedules run fires local schedules; on the {current.settings().profile} profile "
            "the scheduler fires them itself"
        )
    out = current.output
    jobs = container.jobs()

    def tick() -> list[Firing]:
        return fire_due(scheduler, jobs, container.clock().now())

    if once:
        firings = tick()
        if out.json:
            out.emit_json([firing.to_json() for firing in firings])
        else:
            out.show(firing_lines(firings) or Text("nothing is due"))
        return
    try:
        while True:
            for firing in tick():
                if out.json:
                    sys.stdout.write(json.dumps(firing.to_json(), ensure_ascii=False) + "\n")
                    sys.stdout.flush()
                else:
                    out.show(firing_lines([firing]))
            time.sleep(interval)
    except KeyboardInterrupt:
        return  # the way to stop the runner, not a failure


def fire_due(scheduler: FiringScheduler, jobs: JobService, now: datetime) -> list[Firing]:
    """Submit every schedule due at ``now`` once, then record that it fired.

    A schedule whose submission is refused (its connector was removed, its payload no longer
    fits) is still recorded as fired, so one broken schedule cannot hold the rest back; the
    refusal is in the result. A backend failure is not recorded, and neither is a crash: the
    next tick fires the same due time again, which finds any job already submitted.
    """
    firings = []
    for due in scheduler.due(now):
        schedule, due_at = due.schedule, due.due_at
        target = schedule.target
        key = scheduled_idempotency_key(schedule.group, schedule.name, due_at)
        try:
            result = jobs.submit(
                target.tenant,
                target.connector,
                target.job_type,
                target.payload,
                idempotency_key=key,
            )
        except BackendError as exc:
            error = f"{exc.message} (will retry)"
            firings.append(Firing(schedule.group, schedule.name, due_at, error=error))
            continue
        except OverlordError as exc:
            firings.append(Firing(schedule.group, schedule.name, due_at, error=exc.message))
        else:
            job = result.job
            firings.append(
                Firing(
                    schedule.group,
                    schedule.name,
                    due_at,
                    job_id=job.id.value,
                    status=job.status.value,
                    created=result.created,
                )
            )
        scheduler.mark_fired(schedule.group, schedule.name, now)
    return firings


def firing_lines(firings: list[Firing]) -> Text:
    lines = Text()
    for firing in firings:
        if lines:
            lines.append("\n")
        lines.append(f"{firing.group}/{firing.name} due {when(firing.due_at.isoformat())}: ")
        if firing.error is not None:
            lines.append(f"refused: {firing.error}", style="red")
        elif firing.created:
            lines.append(f"submitted job {firing.job_id} ({firing.status})", style="green")
        else:
            lines.append(f"already submitted as job {firing.job_id} ({firing.status})")
    return lines


def schedule_to_json(schedule: ScheduleDefinition) -> dict[str, Any]:
    target = schedule.target
    return {
        "group": schedule.group,
        "name": schedule.name,
        "expression": schedule.expression,
        "timezone": schedule.timezone,
        "enabled": schedule.enabled,
        "connector": target.connector,
        "job_type": target.job_type,
        "payload": target.payload,
    }
