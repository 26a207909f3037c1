"""The ``overlord`` Typer app and `main`, the console script.

`main` runs the command in non-standalone mode so that every way out (success, ``--help``, a
usage error, a domain error, a bug) passes through `overlord.entrypoints.cli.errors` and ends as
one exit code and at most one line on stderr, instead of a usage block or Typer's traceback.
Nothing is built at import: the root callback records the global options and commands build the
container on first use.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from typer.main import get_command

from overlord.entrypoints.cli import (
    batches,
    connectors,
    errors,
    jobs,
    quickstart,
    schedules,
    serve,
    tenants,
)
from overlord.entrypoints.cli.output import OutputFormat
from overlord.entrypoints.cli.session import Session, help_without_command
from overlord.settings import Profile

app = typer.Typer(
    name="overlord",
    help="Provision, run and track multi-tenant data-ingestion platforms, locally or on AWS.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(tenants.app)
app.add_typer(connectors.app)
app.add_typer(jobs.app)
app.add_typer(schedules.app)
app.add_typer(batches.app)
app.command("quickstart")(quickstart.quickstart)
app.command("serve")(serve.serve)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        Profile | None,
        typer.Option(help="Backends to use (default: OVERLORD_PROFILE, else local)."),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="Tables for people, JSON for scripts.")
    ] = OutputFormat.TABLE,
    home: Annotated[
        Path | None,
        typer.Option(
            help="Where local state is kept (default: OVERLORD_HOME, else .overlord).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    ctx.obj = Session(profile=profile, output_format=output, home=home)
    help_without_command(ctx)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``overlord`` with ``argv`` (default: the process's arguments); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = get_command(app)
    try:
        # Non-standalone, Typer returns the code of a `typer.Exit` (``--help``, Ctrl-C: 130)
        # and the command's own return value (None) otherwise; errors are raised to us.
        result = command.main(args=args, prog_name="overlord", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:  # typer.Abort included: it is a RuntimeError
        return errors.report(exc)
    return result if isinstance(result, int) else errors.OK
