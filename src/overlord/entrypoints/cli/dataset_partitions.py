"""``overlord datasets partitions`` and ``datasets partition``: a dataset's Parquet partitions.

A partitioned dataset's run ends with its partition job, which rewrites the partitions its window
touches from the raw folders landed for it. ``partitions`` lists what is stored (from each
partition's ``_SUCCESS`` marker: a partition without one is being written, and readers skip it);
``partition`` submits that job for any window, to rebuild partitions from what has landed without
asking the API again (a run keys its own by what it landed, so this one is new). Like every job
it is keyed by its request: the same window asked again is "already submitted", and
``--idempotency-key`` rewrites it once more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from overlord.domain.errors import InvalidInput
from overlord.domain.jobs import Job, JobStatus
from overlord.domain.partitions import partition_span
from overlord.domain.windows import Window, instant_text, parse_instant
from overlord.entrypoints.cli.dataset_options import (
    INSTANT_HELP,
    ConnectorArg,
    DatasetArg,
    EndOpt,
    StartOpt,
    TenantArg,
    check_names,
    instant,
)
from overlord.entrypoints.cli.dataset_views import partitions_table
from overlord.entrypoints.cli.job_queries import Progress, fail, require_tenant, wait_for
from overlord.entrypoints.cli.session import Session, session
from overlord.entrypoints.dataset_json import partition_json

if TYPE_CHECKING:
    from overlord.domain.partitions import PartitionInfo

WindowStart = Annotated[str, typer.Option("--start", help=f"From {INSTANT_HELP}.")]
WindowEnd = Annotated[str, typer.Option("--end", help=f"Up to (not including) {INSTANT_HELP}.")]
PartitionWait = Annotated[
    bool, typer.Option("--wait", help="Follow the partition job until it ends (on stderr).")
]
PartitionTimeout = Annotated[
    float, typer.Option(min=0.1, help="Seconds --wait follows the job before giving up.")
]
PartitionKey = Annotated[
    str | None,
    typer.Option("--idempotency-key", help="Rewrite again a window already asked for."),
]


def list_partitions(
    ctx: typer.Context,
    tenant: TenantArg,
    connector: ConnectorArg,
    dataset: DatasetArg,
    start: StartOpt = None,
    end: EndOpt = None,
) -> None:
    """The dataset's partitions starting in [--start, --end): rows, files, whether published."""
    check_names(tenant, connector, dataset)
    first, last = instant(start, "--start"), instant(end, "--end")
    if first is not None and last is not None and last <= first:
        raise InvalidInput(f"--end {instant_text(last)} is not after --start {instant_text(first)}")
    current = session(ctx)
    container = current.container()
    require_tenant(container, tenant)
    found = container.datasets().partitions(tenant, connector, dataset, start=first, end=last)
    out = current.output
    if out.json:
        out.emit_json([partition_json(info) for info in found])
    elif found:
        rows = sum(info.rows for info in found)
        out.show(Text(f"{len(found)} partition(s) of {dataset}, {rows:,} published rows"))
        out.show(partitions_table(found))
    else:
        hint = current.command("datasets", "run", tenant, connector, dataset, "--help")
        out.show(Text(f"no partitions of {dataset} there yet; runs land them: see `{hint}`"))


def partition(
    ctx: typer.Context,
    tenant: TenantArg,
    connector: ConnectorArg,
    dataset: DatasetArg,
    start: WindowStart,
    end: WindowEnd,
    idempotency_key: PartitionKey = None,
    wait_for_it: PartitionWait = False,
    timeout: PartitionTimeout = 1800.0,
) -> None:
    """Rewrite the partitions a time window touches from what has landed (the partition job)."""
    check_names(tenant, connector, dataset)
    window = Window(parse_instant(start, "--start"), parse_instant(end, "--end"))
    current = session(ctx)
    container = current.container()
    require_tenant(container, tenant)
    datasets = container.datasets()
    submitted = datasets.submit_partition(
        tenant, connector, dataset, window, idempotency_key=idempotency_key
    )
    job = submitted.job
    if wait_for_it and not job.finished:
        with Progress(lines=True) as progress:
            job = wait_for(
                container.jobs(), tenant, job.id.value, timeout=timeout, progress=progress
            )
    partitioning = datasets.dataset(tenant, connector, dataset).partitioning
    assert partitioning is not None  # submit_partition refuses a dataset without
    span = partition_span(window, partitioning.granularity)
    found = datasets.partitions(tenant, connector, dataset, start=span.start, end=span.end)
    out = current.output
    if out.json:
        out.emit_json(
            {
                "job_id": job.id.value,
                "status": job.status.value,
                "created": submitted.created,
                "window": str(window),
                "partitions": [partition_json(info) for info in found],
            }
        )
    else:
        _show(current, job, submitted.created, window, found)
    if wait_for_it:
        _ending(current, job, timeout)


def _show(
    current: Session, job: Job, created: bool, window: Window, found: list[PartitionInfo]
) -> None:
    out = current.output
    verb = "submitted" if created else "already submitted"
    out.show(Text(f"{verb} partition job {job.id} for {window}: {job.status}"))
    if job.status is JobStatus.SUCCEEDED and found:
        out.show(partitions_table(found))
    if not job.finished:
        hint = current.command("jobs", "show", job.id.value)
        out.show(Text(f"follow it with `{hint}`", style="dim"))
    elif not created:
        out.show(Text("--idempotency-key KEY rewrites the window again", style="dim"))


def _ending(current: Session, job: Job, timeout: float) -> None:
    if not job.finished:
        hint = current.command("jobs", "show", job.id.value)
        fail(f"partition job {job.id} is still {job.status} after {timeout:g}s; see `{hint}`")
    if job.status is not JobStatus.SUCCEEDED:
        logs = current.command("jobs", "logs", job.id.value)
        reason = job.status_reason or job.status.value
        fail(f"partition job {job.id} ended {job.status}: {reason}; its logs: `{logs}`")
