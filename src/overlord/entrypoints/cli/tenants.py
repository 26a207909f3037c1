"""``overlord tenants``: provision a tenant's connectors, look at them, delete them.

Names are validated here, at the edge, before the container is built, so a hostile name
(``../x``, ``ACME``, a Cyrillic look-alike) is refused with one line and never reaches a backend.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from overlord.domain.errors import InvalidInput
from overlord.domain.names import ConnectorName, TenantName
from overlord.entrypoints.cli.output import (
    changes_table,
    counts,
    report_summary,
    report_table,
    table,
    text,
    when,
)
from overlord.entrypoints.cli.session import help_without_command, session
from overlord.entrypoints.platform_json import deletion_json, report_json, tenant_summary_json
from overlord.services.provisioning import ProvisioningReport
from overlord.services.tenants import TenantDetail

app = typer.Typer(
    name="tenants",
    help="Provision, inspect and delete tenants.",
    invoke_without_command=True,
)

TenantArg = Annotated[str, typer.Argument(help="Tenant name (3-32 lowercase letters, digits, -).")]


@app.callback()
def group(ctx: typer.Context) -> None:
    help_without_command(ctx)


@app.command("init")
def init(
    ctx: typer.Context,
    tenant: TenantArg,
    connector: Annotated[str, typer.Argument(help="Connector from the catalog.")],
    plan: Annotated[
        bool, typer.Option("--plan", help="Only show what would change; change nothing.")
    ] = False,
) -> None:
    """Provision (or bring up to date) a tenant's connector; safe to run again."""
    TenantName(tenant)
    ConnectorName(connector)
    current = session(ctx)
    report = current.container().provisioning().apply(tenant, connector, plan=plan)
    out = current.output
    if out.json:
        out.emit_json(report_json(report))
        return
    out.show(report_table(report), report_summary(report))


@app.command("list")
def list_tenants(ctx: typer.Context) -> None:
    """Every tenant, when it was created and its connectors."""
    current = session(ctx)
    summaries = current.container().tenants().list()
    out = current.output
    if out.json:
        out.emit_json([tenant_summary_json(s) for s in summaries])
        return
    if not summaries:
        out.show(Text(f"no tenants yet: try `{current.command('quickstart')}`"))
        return
    grid = table(None, "name", "created", "connectors")
    for summary in summaries:
        grid.add_row(
            text(summary.name), text(when(summary.created_at)), text(", ".join(summary.connectors))
        )
    out.show(grid)


@app.command("show")
def show(ctx: typer.Context, tenant: TenantArg) -> None:
    """A tenant's configuration documents and whether each resource matches its template."""
    TenantName(tenant)
    current = session(ctx)
    detail = current.container().tenants().show(tenant)
    out = current.output
    if out.json:
        out.emit_json(detail_to_json(detail))
        return
    summary = detail.summary
    out.show(
        Text.assemble(
            ("tenant ", "bold"),
            (summary.name, "bold"),
            f"  created {when(summary.created_at)}\nconnectors: ",
            ", ".join(summary.connectors) or "none",
        )
    )
    out.show(Text(), configurations_table(detail))
    for report in detail.connectors:
        out.show(report_table(report), sync_line(current.command, report), Text())


@app.command("delete")
def delete(
    ctx: typer.Context,
    tenant: TenantArg,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete the objects stored in its buckets.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete everything provisioning made for a tenant (refused if a bucket holds objects,
    unless --purge)."""
    TenantName(tenant)
    current = session(ctx)
    service = current.container().tenants()
    if not yes and any(s.name == tenant for s in service.list()):
        if _interactive():
            what = "and every object in its buckets " if purge else ""
            # On stderr, so that stdout stays pure JSON with --output json.
            typer.confirm(f"Delete tenant {tenant} {what}for good?", abort=True, err=True)
        elif purge:
            # Nobody can be asked, and stored data does not come back: a script says so itself.
            raise InvalidInput(
                f"--purge deletes every object in {tenant}'s buckets; pass --yes to confirm"
            )
    changes = service.delete(tenant, purge=purge)
    out = current.output
    if out.json:
        out.emit_json(deletion_json(tenant, changes))
        return
    summary = Text(f"deleted tenant {tenant}: ").append_text(counts(changes))
    out.show(changes_table(tenant, changes), summary)


def _interactive() -> bool:
    """Ask only when someone can answer; a script proceeds as told, except that it must pass
    ``--yes`` to purge stored data."""
    stdin = sys.stdin
    return stdin is not None and stdin.isatty()


def detail_to_json(detail: TenantDetail) -> dict[str, Any]:
    return {
        **tenant_summary_json(detail.summary),
        "configurations": list(detail.configurations),
        "plans": [report_json(report) for report in detail.connectors],
    }


def configurations_table(detail: TenantDetail) -> Table:
    grid = table("configuration documents", "connector", "template version", "placement", "applied")
    for document in detail.configurations:
        grid.add_row(
            text(document.get("connector", document.get("_id", ""))),
            text(document.get("template_version", "?")),
            text(document.get("placement", "?")),
            text(when(document.get("applied_at", "?"))),
        )
    return grid


def sync_line(command: Callable[..., str], report: ProvisioningReport) -> Text:
    """Whether a connector is as its template says, and how to fix it when it is not."""
    if not report.changed:
        return Text(f"{report.tenant}/{report.connector}: in sync", style="green")
    fix = command("tenants", "init", report.tenant, report.connector)
    line = Text(f"{report.tenant}/{report.connector}: ").append_text(counts(report.resources))
    return line.append(f"; run `{fix}` to apply")
