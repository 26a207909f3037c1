"""``overlord quickstart``: a working tenant on a fresh machine in one command.

It runs on the local profile (files and SQLite under ``OVERLORD_HOME``) unless ``--profile``
says otherwise, so it needs no cloud account and no server. It is an ordinary, idempotent use of
the services: a second run reports everything unchanged and finds the sample job it submitted
the first time (the job id is a digest of the request, so the same request is the same job).
`run_quickstart` is a list of steps over a container, each adding to the result it prints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from attrs import define, field
from rich.console import Group, RenderableType
from rich.text import Text

from overlord.domain.batches import BatchStatus
from overlord.domain.jobs import Job, LogEntry
from overlord.entrypoints.batch_json import batch_view_json
from overlord.entrypoints.cli.batch_views import BatchProgress, batch_detail, wait
from overlord.entrypoints.cli.job_queries import Progress, fail, wait_for
from overlord.entrypoints.cli.job_views import (
    ending,
    job_detail,
    log_lines,
)
from overlord.entrypoints.cli.output import report_summary, report_table
from overlord.entrypoints.cli.session import Session, session
from overlord.entrypoints.job_json import job_json, log_json
from overlord.entrypoints.platform_json import report_json
from overlord.services.provisioning import ProvisioningReport
from overlord.settings import Profile

if TYPE_CHECKING:
    from overlord.container import Container
    from overlord.services.batches import BatchView

TENANT = "acme"
# The weather connector's ingest job runs a real command (python -m overlord.samples.weather)
# in a second or so, with no network: a sample job every machine can run.
SAMPLE_JOB = ("weather", "ingest", {"stations": ["KSEA", "KJFK"]})
WAIT_SECONDS = 300.0
# The original batch manager's request: ten items in chunks of five, run by the default
# pipeline (process-task-1, process-task-2); the same batch id on every run.
SAMPLE_BATCH_CONNECTOR = "batch-manager"
SAMPLE_BATCH = {
    "batchId": "quickstart-sample",
    "totalItems": 10,
    "batchSize": 5,
    "currentBatch": 0,
    "itemIds": [f"item-{n:02d}" for n in range(1, 11)],
}


@define
class SampleJob:
    job: Job
    created: bool
    logs: list[LogEntry]

    def to_json(self) -> dict[str, Any]:
        return {
            **job_json(self.job),
            "created": self.created,
            "logs": [log_json(entry) for entry in self.logs],
        }


@define
class SampleBatch:
    view: BatchView
    created: bool

    def to_json(self) -> dict[str, Any]:
        return {**batch_view_json(self.view), "created": self.created}


@define
class QuickstartResult:
    tenant: str
    connectors: list[ProvisioningReport] = field(factory=list)
    sample: SampleJob | None = None
    batch: SampleBatch | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "connectors": [report_json(report) for report in self.connectors],
            "job": None if self.sample is None else self.sample.to_json(),
            "batch": None if self.batch is None else self.batch.to_json(),
        }


def provision_every_connector(container: Container, result: QuickstartResult) -> None:
    for template in container.catalog().list():
        result.connectors.append(container.provisioning().apply(result.tenant, template.name.value))


def submit_sample_job(container: Container, result: QuickstartResult) -> None:
    """Submit the sample job and follow it to the end, except on the memory profile, whose
    backend runs no commands (its job stays SUBMITTED)."""
    connector, job_type, payload = SAMPLE_JOB
    jobs = container.jobs()
    submitted = jobs.submit(result.tenant, connector, job_type, payload)
    job = submitted.job
    if container.settings().profile is not Profile.MEMORY and not job.finished:
        with Progress(lines=False) as progress:
            job = wait_for(
                jobs, result.tenant, job.id.value, timeout=WAIT_SECONDS, progress=progress
            )
    else:
        jobs.refresh(result.tenant, job.id.value)
        job = jobs.get(result.tenant, job.id.value)
    result.sample = SampleJob(job, submitted.created, jobs.logs(result.tenant, job.id.value))


def run_sample_batch(container: Container, result: QuickstartResult) -> None:
    """Ten items through the batch-manager's two sample tasks, five at a time, to the end."""
    batches = container.batches()
    started = batches.start(result.tenant, SAMPLE_BATCH_CONNECTOR, SAMPLE_BATCH)
    record = started.batch
    if not record.finished:
        with BatchProgress(lines=False) as progress:
            record = wait(batches, record, timeout=WAIT_SECONDS, progress=progress)
    view = batches.show(result.tenant, record.id)
    result.batch = SampleBatch(view, started.created)


