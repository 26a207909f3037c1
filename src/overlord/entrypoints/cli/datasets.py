"""``overlord datasets``: run a connector's datasets (gather, then process every folder) and see
where they stand.

Every stage is a job of the tenant's connector, so a run is its gather job: the same request
again shows the same run (a run without ``--param period=...`` is keyed by the day), and
``overlord jobs logs RUN_ID`` shows what the gather did. An API dataset's run covers
``--start``..``--end`` (a backfill) or, without them, from the dataset's cursor to now; its
partitions are listed and rewritten by the commands of `dataset_partitions`. Bad input is one
line on stderr, exit 2, with nothing written; with ``--wait`` a run that ends FAILED exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from overlord.domain.datasets import ApiSource
from overlord.domain.errors import InvalidInput
from overlord.domain.names import ConnectorName, TenantName, slug
from overlord.entrypoints.cli import dataset_partitions
from overlord.entrypoints.cli.dataset_options import (
    ConnectorArg,
    DatasetArg,
    EndOpt,
    KeyOpt,
    StartOpt,
    TenantArg,
    TimeoutOpt,
    WaitOpt,
    check_names,
    instant,
)
from overlord.entrypoints.cli.dataset_views import (
    DatasetKey,
    RunProgress,
    datasets_table,
    folders_table,
    runs_table,
    summary,
    wait,
)
from overlord.entrypoints.cli.job_queries import fail, require_tenant, tenant_names
from overlord.entrypoints.cli.session import Session, help_without_command, session
from overlord.entrypoints.dataset_json import listed_dataset_json, run_json

if TYPE_CHECKING:
    from datetime import datetime

    from overlord.domain.dataset_runs import DatasetRun
    from overlord.services.datasets import DatasetInfo

MAX_ARCHIVE_BYTES = 4 * 1024**3

app = typer.Typer(
    name="datasets",
    help="Gather, unpack, upload, clean and load a connector's datasets; follow their runs.",
    invoke_without_command=True,
)

ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", help="K=V for the recipe, repeatable (period=2026-03-31 picks a period)."
    ),
]
SourceUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--source-url",
        help="Point the recipe at a mirror: its scheme, host and port replace "
        "those of the recipe's page.",
    ),
]
ArchiveOpt = Annotated[
    Path | None,
    typer.Option(
        "--archive", help="A bulk zip you already have: unpacked instead of fetching the source."
    ),
]


@app.callback()
def group(ctx: typer.Context) -> None:
    help_without_command(ctx)


def parse_params(given: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in given or ():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidInput(f"--param {item[:60]!r}: expected NAME=VALUE")
        if name in params:
            raise InvalidInput(f"--param {name} is given twice")
        params[name] = value
    return params


def _read_archive(archive: Path | None) -> bytes | None:
    if archive is None:
        return None
    try:
        if archive.stat().st_size > MAX_ARCHIVE_BYTES:
            raise InvalidInput(f"--archive {archive}: larger than {MAX_ARCHIVE_BYTES} bytes")
        return archive.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"--archive {archive}: cannot read it ({exc.strerror})") from None


def _start(
    ctx: typer.Context,
    tenant: str,
    connector: str,
    dataset: str,
    *,
    params: list[str] | None,
    source_url: str | None,
    archive: Path | None,
    idempotency_key: str | None,
    process: bool,
    start: str | None,
    end: str | None,
    wait_for_it: bool,
    timeout: float,
) -> None:
    check_names(tenant, connector, dataset)
    values = parse_params(params)
    instant(start, "--start")  # named by its option here; the service checks the window
    instant(end, "--end")
    data = _read_archive(archive)
    current = session(ctx)
    container = current.container()
    require_tenant(container, tenant)
    datasets = container.datasets()
    started = datasets.start(
        tenant,
        connector,
        dataset,
        params=values,
        source_url=source_url,
        archive=data,
        archive_name=archive.name if archive is not None else "archive.zip",
        process=process,
        idempotency_key=idempotency_key,
        start=start,
        end=end,
    )
    run = started.run
    if wait_for_it:
        with RunProgress() as progress:
            run = wait(datasets, run, timeout=timeout, progress=progress)
    _show(current, run, "started" if started.created else "already started")
    if wait_for_it:
        _ending(current, run, timeout)


def _show(current: Session, run: DatasetRun, verb: str | None = None) -> None:
    out = current.output
    if out.json:
        out.emit_json(run_json(run))
        return
    if verb is not None:
        out.show(Text(f"{verb} {run.tenant}/{run.connector} dataset {run.dataset}"))
    out.show(summary(run))
    if run.folders:
        out.show(folders_table(run))
    if not run.status.finished:
        hint = current.command("datasets", "show", run.tenant, run.run_id, "--wait")
        out.show(Text(f"follow it with `{hint}`", style="dim"))


def _ending(current: Session, run: DatasetRun, timeout: float) -> None:
    if not run.status.finished:
        hint = current.command("datasets", "show", run.tenant, run.run_id)
        fail(f"run {run.run_id} is still {run.status} after {timeout:g}s; see `{hint}`")
    if run.status.value == "FAILED":
        logs = current.command("jobs", "logs", run.run_id)
        reason = run.errors[0] if run.errors else "see its jobs"
        fail(f"run {run.run_id} failed: {reason}; the gather job's logs: `{logs}`")


@app.command("run")
def run_dataset(
    ctx: typer.Context,
    tenant: TenantArg,
    connector: ConnectorArg,
    dataset: DatasetArg,
    param: ParamOpt = None,
    source_url: SourceUrlOpt = None,
    archive: ArchiveOpt = None,
    idempotency_key: KeyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    wait_for_it: WaitOpt = False,
    timeout: TimeoutOpt = 1800.0,
) -> None:
    """Gather a period (or an API dataset's window), then process each folder (each a job)."""
    _start(
        ctx,
        tenant,
        connector,
        dataset,
        params=param,
        source_url=source_url,
        archive=archive,
        idempotency_key=idempotency_key,
        process=True,
        start=start,
        end=end,
        wait_for_it=wait_for_it,
        timeout=timeout,
    )


@app.command("gather")
def gather(
    ctx: typer.Context,
    tenant: TenantArg,
    connector: ConnectorArg,
    dataset: DatasetArg,
    param: ParamOpt = None,
    source_url: SourceUrlOpt = None,
    archive: ArchiveOpt = None,
    idempotency_key: KeyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    wait_for_it: WaitOpt = False,
    timeout: TimeoutOpt = 1800.0,
) -> None:
    """Gather and upload a period's (or a time window's) folders without processing them."""
    _start(
        ctx,
        tenant,
        connector,
        dataset,
        params=param,
        source_url=source_url,
        archive=archive,
        idempotency_key=idempotency_key,
        process=False,
        start=start,
        end=end,
        wait_for_it=wait_for_it,
        timeout=timeout,
    )


@app.command("process")
def process(
    ctx: typer.Context,
    tenant: TenantArg,
    connector: ConnectorArg,
    dataset: DatasetArg,
    folder: Annotated[
        str, typer.Option("--folder", help="A complete folder: raw/DATASET/PERIOD/TABLE/")
    ],
) -> None:
    """Submit the process job of one complete folder (once per folder contents)."""
    check_names(tenant, connector, dataset)
    if not folder.startswith(f"raw/{dataset}/"):
        raise InvalidInput(f"--folder {folder[:80]!r} is not a folder of dataset {dataset}")
    current = session(ctx)
    container = current.container()
    require_tenant(container, tenant)
    submitted = container.datasets().process_folder_key(tenant, connector, folder)
    job = submitted.job
    out = current.output
    if out.json:
        out.emit_json(
            {"job_id": job.id.value, "status": job.status.value, "created": submitted.created}
        )
        return
    verb = "submitted" if submitted.created else "already submitted"
    hint = current.command("jobs", "show", job.id.value)
    out.show(Text(f"{verb} process job {job.id} for {folder}: {job.status}; see `{hint}`"))


@app.command("show")
def show(
    ctx: typer.Context,
    tenant: TenantArg,
    run_id: Annotated[str, typer.Argument(help="A run's id (its gather job's id).")],
    wait_for_it: WaitOpt = False,
    timeout: TimeoutOpt = 1800.0,
) -> None:
    """A run: what it gathered, and each folder's load."""
    TenantName(tenant)
    current = session(ctx)
    container = current.container()
    require_tenant(container, tenant)
    datasets = container.datasets()
    run = datasets.run(tenant, run_id)
    if wait_for_it:
        with RunProgress() as progress:
            run = wait(datasets, run, timeout=timeout, progress=progress)
    else:
        datasets.refresh(tenant, run)
        run = datasets.run(tenant, run_id)
    _show(current, run)
    if wait_for_it:
        _ending(current, run, timeout)


@app.command("list")
def list_datasets(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Argument(help="Only this tenant's.")] = None,
) -> None:
    """The datasets of every tenant's connectors (or one tenant's), API ones with a cursor.

    An API dataset's cursor says how far it has fully landed: its next cadence run starts there.
    """
    if tenant is not None:
        TenantName(tenant)
    current = session(ctx)
    container = current.container()
    if tenant is not None:
        require_tenant(container, tenant)
    datasets = container.datasets()
    found: list[DatasetInfo] = []
    for name in [tenant] if tenant is not None else tenant_names(container):
        found.extend(datasets.datasets(name))
    cursors: dict[DatasetKey, datetime | None] = {
        (info.tenant, info.connector, info.dataset.name): datasets.cursor(
            info.tenant, info.connector, info.dataset.name
        )
        for info in found
        if info.tenant is not None and isinstance(info.dataset.source, ApiSource)
    }
    out = current.output
    if out.json:
        out.emit_json(
            [
                listed_dataset_json(
                    info, cursors.get((info.tenant, info.connector, info.dataset.name))
                )
                for info in found
            ]
        )
    elif found:
        out.show(datasets_table(found, cursors))
    else:
        hint = current.command("tenants", "init", tenant or "acme", "bank-reports")
        out.show(Text(f"no datasets yet: a connector that declares some is `{hint}`"))


