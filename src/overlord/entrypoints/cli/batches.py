"""``overlord batches``: start item batches once, follow them, retry, cancel and resume them.

A batch id is unique within its tenant, so the commands that take a BATCH_ID look in every
tenant unless ``--tenant`` narrows the search. Everything typed is checked before anything is
written: bad input is one line on stderr, exit 2, nothing written. ``start`` without
``--batch-id`` derives the id from the request, so the same command twice is the same batch.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from overlord.domain.batches import BatchStatus, check_batch_id
from overlord.domain.errors import InvalidInput, NotFound
from overlord.domain.names import ConnectorName, TenantName
from overlord.entrypoints.batch_json import batch_json, batch_view_json
from overlord.entrypoints.cli.batch_views import BatchProgress, batch_detail, batches_table, wait
from overlord.entrypoints.cli.job_queries import check_tenant, fail, require_tenant, tenant_names
from overlord.entrypoints.cli.session import Session, help_without_command, session

if TYPE_CHECKING:
    from overlord.container import Container
    from overlord.domain.batch_records import BatchRecord
    from overlord.services.batches import BatchService

app = typer.Typer(
    name="batches",
    help="Run item batches through task pipelines; follow, retry, cancel and resume them.",
    invoke_without_command=True,
)

BatchIdArg = Annotated[str, typer.Argument(help="Batch id (the request's batchId).")]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", "-t", help="Only this tenant (default: every tenant).")
]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="Follow the batch until it ends (progress on stderr).")
]
TimeoutOpt = Annotated[
    float, typer.Option(min=0.1, help="Seconds --wait follows the batch before giving up.")
]
ENDED_BADLY = (BatchStatus.FAILED, BatchStatus.PARTIALLY_FAILED, BatchStatus.CANCELLED)


@app.callback()
def group(ctx: typer.Context) -> None:
    help_without_command(ctx)


def read_items(item_ids: str | None, items: Path | None) -> list[str]:
    """Ids from ``--item-ids a,b`` or ``--items FILE`` (one per line, or a JSON array; ``-``
    reads standard input)."""
    if item_ids is not None and items is None:
        return [part.strip() for part in item_ids.split(",")]
    if items is None or item_ids is not None:
        raise InvalidInput("give the items with exactly one of --item-ids and --items")
    try:
        text = sys.stdin.read() if str(items) == "-" else items.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"--items {items}: cannot read it ({exc})") from None
    if text.lstrip().startswith("["):
        try:
            found = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"--items {items}: not a JSON array of ids ({exc})") from None
        if not isinstance(found, list):
            raise InvalidInput(f"--items {items}: not a JSON array of ids")
        return found
    return [line.strip() for line in text.splitlines() if line.strip()]


def derived_batch_id(connector: str, pipeline: str | None, size: int | None, ids: list[str]) -> str:
    material = json.dumps([connector, pipeline, size, ids], separators=(",", ":"))
    return "b-" + hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


@app.command("start")
def start(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant name.")],
    connector: Annotated[str, typer.Argument(help="One of the tenant's connectors.")],
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Items per chunk (default: the pipeline's)."),
    ] = None,
    item_ids: Annotated[
        str | None, typer.Option("--item-ids", help="Comma-separated item ids.")
    ] = None,
    items: Annotated[
        Path | None,
        typer.Option(
            "--items", help="A file of item ids: one per line or a JSON array; - for stdin."
        ),
    ] = None,
    pipeline: Annotated[
        str | None,
        typer.Option(help="A pipeline of the connector, or tasks: t1,t2 (default: its default)."),
    ] = None,
    batch_id: Annotated[
        str | None, typer.Option("--batch-id", help="The batch's id (default: from the request).")
    ] = None,
    wait_for_it: WaitOpt = False,
    timeout: TimeoutOpt = 600.0,
) -> None:
    """Start a batch once: the same request again shows the batch it started.

    Exits 1 when, with --wait, the batch ends FAILED, PARTIALLY_FAILED or CANCELLED.
    """
    TenantName(tenant)
    ConnectorName(connector)
    ids = read_items(item_ids, items)
    if batch_id is not None:
        check_batch_id(batch_id)
    body: dict[str, object] = {
        "batchId": batch_id or derived_batch_id(connector, pipeline, batch_size, ids),
        "totalItems": len(ids),
        "currentBatch": 0,
        "itemIds": ids,
    }
    if batch_size is not None:
        body["batchSize"] = batch_size
    current = session(ctx)
    container = current.container()
    require_tenant(container, tenant)
    result = container.batches().start(tenant, connector, body, pipeline=pipeline)
    record = result.batch
    if wait_for_it:  # even when it has ended: its last line says how
        record = _follow(container, record, timeout)
    _show_record(current, record, "started" if result.created else "already started")
    _ending(current, record, wait_for_it, timeout)


def _follow(container: Container, record: BatchRecord, timeout: float) -> BatchRecord:
    with BatchProgress() as progress:
        return wait(container.batches(), record, timeout=timeout, progress=progress)


def _show_record(current: Session, record: BatchRecord, verb: str) -> None:
    out = current.output
    if out.json:
        out.emit_json(batch_json(record))
        return
    view = current.container().batches().show(record.tenant, record.id)
    out.show(
        Text.assemble(f"{verb} {record.tenant}/{record.connector}: batch ", (record.id, "bold"))
    )
    out.show(*batch_detail(view))


def _ending(current: Session, record: BatchRecord, waited: bool, timeout: float) -> None:
    if not waited:
        return
    if not record.finished:
        hint = current.command("batches", "show", record.id, "--tenant", record.tenant)
        fail(f"batch {record.id} is still {record.status} after {timeout:g}s; see `{hint}`")
    if record.status in ENDED_BADLY:
        counts = record.counts
        hint = current.command("batches", "retry", record.id, "--tenant", record.tenant)
        again = f"; retry the failed ones with `{hint}`" if counts.get("failed") else ""
        fail(f"batch {record.id} ended {record.status}: {counts.get('failed', 0)} failed{again}")


def find_batch(container: Container, batch_id: str, tenant: str | None) -> BatchRecord:
    check_batch_id(batch_id)
    if tenant is not None:
        require_tenant(container, tenant)
    batches = container.batches()
    for name in [tenant] if tenant is not None else tenant_names(container):
        try:
            return batches.get(name, batch_id)
        except NotFound:
            continue
    where = f"tenant {tenant!r}" if tenant is not None else "any tenant"
    raise NotFound(f"no batch {batch_id!r} in {where}")


@app.command("show")
def show(
    ctx: typer.Context,
    batch_id: BatchIdArg,
    tenant: TenantOpt = None,
    page: Annotated[str | None, typer.Option(help="From a previous page's next_page.")] = None,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Requests per page.")] = 100,
) -> None:
    """A batch, its counts and (a page of) its requests."""
    check_tenant(tenant)
    current = session(ctx)
    container = current.container()
    record = find_batch(container, batch_id, tenant)
    view = container.batches().show(record.tenant, record.id, page=page, size=page_size)
    out = current.output
    if out.json:
        out.emit_json(batch_view_json(view))
    else:
        out.show(*batch_detail(view))
        if view.next_page is not None:
            hint = current.command("batches", "show", record.id, "--page", view.next_page)
            out.show(Text(f"more: `{hint}`", style="dim"))


@app.command("list")
def list_batches(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant name.")],
    status: Annotated[
        BatchStatus | None, typer.Option(case_sensitive=False, help="Only batches in this status.")
    ] = None,
    connector: Annotated[str | None, typer.Option(help="Only this connector's batches.")] = None,
) -> None:
    """The tenant's batches, oldest first."""
    TenantName(tenant)
    if connector is not None:
        ConnectorName(connector)
    current = session(ctx)
    container = current.container()
    require_tenant(container, tenant)
    found = container.batches().list(tenant, connector=connector, status=status)
    out = current.output
    if out.json:
        out.emit_json([batch_json(b) for b in found])
    elif found:
        out.show(batches_table(None, found))
    else:
        hint = current.command(
            "batches", "start", tenant, "batch-manager", "--item-ids", "a,b,c", "--batch-size", "2"
        )
        out.show(Text(f"no batches yet: try `{hint}`"))


