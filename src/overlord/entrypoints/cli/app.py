"""The ``overlord`` Typer app and `main`, the console script.

`main` runs the command in non-standalone mode so that every way out (success, ``--help``, a
usage error, a domain error, a bug) passes through `overlord.entrypoints.cli.errors` and ends as
one exit code and at most one line on stderr, instead of a usage block or Typer's traceback.
Nothing is built at import: the global options record themselves into the invocation's session
(on the root and on every command, see `global_options`) and commands build the container on
first use.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from typer.main import get_command

from overlord.entrypoints.cli import (
    batches,
    connectors,
    datasets,
    deploy,
    errors,
    global_options,
    jobs,
    package,
    quickstart,
    schedules,
    serve,
    tenants,
)
from overlord.entrypoints.cli.session import Session, help_without_command

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
app.add_typer(datasets.app)
app.command("quickstart")(quickstart.quickstart)
app.command("serve")(serve.serve)
app.command("package")(package.package)
app.command("template")(deploy.template)
app.command("deploy")(deploy.deploy)
app.command("destroy")(deploy.destroy)


@app.callback()
def root(ctx: typer.Context) -> None:
    # The global options (`global_options`) have recorded themselves into the session already.
    session = ctx.ensure_object(Session)
    ctx.call_on_close(session.close)
    help_without_command(ctx)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``overlord`` with ``argv`` (default: the process's arguments); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = get_command(app)
    global_options.attach(command)
    try:
        # Non-standalone, Typer returns the code of a `typer.Exit` (``--help``, Ctrl-C: 130)
        # and the command's own return value (None) otherwise; errors are raised to us.
        result = command.main(args=args, prog_name="overlord", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:  # typer.Abort included: it is a RuntimeError
        return errors.report(exc)
    return result if isinstance(result, int) else errors.OK
