"""``--output/-o``, ``--profile`` and ``--home`` wherever a user writes them.

Users of the AWS CLI, kubectl and gh put ``--output json`` at the end of a command line, so the
options are given to the root and to every group and command of the Click tree that Typer
builds. They are real options of each command, parsed like any other, so a value that
looks like an option (``--payload -o``) is never taken for one. The root's options are parsed
first and each command's after its group's, and every occurrence records into the invocation's
`Session`: the one written last on the line wins, as with any repeated option.

The options are declared once, through Typer, on a probe command whose parameters are then
copied, so they convert and validate exactly as the root's do (Typer's own Click is private).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.main import get_command

from overlord.entrypoints.cli.output import OutputFormat
from overlord.entrypoints.cli.session import Session
from overlord.settings import Profile

PANEL = "Global options"


def _record(name: str) -> Any:
    def record(ctx: typer.Context, value: Any) -> None:
        if value is not None and not ctx.resilient_parsing:
            setattr(ctx.ensure_object(Session), name, value)

    return record


def _declared(
    output: Annotated[
        OutputFormat | None,
        typer.Option(
            "--output",
            "-o",
            help="Tables for people, JSON for scripts.",
            callback=_record("output_format"),
            expose_value=False,
            rich_help_panel=PANEL,
        ),
    ] = None,
    profile: Annotated[
        Profile | None,
        typer.Option(
            help="Backends to use (default: OVERLORD_PROFILE, else local).",
            callback=_record("profile"),
            expose_value=False,
            rich_help_panel=PANEL,
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            help="Where local state is kept (default: OVERLORD_HOME, else .overlord).",
            file_okay=False,
            callback=_record("home"),
            expose_value=False,
            rich_help_panel=PANEL,
        ),
    ] = None,
) -> None:
    """Never run: its parameters are what `attach` copies."""


def _options() -> list[Any]:
    probe = typer.Typer()
    probe.command()(_declared)
    return list(get_command(probe).params)


def attach(command: Any) -> None:
    """Give ``command`` and every command below it the global options."""
    command.params.extend(_options())
    for subcommand in getattr(command, "commands", {}).values():
        attach(subcommand)