Action = Callable[["BatchService", "BatchRecord"], "BatchRecord"]


def _act(
    ctx: typer.Context,
    batch_id: str,
    tenant: str | None,
    action: Action,
    verb: str,
    *,
    wait_for_it: bool = False,
    timeout: float = 600.0,
) -> None:
    check_tenant(tenant)
    current = session(ctx)
    container = current.container()
    record = action(container.batches(), find_batch(container, batch_id, tenant))
    if wait_for_it:  # even when it has ended: its last line says how
        record = _follow(container, record, timeout)
    _show_record(current, record, verb)
    _ending(current, record, wait_for_it, timeout)


@app.command("retry")
def retry(
    ctx: typer.Context,
    batch_id: BatchIdArg,
    tenant: TenantOpt = None,
    wait_for_it: WaitOpt = False,
    timeout: TimeoutOpt = 600.0,
) -> None:
    """Run the failed items again (a new attempt), each from the step that failed it."""
    _act(
        ctx,
        batch_id,
        tenant,
        lambda batches, r: batches.retry(r.tenant, r.id),
        "retrying",
        wait_for_it=wait_for_it,
        timeout=timeout,
    )


@app.command("resume")
def resume(
    ctx: typer.Context,
    batch_id: BatchIdArg,
    tenant: TenantOpt = None,
    wait_for_it: WaitOpt = False,
    timeout: TimeoutOpt = 600.0,
) -> None:
    """Continue a batch whose run was interrupted (its process died): items recorded as done
    are not run again."""
    _act(
        ctx,
        batch_id,
        tenant,
        lambda batches, r: batches.resume(r.tenant, r.id),
        "resumed",
        wait_for_it=wait_for_it,
        timeout=timeout,
    )


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    batch_id: BatchIdArg,
    tenant: TenantOpt = None,
    reason: Annotated[str, typer.Option(help="Recorded on the batch.")] = "cancelled by user",
) -> None:
    """Start no more chunks; items that never ran end CANCELLED."""
    if not reason.strip() or not reason.isprintable() or len(reason) > 500:
        raise InvalidInput("--reason must be 1-500 printable characters")
    _act(ctx, batch_id, tenant, lambda b, r: b.cancel(r.tenant, r.id, reason), "cancelled")


@app.command("sweep")
def sweep(ctx: typer.Context, tenant: TenantOpt = None) -> None:
    """Resume every interrupted batch (what the scheduled maintenance sweep does)."""
    check_tenant(tenant)
    current = session(ctx)
    container = current.container()
    if tenant is not None:
        require_tenant(container, tenant)
    resumed = container.batches().sweep(tenant)
    out = current.output
    if out.json:
        out.emit_json(
            [
                {"tenant": r.tenant, "batch_id": r.batch_id, "attempt": r.attempt, "items": r.items}
                for r in resumed
            ]
        )
    elif resumed:
        for r in resumed:
            out.show(
                Text(f"resumed {r.tenant} batch {r.batch_id}: attempt {r.attempt}, {r.items} items")
            )
    else:
        out.show(Text("swept: no interrupted batch"))