# What quickstart does, in order; each step adds to the result that is printed at the end.
STEPS: tuple[Callable[[Container, QuickstartResult], None], ...] = (
    provision_every_connector,
    submit_sample_job,
    run_sample_batch,
)


def run_quickstart(container: Container, tenant: str = TENANT) -> QuickstartResult:
    result = QuickstartResult(tenant)
    for step in STEPS:
        step(container, result)
    return result


def quickstart(ctx: typer.Context) -> None:
    """Provision the sample tenant 'acme', run a sample job and a sample batch, show them.

    Every connector in the catalog is provisioned, on the local profile unless --profile is
    given. Safe to run again: a second run finds the same job. Exits 1 if the job fails.
    """
    current = session(ctx)
    result = run_quickstart(current.container(default_profile=Profile.LOCAL))
    out = current.output
    if out.json:
        out.emit_json(result.to_json())
    else:
        out.show(heading(current, result), Text())
        for report in result.connectors:
            out.show(report_table(report), report_summary(report), Text())
        if result.sample is not None:
            out.show(*sample_section(result.sample), Text())
        if result.batch is not None:
            out.show(*batch_section(result.batch), Text())
        out.show(next_steps(current, result))
    batch = result.batch
    if batch is not None and batch.view.batch.status is not BatchStatus.SUCCEEDED:
        fail(f"the sample batch ended {batch.view.batch.status}")
    sample = result.sample
    if sample is None:
        return
    problem = ending(sample.job)
    if problem is not None:
        fail(problem)
    if not sample.job.finished and current.settings().profile is not Profile.MEMORY:
        hint = current.command("jobs", "watch")
        fail(f"the sample job is still {sample.job.status}; follow it with `{hint}`")


def sample_section(sample: SampleJob) -> tuple[Text, Group, Text, Text]:
    job = sample.job
    connector, job_type, _ = SAMPLE_JOB
    state = "submitted" if sample.created else "already submitted by an earlier run"
    title = Text.assemble(("sample job", "bold"), f": {job.tenant}/{connector} {job_type}, {state}")
    return title, job_detail(job), Text("\nlogs", style="bold"), log_lines(sample.logs)


def batch_section(batch: SampleBatch) -> tuple[RenderableType, ...]:
    state = "started" if batch.created else "already run by an earlier run"
    record = batch.view.batch
    title = Text.assemble(
        ("sample batch", "bold"), f": {record.tenant}/{record.connector}, {state}"
    )
    return (title, *batch_detail(batch.view))


def heading(current: Session, result: QuickstartResult) -> Text:
    settings = current.settings()
    where = {
        Profile.LOCAL: f"local profile, state in {settings.home}",
        Profile.MEMORY: "memory profile, nothing is kept after this command",
        Profile.AWS: "aws profile",
    }[settings.profile]
    return Text.assemble(
        ("overlord quickstart", "bold"),
        f": tenant {result.tenant} with {len(result.connectors)} connectors ({where})",
    )


def next_steps(current: Session, result: QuickstartResult) -> Text:
    hints = [
        (current.command("tenants", "show", result.tenant), "what was made, and is it in sync"),
        (current.command("connectors", "list"), "the connector catalog"),
    ]
    if result.sample is not None:
        job_id = result.sample.job.id.value
        hints += [
            (current.command("jobs", "show", job_id), "the sample job and its runs"),
            (current.command("jobs", "logs", job_id), "what it printed"),
            (current.command("jobs", "watch"), "every job, live"),
        ]
    if result.batch is not None:
        batch_id = result.batch.view.batch.id
        hints += [
            (current.command("batches", "show", batch_id), "the sample batch and its items"),
            (current.command("batches", "list", result.tenant), "every batch of the tenant"),
        ]
    hints.append((current.command("tenants", "delete", result.tenant, "--purge"), "remove it all"))
    width = max(len(command) for command, _ in hints)
    lines = Text().append("next steps:\n", style="bold")
    for command, why in hints:
        lines.append(f"  {command.ljust(width)}", style="cyan").append(f"  {why}\n")
    lines.rstrip()
    return lines