@app.command("status")
def status(
    ctx: typer.Context,
    tenant: TenantArg,
    connector: Annotated[str | None, typer.Argument(help="Only this connector's.")] = None,
    dataset: Annotated[str | None, typer.Argument(help="Only this dataset's.")] = None,
) -> None:
    """The tenant's dataset runs, newest first."""
    TenantName(tenant)
    if connector is not None:
        ConnectorName(connector)
    if dataset is not None:
        slug("dataset", dataset)
    current = session(ctx)
    container = current.container()
    require_tenant(container, tenant)
    datasets = container.datasets()
    if connector is not None and dataset is not None:
        datasets.dataset(tenant, connector, dataset)  # an unknown one is NotFound, not empty
    runs = datasets.runs(tenant, connector, dataset)
    for run in runs:
        if not run.status.finished:
            datasets.refresh(tenant, run)
    runs = [datasets.run(tenant, run.run_id) if not run.status.finished else run for run in runs]
    out = current.output
    if out.json:
        out.emit_json([run_json(run) for run in runs])
    elif runs:
        out.show(runs_table(runs))
    else:
        out.show(Text(f"no dataset runs yet: see `{current.command('datasets', 'run', '--help')}`"))


app.command("partitions")(dataset_partitions.list_partitions)
app.command("partition")(dataset_partitions.partition)
