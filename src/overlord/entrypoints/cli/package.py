"""``overlord package``: the Lambda deployment zip, built here for the Lambda runtime.

The sizes are shown before they are judged, so a package too large for Lambda still says what
it holds (largest first) and exits 2 after; one merely over the 50 MiB a direct upload allows
is deployable through S3, as ``overlord deploy`` uploads it, and the table says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from overlord.domain.lambda_package import (
    DEFAULT_RUNTIME,
    DIRECT_UPLOAD,
    RUNTIMES,
    LambdaPackage,
    megabytes,
)
from overlord.entrypoints.cli.output import Output, table, text
from overlord.entrypoints.cli.session import session
from overlord.entrypoints.package_json import package_json

SHOWN_DISTRIBUTIONS = 8


def package(
    ctx: typer.Context,
    output_file: Annotated[
        Path, typer.Option("--output-file", help="Where to write the zip.")
    ] = Path("overlord-lambda.zip"),
    runtime: Annotated[
        str, typer.Option(help=f"Lambda runtime: {', '.join(sorted(RUNTIMES))}.")
    ] = DEFAULT_RUNTIME,
    extra: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            metavar="<requirement>",
            help="Another requirement to include (name==version or a .whl file), such as the "
            "package of your batch tasks; repeatable.",
        ),
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option(help="Fetch the newest matching releases even if cached wheels would do."),
    ] = False,
) -> None:
    """Build the zip every Lambda handler runs from, and check it against Lambda's limits."""
    current = session(ctx)
    packaging = current.container().packaging()
    built = packaging.build(output_file, runtime, extra or (), refresh=refresh)
    _show(current.output, built)
    built.require_deployable()


def _show(out: Output, built: LambdaPackage) -> None:
    if out.json:
        out.emit_json(package_json(built))
        return
    fetched = f", {built.wheels_downloaded} wheels downloaded" if built.wheels_downloaded else ""
    out.show(Text(f"{built.path}: {built.runtime}, {built.files} files{fetched}"))
    out.show(Text(f"sha256 {built.sha256}", style="dim"))
    limits = table(None, "Lambda limit", "measures", "size", "limit", "")
    for check in built.checks():
        if check.fits:
            verdict = text("fits", "green")
        elif check.limit is DIRECT_UPLOAD:
            verdict = text("over: upload through S3 (overlord deploy does)", "yellow")
        else:
            verdict = text("over", "red")
        limits.add_row(
            text(check.limit.name),
            text(check.limit.measures),
            text(megabytes(check.size)),
            text(megabytes(check.limit.bytes)),
            verdict,
        )
    out.show(limits)
    largest = table(None, "distribution", "version", "unzipped")
    for dist in built.distributions[:SHOWN_DISTRIBUTIONS]:
        largest.add_row(text(dist.name), text(dist.version), text(megabytes(dist.unzipped_bytes)))
    rest = built.distributions[SHOWN_DISTRIBUTIONS:]
    if rest:
        size = megabytes(sum(d.unzipped_bytes for d in rest))
        largest.add_row(text(f"{len(rest)} more", "dim"), text(""), text(size, "dim"))
    out.show(largest)
