"""Table or JSON: how every command shows its result.

Commands build plain data for ``--output json`` (stable keys, StrEnum values, nothing else on
stdout, so scripts can pipe it to ``jq``) and Rich tables for people. Everything a user or a
template author wrote is passed to Rich as `Text`, never as markup, so a description holding
``[bold]`` prints as written. The console is made on first use, never at import, so it writes
to whatever ``sys.stdout`` is at that moment (tests capture it).
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from overlord.domain.tenants import Action, ResourceChange

if TYPE_CHECKING:
    from overlord.services.provisioning import ProvisioningReport


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


PIPE_WIDTH = 120

ACTION_STYLES: Mapping[Action, str] = {
    Action.CREATED: "green",
    Action.UPDATED: "yellow",
    Action.UNCHANGED: "dim",
    Action.DELETED: "red",
    Action.WOULD_CREATE: "cyan",
    Action.WOULD_UPDATE: "cyan",
    Action.WOULD_KEEP: "cyan",
    Action.WOULD_DELETE: "cyan",
}


class Output:
    def __init__(self, output_format: OutputFormat) -> None:
        self.format = output_format
        self._console: Console | None = None

    @property
    def json(self) -> bool:
        return self.format is OutputFormat.JSON

    @property
    def console(self) -> Console:
        if self._console is None:
            console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
            if not console.is_terminal:
                # Pipes and CI logs have no width; wrapping resource names would only break grep.
                console.width = max(console.width, PIPE_WIDTH)
            self._console = console
        return self._console

    def emit_json(self, data: object) -> None:
        # default=str: a TOML template may hold dates, which JSON has no type for.
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()

    def show(self, *renderables: RenderableType) -> None:
        for renderable in renderables:
            # Lines of text are left for the terminal to wrap, so a command in them (a hint,
            # a path) stays one line that can be copied; tables fit themselves to the width.
            self.console.print(renderable, soft_wrap=isinstance(renderable, Text))


def text(value: object, style: str = "") -> Text:
    """A cell printed literally, whatever brackets it holds."""
    return Text(str(value), style=style)


def table(title: str | None, *columns: str) -> Table:
    # A light frame leaves room for resource names in 80 columns (pipes and CI logs).
    grid = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def when(iso: str) -> str:
    """An ISO timestamp as people read it (``2025-01-31 09:30:00 UTC``); as is if not one."""
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    if moment.utcoffset() == timedelta(0):
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.isoformat(sep=" ", timespec="seconds")


def changes_table(title: str | None, changes: Iterable[ResourceChange]) -> Table:
    grid = table(title, "kind", "name", "action")
    for change in changes:
        style = ACTION_STYLES.get(change.action, "")
        grid.add_row(text(change.kind), text(change.name), text(change.action, style))
    return grid


def counts(changes: Iterable[ResourceChange]) -> Text:
    """``3 created, 9 unchanged``, each count in its action's colour, in a fixed order."""
    tally: dict[Action, int] = {}
    for change in changes:
        tally[change.action] = tally.get(change.action, 0) + 1
    line = Text()
    for action in Action:
        if action in tally:
            if line:
                line.append(", ")
            line.append(f"{tally[action]} {action}", style=ACTION_STYLES.get(action, ""))
    return line or Text("nothing")


def report_summary(report: ProvisioningReport) -> Text:
    verb = "plan for" if report.planned else "applied"
    line = Text(f"{verb} {report.tenant}/{report.connector}: ")
    return line.append_text(counts(report.resources))


def report_table(report: ProvisioningReport) -> Table:
    return changes_table(f"{report.tenant}/{report.connector}", report.resources)
