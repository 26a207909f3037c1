"""``overlord quickstart``: a working tenant on a fresh machine in one command.

It runs on the local profile (files and SQLite under ``OVERLORD_HOME``) unless ``--profile``
says otherwise, so it needs no cloud account and no server. It is an ordinary, idempotent use of
the services: a second run reports everything unchanged and finds the sample job it submitted
the first time (the job id is a digest of the request, so the same request is the same job);
the API dataset's run is the exception that lands nothing new (`quickstart_api` says why).
`run_quickstart` is a list of steps over a container, each adding to the result it prints.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import typer
from attrs import define, field
from rich.console import Group, RenderableType
from rich.text import Text

from overlord.domain.batches import BatchStatus
from overlord.domain.dataset_runs import RunStatus
from overlord.domain.jobs import Job, LogEntry
from overlord.entrypoints.batch_json import batch_view_json
from overlord.entrypoints.cli import dataset_views
from overlord.entrypoints.cli.batch_views import BatchProgress, batch_detail, wait
from overlord.entrypoints.cli.job_queries import Progress, fail, wait_for
from overlord.entrypoints.cli.job_views import (
    ending,
    job_detail,
    log_lines,
)
from overlord.entrypoints.cli.output import report_summary, report_table
from overlord.entrypoints.cli.session import Session, session
from overlord.entrypoints.dataset_json import run_json
from overlord.entrypoints.job_json import job_json, log_json
from overlord.entrypoints.platform_json import report_json
from overlord.services.provisioning import ProvisioningReport
from overlord.settings import Profile

if TYPE_CHECKING:
    from overlord.container import Container
    from overlord.domain.dataset_runs import DatasetRun
    from overlord.entrypoints.cli.quickstart_api import SampleApiRun
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
# A small Call Report bulk zip (overlord/samples/call_report_bulk.py writes it) ingested by the
# bank-reports connector's call-reports dataset from the file instead of the FFIEC's site: the
# whole path (gather job, unpack, upload, a process job per table, SQLite) with no network.
SAMPLE_DATASET = ("bank-reports", "call-reports", "call-reports-2026-03-31.zip", "2026-03-31")


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
class SampleRun:
    run: DatasetRun
    created: bool

    def to_json(self) -> dict[str, Any]:
        return {**run_json(self.run), "created": self.created}


@define
class QuickstartResult:
    tenant: str
    connectors: list[ProvisioningReport] = field(factory=list)
    sample: SampleJob | None = None
    batch: SampleBatch | None = None
    dataset: SampleRun | None = None
    api_dataset: SampleApiRun | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "connectors": [report_json(report) for report in self.connectors],
            "job": None if self.sample is None else self.sample.to_json(),
            "batch": None if self.batch is None else self.batch.to_json(),
            "dataset": None if self.dataset is None else self.dataset.to_json(),
            "api_dataset": None if self.api_dataset is None else self.api_dataset.to_json(),
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


def ingest_sample_dataset(container: Container, result: QuickstartResult) -> None:
    """The bundled bulk zip through the call-reports dataset into the local tables, to the end
    (on the memory profile the run stays at its gather job: that backend runs no commands)."""
    connector, dataset, name, period = SAMPLE_DATASET
    archive = (files("overlord.samples") / name).read_bytes()
    datasets = container.datasets()
    started = datasets.start(
        result.tenant,
        connector,
        dataset,
        params={"period": period},
        archive=archive,
        archive_name=name,
    )
    run = started.run
    if container.settings().profile is not Profile.MEMORY and not run.status.finished:
        with dataset_views.RunProgress(lines=False) as progress:
            run = dataset_views.wait(datasets, run, timeout=WAIT_SECONDS, progress=progress)
    result.dataset = SampleRun(run, started.created)


def land_sample_observations(container: Container, result: QuickstartResult) -> None:
    """The weather observations of a recorded window, served on loopback, into the table and
    hourly partitions; not on the aws profile, whose jobs cannot reach this machine."""
    from overlord.entrypoints.cli import quickstart_api  # not at import: the CLI starts lean

    if container.settings().profile is not Profile.AWS:
        result.api_dataset = quickstart_api.land_recorded_window(
            container, result.tenant, WAIT_SECONDS
        )


# What quickstart does, in order; each step adds to the result that is printed at the end.
STEPS: tuple[Callable[[Container, QuickstartResult], None], ...] = (
    provision_every_connector,
    submit_sample_job,
    run_sample_batch,
    ingest_sample_dataset,
    land_sample_observations,
)


def run_quickstart(container: Container, tenant: str = TENANT) -> QuickstartResult:
    result = QuickstartResult(tenant)
    for step in STEPS:
        step(container, result)
    return result


def quickstart(ctx: typer.Context) -> None:
    """Provision the sample tenant 'acme', run a sample job, batch and datasets, show them.

    Every connector in the catalog is provisioned, on the local profile unless --profile is
    given. The datasets are a bundled bulk zip and three hours of recorded weather API
    responses served on 127.0.0.1: no network is used. Safe to run again: a second run finds
    the same job. Exits 1 if the job, the batch or a dataset run fails.
    """
    from overlord.entrypoints.cli import quickstart_api

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
        if result.dataset is not None:
            out.show(*dataset_section(result.dataset), Text())
        if result.api_dataset is not None:
            out.show(*quickstart_api.api_section(result.api_dataset), Text())
        elif current.settings().profile is Profile.AWS:
            skipped = quickstart_api.SKIPPED_ON_AWS
            out.show(Text.assemble(("sample API dataset", "bold"), f": {skipped}"), Text())
        out.show(next_steps(current, result))
    batch = result.batch
    if batch is not None and batch.view.batch.status is not BatchStatus.SUCCEEDED:
        fail(f"the sample batch ended {batch.view.batch.status}")
    ingest = result.dataset
    if ingest is not None and ingest.run.status is RunStatus.FAILED:
        fail(f"the sample dataset run failed: {'; '.join(ingest.run.errors)}")
    problem = quickstart_api.failure(result.api_dataset)
    if problem is not None:
        fail(problem)
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


def dataset_section(sample: SampleRun) -> tuple[RenderableType, ...]:
    run = sample.run
    state = "started" if sample.created else "already run by an earlier run"
    title = Text.assemble(
        ("sample dataset", "bold"), f": {run.tenant}/{run.connector} {run.dataset}, {state}"
    )
    shown: tuple[RenderableType, ...] = (title, dataset_views.summary(run))
    return (*shown, dataset_views.folders_table(run)) if run.folders else shown


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
    if result.dataset is not None:
        run_id = result.dataset.run.run_id
        hints += [
            (current.command("datasets", "show", result.tenant, run_id), "the sample dataset run"),
            (current.command("datasets", "list", result.tenant), "the datasets connectors offer"),
        ]
    if result.api_dataset is not None:
        run = result.api_dataset.run
        hints.append(
            (
                current.command("datasets", "partitions", run.tenant, run.connector, run.dataset),
                "the hourly partitions of the observations",
            )
        )
    hints.append((current.command("tenants", "delete", result.tenant, "--purge"), "remove it all"))
    width = max(len(command) for command, _ in hints)
    lines = Text().append("next steps:\n", style="bold")
    for command, why in hints:
        lines.append(f"  {command.ljust(width)}", style="cyan").append(f"  {why}\n")
    lines.rstrip()
    return lines
