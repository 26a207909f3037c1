"""``overlord quickstart``: a working tenant on a fresh machine in one command.

It runs on the local profile (files and SQLite under ``OVERLORD_HOME``) unless ``--profile``
says otherwise, so it needs no cloud account and no server. It is an ordinary, idempotent use of
the services: a second run reports everything unchanged. `run_quickstart` is a list of steps
over a container so that later steps (a sample job) slot in without touching the rendering.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from attrs import define, field
from rich.text import Text

from overlord.entrypoints.cli.output import report_summary, report_table, report_to_json
from overlord.entrypoints.cli.session import Session, session
from overlord.services.provisioning import ProvisioningReport
from overlord.settings import Profile

if TYPE_CHECKING:
    from overlord.container import Container

TENANT = "acme"


@define
class QuickstartResult:
    tenant: str
    connectors: list[ProvisioningReport] = field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "connectors": [report_to_json(report) for report in self.connectors],
        }


def provision_every_connector(container: Container, result: QuickstartResult) -> None:
    for template in container.catalog().list():
        result.connectors.append(container.provisioning().apply(result.tenant, template.name.value))


# What quickstart does, in order; each step adds to the result that is printed at the end.
STEPS: tuple[Callable[[Container, QuickstartResult], None], ...] = (provision_every_connector,)


def run_quickstart(container: Container, tenant: str = TENANT) -> QuickstartResult:
    result = QuickstartResult(tenant)
    for step in STEPS:
        step(container, result)
    return result


def quickstart(ctx: typer.Context) -> None:
    """Provision the sample tenant 'acme' with every connector in the catalog (local profile
    unless --profile is given); safe to run again."""
    current = session(ctx)
    result = run_quickstart(current.container(default_profile=Profile.LOCAL))
    out = current.output
    if out.json:
        out.emit_json(result.to_json())
        return
    out.show(heading(current, result), Text())
    for report in result.connectors:
        out.show(report_table(report), report_summary(report), Text())
    out.show(next_steps(current, result))


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
    hints = (
        (current.command("tenants", "show", result.tenant), "what was made, and is it in sync"),
        (current.command("connectors", "list"), "the connector catalog"),
        (current.command("tenants", "delete", result.tenant, "--purge"), "remove it all"),
    )
    width = max(len(command) for command, _ in hints)
    lines = Text().append("next steps:\n", style="bold")
    for command, why in hints:
        lines.append(f"  {command.ljust(width)}", style="cyan").append(f"  {why}\n")
    lines.rstrip()
    return lines
