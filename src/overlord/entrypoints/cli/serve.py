"""``overlord serve``: the HTTP API on this machine, on whatever profile the CLI is given.

The routes are those API Gateway serves, answered by the same handler (see
`overlord.entrypoints.api.local_server`), so what works against ``overlord serve`` works against
the deployed API. Nothing is imported until the command runs, keeping ``overlord --help`` fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from overlord.domain.errors import Conflict
from overlord.entrypoints.cli.session import session


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 8000,
) -> None:
    """Serve the HTTP API (the routes API Gateway serves) until Ctrl-C."""
    from overlord.entrypoints.api.local_server import make_server

    container = session(ctx).container()
    try:
        server = make_server(container, host, port)
    except OSError as exc:
        raise Conflict(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    typer.echo(f"serving the Overlord API on {server.url} (Ctrl-C to stop)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)
    finally:
        server.server_close()
