"""Every route of the API, as plain functions over an `ApiCall`, registered on both resolvers.

Names in the path are validated here, before any service runs, so a hostile name (``../x``,
``$where``, a Cyrillic look-alike) is a 400 that reaches no backend. Routes take a tenant from
the path and nowhere else, which is what lets `overlord.entrypoints.api.auth` restrict a caller
to one tenant by comparing that single value. The ``/init/...`` routes are the original
system's, kept as aliases so its callers keep working.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import TypeVar

from attrs import frozen

from overlord.domain.errors import BackendError, InvalidInput, NotFound
from overlord.domain.jobs import JobId, JobStatus
from overlord.domain.names import ConnectorName, TenantName, slug
from overlord.entrypoints.api.context import ApiCall
from overlord.entrypoints.api.errors import Reply
from overlord.entrypoints.api.views import connector_state_json
from overlord.entrypoints.job_json import job_json, job_summary_json, log_json
from overlord.entrypoints.json_input import cancel_reason
from overlord.entrypoints.platform_json import (
    deletion_json,
    report_json,
    template_summary_json,
    tenant_summary_json,
)

_log = logging.getLogger(__name__)
S = TypeVar("S", bound=enum.StrEnum)


@frozen
class Route:
    method: str
    rule: str  # Powertools syntax: <name> is a path parameter
    handler: Callable[..., Reply]
    tenant_parameter: str | None = "tenant"  # None: the route checks the caller's tenant itself


def _flag(call: ApiCall, name: str) -> bool:
    """A yes/no query parameter; ``?plan`` alone means yes."""
    if name not in call.request.query:
        return False
    value = call.request.query[name].lower()
    if value in ("", "1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise InvalidInput(f"query parameter {name!r} must be true or false, not {value[:20]!r}")


def provision(call: ApiCall, tenant: str, connector: str) -> Reply:
    """Provision (or bring up to date) a tenant's connector; ``?plan=true`` only says what
    would change."""
    TenantName(tenant)
    ConnectorName(connector)
    call.request.json_object(call.context.max_payload_bytes)  # a body, if sent, must be JSON
    plan = _flag(call, "plan")
    report = call.context.provisioning().apply(tenant, connector, plan=plan)
    _log.info(
        "connector planned" if plan else "connector provisioned",
        extra={"tenant": tenant, "connector": connector, "changed": report.changed},
    )
    return Reply(HTTPStatus.OK, report_json(report))


def show_connector(call: ApiCall, tenant: str, connector: str) -> Reply:
    TenantName(tenant)
    ConnectorName(connector)
    detail = call.context.tenants().show(tenant)
    configuration = next((d for d in detail.configurations if d.get("_id") == connector), None)
    plan = next((r for r in detail.connectors if r.connector == connector), None)
    if configuration is None or plan is None:
        raise NotFound(f"tenant {tenant!r} has no connector {connector!r}")
    return Reply(HTTPStatus.OK, connector_state_json(configuration, plan))


def submit_job(call: ApiCall, tenant: str, connector: str, job_type: str) -> Reply:
    """Submit once: 202 for a new job, 200 with ``created: false`` for a repeat."""
    TenantName(tenant)
    ConnectorName(connector)
    slug("job type", job_type)
    key = call.request.idempotency_key()
    payload = call.request.json_object(call.context.max_payload_bytes)
    result = call.context.jobs().submit(tenant, connector, job_type, payload, idempotency_key=key)
    job = result.job
    _log.info(
        "job submitted" if result.created else "job already submitted",
        extra={
            "tenant": tenant,
            "connector": connector,
            "job_id": job.id.value,
            "status": job.status.value,
        },
    )
    return Reply(
        HTTPStatus.ACCEPTED if result.created else HTTPStatus.OK,
        {"job_id": job.id.value, "status": job.status.value, "created": result.created},
        {"Location": f"/tenants/{tenant}/jobs/{job.id.value}"},
    )


def refresh_jobs(call: ApiCall, tenant: str, job_id: str | None = None) -> bool:
    """Pull news from backends that do not push it; a backend that cannot answer now must not
    hide what is already recorded. False when the backend pushes its news (nothing to pull)."""
    if not call.context.pulls_backend_state:
        return False
    try:
        call.context.jobs().refresh(tenant, job_id)
    except BackendError as exc:
        _log.warning(
            "backend state not refreshed: %s",
            exc.message,
            extra={"tenant": tenant, "job_id": job_id},
        )
    return True


def show_job(call: ApiCall, tenant: str, job_id: str) -> Reply:
    TenantName(tenant)
    JobId(job_id)
    jobs = call.context.jobs()
    job = jobs.get(tenant, job_id)  # 404 before asking any backend
    if refresh_jobs(call, tenant, job_id):  # else the record read is already the latest
        job = jobs.get(tenant, job_id)
    return Reply(HTTPStatus.OK, job_json(job))


def job_logs(call: ApiCall, tenant: str, job_id: str) -> Reply:
    TenantName(tenant)
    JobId(job_id)
    jobs = call.context.jobs()
    jobs.get(tenant, job_id)
    refresh_jobs(call, tenant, job_id)
    entries = jobs.logs(tenant, job_id)
    return Reply(HTTPStatus.OK, {"job_id": job_id, "logs": [log_json(e) for e in entries]})


def status_query(call: ApiCall, kind: type[S], what: str) -> S | None:
    """``?status=`` read as one of ``kind`` (any case), or refused naming the known ones."""
    value = call.request.query.get("status")
    if value is None:
        return None
    try:
        return kind(value.upper())
    except ValueError:
        known = ", ".join(s.value for s in kind)
        raise InvalidInput(f"unknown {what} status {value[:40]!r} (known: {known})") from None


def connector_query(call: ApiCall) -> str | None:
    """``?connector=``, checked to be a connector name."""
    connector = call.request.query.get("connector")
    if connector is not None:
        ConnectorName(connector)
    return connector


def list_jobs(call: ApiCall, tenant: str) -> Reply:
    """``?status=RUNNING`` and ``?connector=weather`` narrow the list."""
    TenantName(tenant)
    status = status_query(call, JobStatus, "job")
    connector = connector_query(call)
    refresh_jobs(call, tenant)
    jobs = call.context.jobs().list(tenant, status=status, connector=connector)
    return Reply(HTTPStatus.OK, {"tenant": tenant, "jobs": [job_summary_json(j) for j in jobs]})


def list_tenants(call: ApiCall) -> Reply:
    """Every tenant, as ``overlord tenants list``; a caller an authorizer restricts to one
    tenant sees that tenant only."""
    summaries = call.context.tenants().list()
    claim = call.request.tenant_claim
    if claim is not None:
        summaries = [s for s in summaries if s.name == claim]
    return Reply(HTTPStatus.OK, {"tenants": [tenant_summary_json(s) for s in summaries]})


def delete_tenant(call: ApiCall, tenant: str) -> Reply:
    """Everything provisioning made for the tenant; ``?purge=true`` also deletes the objects
    in its buckets (without it, a bucket that holds objects is a 409 and nothing is deleted)."""
    TenantName(tenant)
    purge = _flag(call, "purge")
    changes = call.context.tenants().delete(tenant, purge=purge)
    _log.info("tenant deleted", extra={"tenant": tenant, "purge": purge})
    return Reply(HTTPStatus.OK, deletion_json(tenant, changes))


def list_connectors(call: ApiCall) -> Reply:
    """The catalog, as ``overlord connectors list``: readable by any authenticated caller."""
    entries = call.context.catalog().entries()
    return Reply(
        HTTPStatus.OK,
        {"connectors": [template_summary_json(e.template, e.source) for e in entries]},
    )


def show_catalog_connector(call: ApiCall, name: str) -> Reply:
    """One template, as ``overlord connectors show NAME --output json``."""
    ConnectorName(name)
    from overlord.domain.template_parsing import template_to_mapping  # this route's alone

    return Reply(HTTPStatus.OK, template_to_mapping(call.context.catalog().get(name)))


def cancel_job(call: ApiCall, tenant: str, job_id: str) -> Reply:
    """Stop a job that has not finished, as ``overlord jobs cancel``; an optional body
    ``{"reason": "..."}`` is recorded as its status reason. A finished job is a 409."""
    TenantName(tenant)
    JobId(job_id)
    body = call.request.json_object(call.context.max_payload_bytes)
    unknown = sorted(set(body) - {"reason"})
    if unknown:
        raise InvalidInput(f"the body may only hold 'reason', not {unknown[0][:40]!r}")
    reason = body.get("reason", "cancelled by user")
    if not isinstance(reason, str):
        raise InvalidInput("'reason' must be a string")
    cancelled = call.context.jobs().cancel(tenant, job_id, cancel_reason(reason, "'reason'"))
    _log.info("job cancelled", extra={"tenant": tenant, "job_id": job_id})
    return Reply(HTTPStatus.OK, job_json(cancelled, with_runs=False))


def provision_alias(call: ApiCall, client: str, connector: str) -> Reply:
    return provision(call, client, connector)


def submit_alias(call: ApiCall, job_type: str, client: str, connector: str) -> Reply:
    return submit_job(call, client, connector, job_type)


ROUTES: tuple[Route, ...] = (
    Route("PUT", "/tenants/<tenant>/connectors/<connector>", provision),
    Route("GET", "/tenants/<tenant>/connectors/<connector>", show_connector),
    Route("POST", "/tenants/<tenant>/connectors/<connector>/jobs/<job_type>", submit_job),
    Route("GET", "/tenants/<tenant>/jobs", list_jobs),
    Route("GET", "/tenants/<tenant>/jobs/<job_id>", show_job),
    Route("GET", "/tenants/<tenant>/jobs/<job_id>/logs", job_logs),
    Route("POST", "/tenants/<tenant>/jobs/<job_id>/cancel", cancel_job),
    Route("GET", "/tenants", list_tenants, tenant_parameter=None),
    Route("DELETE", "/tenants/<tenant>", delete_tenant),
    Route("GET", "/connectors", list_connectors, tenant_parameter=None),
    Route("GET", "/connectors/<name>", show_catalog_connector, tenant_parameter=None),
    Route("GET", "/init/<client>/<connector>", provision_alias, tenant_parameter="client"),
    Route("POST", "/init/<job_type>/<client>/<connector>", submit_alias, tenant_parameter="client"),
)
