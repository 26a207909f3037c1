"""The arguments and options the ``overlord datasets`` commands share, and their checks.

Kept apart from the commands so that the run commands (`datasets`) and the partition commands
(`dataset_partitions`) spell them one way, and so that both can check names before anything
is built.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from overlord.domain.names import ConnectorName, TenantName, slug
from overlord.domain.windows import parse_instant

TenantArg = Annotated[str, typer.Argument(help="Tenant name.")]
ConnectorArg = Annotated[str, typer.Argument(help="One of the tenant's connectors.")]
DatasetArg = Annotated[str, typer.Argument(help="A dataset the connector declares.")]
KeyOpt = Annotated[
    str | None, typer.Option("--idempotency-key", help="Run again what was already run.")
]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="Follow the run until it ends (progress on stderr).")
]
TimeoutOpt = Annotated[
    float, typer.Option(min=0.1, help="Seconds --wait follows the run before giving up.")
]
INSTANT_HELP = "an ISO 8601 time (UTC unless it says), e.g. 2026-01-05T06:00:00Z"
StartOpt = Annotated[str | None, typer.Option("--start", help=f"From {INSTANT_HELP}.")]
EndOpt = Annotated[str | None, typer.Option("--end", help=f"Up to (not including) {INSTANT_HELP}.")]


def check_names(tenant: str, connector: str, dataset: str) -> None:
    TenantName(tenant)
    ConnectorName(connector)
    slug("dataset", dataset)


def instant(value: str | None, option: str) -> datetime | None:
    """``--start``/``--end`` as an aware UTC time; `InvalidInput` naming the option."""
    return None if value is None else parse_instant(value, option)
