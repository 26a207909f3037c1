"""The partition routes of a dataset: read its partitions and cursor, rebuild a window's.

A partitioned dataset's Parquet partitions are listed with ``GET .../partitions`` (``?start=``
and ``?end=``, ISO instants, narrow them to those starting in ``[start, end)``), together with
the dataset's cursor: how far its API windows have fully landed. ``POST .../partitions`` with
``{"start", "end"}`` submits the partition job over that window, which rewrites every partition
the window touches from the raw folders already landed. The job's id is derived from the window,
so the same window answers 200 with the same job, as a repeated run start does.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from overlord.domain.errors import InvalidInput
from overlord.domain.names import ConnectorName, TenantName, slug
from overlord.domain.windows import Window, instant_text, parse_instant
from overlord.entrypoints.api.context import ApiCall
from overlord.entrypoints.api.errors import Reply
from overlord.entrypoints.api.routes import Route

if TYPE_CHECKING:
    from datetime import datetime

    from overlord.domain.partitions import PartitionInfo

_log = logging.getLogger(__name__)
SUBMIT_FIELDS = frozenset({"start", "end"})
_EXAMPLE = "an ISO 8601 time such as 2026-01-05T06:00:00Z"


def partition_json(partition: PartitionInfo) -> dict[str, Any]:
    return {
        "key": partition.key,
        "start": instant_text(partition.start),
        "rows": partition.rows,
        "files": partition.files,
        "published": partition.published,
    }


def _names(tenant: str, connector: str, dataset: str) -> None:
    TenantName(tenant)
    ConnectorName(connector)
    slug("dataset", dataset)


def _instant_query(call: ApiCall, name: str) -> datetime | None:
    value = call.request.query.get(name)
    return None if value is None else parse_instant(value, f"query parameter {name!r}")


def list_partitions(call: ApiCall, tenant: str, connector: str, dataset: str) -> Reply:
    """The dataset's partitions, by key, and its cursor (null before any window landed)."""
    _names(tenant, connector, dataset)
    start, end = _instant_query(call, "start"), _instant_query(call, "end")
    if start is not None and end is not None:
        Window(start, end)  # an end that is not after the start is refused, not an empty list
    service = call.context.datasets()
    found = service.partitions(tenant, connector, dataset, start=start, end=end)
    cursor = service.cursor(tenant, connector, dataset)
    return Reply(
        HTTPStatus.OK,
        {
            "tenant": tenant,
            "connector": connector,
            "dataset": dataset,
            "cursor": instant_text(cursor) if cursor is not None else None,
            "partitions": [partition_json(p) for p in found],
        },
    )


def _window(call: ApiCall) -> Window:
    body = call.request.json_object(call.context.max_payload_bytes)
    unknown = sorted(set(body) - SUBMIT_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0][:40]!r} (known: end, start)")
    for name in ("start", "end"):
        if name not in body:
            raise InvalidInput(f"'{name}' is missing: give the window's start and end")
        if not isinstance(body[name], str):
            raise InvalidInput(f"'{name}' must be {_EXAMPLE}")
    if call.request.header("Idempotency-Key") is not None:
        # The job is named by its window alone; a key it cannot honour must not look honoured.
        raise InvalidInput("a partition job is named by its window: drop the Idempotency-Key")
    return Window.of(body["start"], body["end"])


def submit_partitions(call: ApiCall, tenant: str, connector: str, dataset: str) -> Reply:
    """Submit the partition job over the body's window: 202 for a new job, 200 for a repeat."""
    _names(tenant, connector, dataset)
    window = _window(call)
    submitted = call.context.datasets().submit_partition(tenant, connector, dataset, window)
    job = submitted.job
    _log.info(
        "partition job submitted" if submitted.created else "partition job already submitted",
        extra={
            "tenant": tenant,
            "connector": connector,
            "dataset": dataset,
            "job_id": job.id.value,
            "window": str(window),
        },
    )
    return Reply(
        HTTPStatus.ACCEPTED if submitted.created else HTTPStatus.OK,
        {
            "job_id": job.id.value,
            "status": job.status.value,
            "created": submitted.created,
            "tenant": tenant,
            "connector": connector,
            "dataset": dataset,
            "start": instant_text(window.start),
            "end": instant_text(window.end),
        },
        {"Location": f"/tenants/{tenant}/jobs/{job.id.value}"},
    )


_PARTITIONS = "/tenants/<tenant>/connectors/<connector>/datasets/<dataset>/partitions"
PARTITION_ROUTES: tuple[Route, ...] = (
    Route("GET", _PARTITIONS, list_partitions),
    Route("POST", _PARTITIONS, submit_partitions),
)
