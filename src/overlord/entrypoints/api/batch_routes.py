"""The batch routes, including the original system's ``POST /stateMachineInit``.

A batch is started once: 202 with ``{"batch_id", "status"}`` for a new one, 200 for the same
request again, 409 for a different request under a used ``batchId``. ``/stateMachineInit`` takes
the original body unchanged; it has no tenant or connector in its path, so they come from the
authorizer (``tenant`` / ``custom:tenant``, ``connector`` / ``custom:connector``), else from
``OVERLORD_DEFAULT_TENANT`` and ``OVERLORD_DEFAULT_CONNECTOR`` (default ``batch-manager``).
Reads refresh the batch first, so a local or memory engine's progress shows without a push.

Every API cold start imports this table, so the batch domain and its JSON shapes are imported by
the routes that use them (about 20 ms less for a request about a job).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING

from overlord.domain.errors import InvalidInput
from overlord.domain.names import ConnectorName, TenantName
from overlord.entrypoints.api.context import ApiCall
from overlord.entrypoints.api.errors import Reply
from overlord.entrypoints.api.routes import Route, connector_query, status_query

if TYPE_CHECKING:
    from overlord.services.batches import StartResult

_log = logging.getLogger(__name__)
_REASON_LIMIT = 500


def _started(tenant: str, connector: str, result: StartResult) -> Reply:
    batch = result.batch
    _log.info(
        "batch started" if result.created else "batch already started",
        extra={"tenant": tenant, "connector": connector, "batch_id": batch.id},
    )
    attempt = batch.attempts[0] if batch.attempts else None
    return Reply(
        HTTPStatus.ACCEPTED if result.created else HTTPStatus.OK,
        {
            "batch_id": batch.id,
            "status": batch.status.value,
            "created": result.created,
            "execution_id": attempt.execution_id if attempt else None,
        },
        {"Location": f"/tenants/{tenant}/batches/{batch.id}"},
    )


def start_batch(call: ApiCall, tenant: str, connector: str) -> Reply:
    TenantName(tenant)
    ConnectorName(connector)
    body = call.request.json_object(call.context.max_payload_bytes)
    result = call.context.batches().start(tenant, connector, body)
    return _started(tenant, connector, result)


def state_machine_init(call: ApiCall) -> Reply:
    """The original entry point: the body as it always was, the tenant from the caller."""
    settings = call.context.settings
    tenant = call.request.tenant_claim or settings.default_tenant
    if tenant is None:
        raise InvalidInput(
            "no tenant: the authorizer names none and OVERLORD_DEFAULT_TENANT is not set"
        )
    connector = call.request.connector_claim or settings.default_connector
    TenantName(tenant)
    ConnectorName(connector)
    body = call.request.json_object(call.context.max_payload_bytes)
    return _started(tenant, connector, call.context.batches().start(tenant, connector, body))


def _page_size(call: ApiCall) -> int:
    from overlord.services.batches import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE  # batch routes only

    text = call.request.query.get("page_size", str(DEFAULT_PAGE_SIZE))
    if not text.isdecimal() or len(text) > 4 or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page_size must be 1-{MAX_PAGE_SIZE}, not {text[:20]!r}")
    return int(text)


def show_batch(call: ApiCall, tenant: str, batch_id: str) -> Reply:
    """``?page=`` (from ``next_page``) and ``?page_size=`` page the requests."""
    from overlord.entrypoints.batch_json import batch_view_json

    TenantName(tenant)
    view = call.context.batches().show(
        tenant, batch_id, page=call.request.query.get("page"), size=_page_size(call)
    )
    return Reply(HTTPStatus.OK, batch_view_json(view))


def list_batches(call: ApiCall, tenant: str) -> Reply:
    """``?status=FAILED`` and ``?connector=batch-manager`` narrow the list."""
    from overlord.domain.batches import BatchStatus
    from overlord.entrypoints.batch_json import batch_json

    TenantName(tenant)
    status = status_query(call, BatchStatus, "batch")
    connector = connector_query(call)
    found = call.context.batches().list(tenant, connector=connector, status=status)
    return Reply(HTTPStatus.OK, {"tenant": tenant, "batches": [batch_json(b) for b in found]})


def retry_batch(call: ApiCall, tenant: str, batch_id: str) -> Reply:
    from overlord.entrypoints.batch_json import batch_json

    TenantName(tenant)
    call.request.json_object(call.context.max_payload_bytes)
    return Reply(HTTPStatus.ACCEPTED, batch_json(call.context.batches().retry(tenant, batch_id)))


def resume_batch(call: ApiCall, tenant: str, batch_id: str) -> Reply:
    from overlord.entrypoints.batch_json import batch_json

    TenantName(tenant)
    call.request.json_object(call.context.max_payload_bytes)
    return Reply(HTTPStatus.ACCEPTED, batch_json(call.context.batches().resume(tenant, batch_id)))


def cancel_batch(call: ApiCall, tenant: str, batch_id: str) -> Reply:
    """An optional ``{"reason": "..."}`` is recorded on the batch."""
    from overlord.entrypoints.batch_json import batch_json

    TenantName(tenant)
    body = call.request.json_object(call.context.max_payload_bytes)
    reason = body.get("reason", "cancelled by user")
    unknown = sorted(set(body) - {"reason"})
    if unknown:
        raise InvalidInput(f"cancel: unknown field {unknown[0][:40]!r}")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > _REASON_LIMIT:
        raise InvalidInput(f"reason: expected 1-{_REASON_LIMIT} characters of text")
    record = call.context.batches().cancel(tenant, batch_id, reason)
    return Reply(HTTPStatus.OK, batch_json(record))


BATCH_ROUTES: tuple[Route, ...] = (
    Route("POST", "/tenants/<tenant>/connectors/<connector>/batches", start_batch),
    Route("GET", "/tenants/<tenant>/batches", list_batches),
    Route("GET", "/tenants/<tenant>/batches/<batch_id>", show_batch),
    Route("POST", "/tenants/<tenant>/batches/<batch_id>/retry", retry_batch),
    Route("POST", "/tenants/<tenant>/batches/<batch_id>/resume", resume_batch),
    Route("POST", "/tenants/<tenant>/batches/<batch_id>/cancel", cancel_batch),
    Route("POST", "/stateMachineInit", state_machine_init, tenant_parameter=None),
)
