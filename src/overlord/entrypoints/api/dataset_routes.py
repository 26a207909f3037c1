"""The dataset routes: list a tenant's datasets, start a run, read runs back.

A run is started once: 202 with the run (``run_json``, the shape ``overlord -o json datasets``
prints) and a ``Location`` for a new one, 200 for the same request again, since the run's id is
its gather job's id, derived from the request. The body says only what a caller may choose:
``params`` (``period`` picks the period), ``source_url`` (a mirror of a scraped source),
``process`` (false gathers without loading), ``idempotency_key`` and, for an API dataset,
``start`` and ``end`` (ISO instants: the window a backfill covers; without them a run covers
the cursor to now). A bulk archive the caller already holds is handed in through the CLI
only: an upload does not fit API Gateway's payload limits, and the CLI writes it to the
tenant's bucket itself.

Reads refresh the run's jobs first, as the batch and job reads do, so that a local or memory
runner's progress shows without a push.

Every API cold start imports this table, so the dataset domain and its JSON shapes are imported
by the routes that use them (about 15 ms less for a request about a job).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from overlord.domain.errors import BackendError, InvalidInput, NotFound
from overlord.domain.jobs import JobId
from overlord.domain.names import ConnectorName, TenantName, slug
from overlord.entrypoints.api.context import ApiCall
from overlord.entrypoints.api.errors import Reply
from overlord.entrypoints.api.routes import Route, connector_query, refresh_jobs, status_query
from overlord.entrypoints.json_input import idempotency_key

if TYPE_CHECKING:
    from overlord.domain.dataset_runs import DatasetRun

_log = logging.getLogger(__name__)
START_FIELDS = frozenset({"params", "source_url", "process", "idempotency_key", "start", "end"})


def _names(tenant: str, connector: str, dataset: str) -> None:
    TenantName(tenant)
    ConnectorName(connector)
    slug("dataset", dataset)


def list_datasets(call: ApiCall, tenant: str) -> Reply:
    """``?connector=bank-reports`` narrows the list to one connector's datasets."""
    from overlord.entrypoints.dataset_json import dataset_json

    TenantName(tenant)
    connector = connector_query(call)
    found = call.context.datasets().datasets(tenant, connector)
    return Reply(HTTPStatus.OK, {"tenant": tenant, "datasets": [dataset_json(d) for d in found]})


def _start_options(call: ApiCall) -> dict[str, Any]:
    """The body's fields, checked for type here: the service checks what they say, but takes
    them as the CLI gives them (a mapping, a string, a flag)."""
    body = call.request.json_object(call.context.max_payload_bytes)
    unknown = sorted(set(body) - START_FIELDS)
    if unknown:
        known = ", ".join(sorted(START_FIELDS))
        raise InvalidInput(f"unknown field {unknown[0][:40]!r} (known: {known})")
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise InvalidInput("'params' must be an object of names to strings")
    source_url = body.get("source_url")
    if source_url is not None and not isinstance(source_url, str):
        raise InvalidInput("'source_url' must be a string")
    process = body.get("process", True)
    if not isinstance(process, bool):
        raise InvalidInput("'process' must be true or false")
    window = {name: body.get(name) for name in ("start", "end")}
    for name, value in window.items():
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"'{name}' must be an ISO 8601 time such as 2026-01-05T06:00:00Z")
    key = body.get("idempotency_key")
    if key is not None and not isinstance(key, str):
        raise InvalidInput("'idempotency_key' must be a string")
    key = idempotency_key(key, "'idempotency_key'")
    header = call.request.idempotency_key()
    if key is not None and header is not None and key != header:
        raise InvalidInput("the Idempotency-Key header and 'idempotency_key' differ")
    return {
        "params": params,
        "source_url": source_url,
        "process": process,
        "idempotency_key": key or header,
        **window,
    }


def start_run(call: ApiCall, tenant: str, connector: str, dataset: str) -> Reply:
    from overlord.entrypoints.dataset_json import run_json

    _names(tenant, connector, dataset)
    options = _start_options(call)
    started = call.context.datasets().start(tenant, connector, dataset, **options)
    run = started.run
    _log.info(
        "dataset run started" if started.created else "dataset run already started",
        extra={
            "tenant": tenant,
            "connector": connector,
            "dataset": dataset,
            "run_id": run.run_id,
            "status": run.status.value,
        },
    )
    return Reply(
        HTTPStatus.ACCEPTED if started.created else HTTPStatus.OK,
        {**run_json(run), "created": started.created},
        {"Location": f"/tenants/{tenant}/datasets/runs/{run.run_id}"},
    )


def _refreshed(call: ApiCall, run: DatasetRun) -> DatasetRun:
    """The run after pulling its jobs' news; twice when the first pull finished the gather
    job, whose record names process jobs whose news is then pulled too. A backend that cannot
    answer now must not hide what is already recorded."""
    if not call.context.pulls_backend_state:
        return run  # news is pushed: the records read are already the latest
    service = call.context.datasets()
    pulled: set[str] = set()
    for _ in range(2):
        jobs = {run.run_id, *(f.job_id for f in run.folders if f.job_id)}
        if jobs <= pulled:
            break
        try:
            service.refresh(run.tenant, run)
        except BackendError as exc:
            _log.warning(
                "backend state not refreshed: %s",
                exc.message,
                extra={"tenant": run.tenant, "run_id": run.run_id},
            )
            break
        pulled |= jobs
        run = service.run(run.tenant, run.run_id)
    return run


def show_run(call: ApiCall, tenant: str, run_id: str) -> Reply:
    from overlord.entrypoints.dataset_json import run_json

    TenantName(tenant)
    JobId(run_id)
    run = call.context.datasets().run(tenant, run_id)  # 404 before asking any backend
    return Reply(HTTPStatus.OK, run_json(_refreshed(call, run)))


def show_dataset_run(
    call: ApiCall, tenant: str, connector: str, dataset: str, run_id: str
) -> Reply:
    """A run by the dataset it belongs to: a run of another dataset is not found here."""
    from overlord.entrypoints.dataset_json import run_json

    _names(tenant, connector, dataset)
    JobId(run_id)
    run = call.context.datasets().run(tenant, run_id)
    if (run.connector, run.dataset) != (connector, dataset):
        raise NotFound(f"dataset {connector}/{dataset} has no run {run_id!r}")
    return Reply(HTTPStatus.OK, run_json(_refreshed(call, run)))


def list_runs(call: ApiCall, tenant: str, connector: str, dataset: str) -> Reply:
    """The dataset's runs, newest first; ``?status=FAILED`` narrows them."""
    from overlord.domain.dataset_runs import RunStatus
    from overlord.entrypoints.dataset_json import run_json

    _names(tenant, connector, dataset)
    status = status_query(call, RunStatus, "run")
    service = call.context.datasets()
    service.dataset(tenant, connector, dataset)  # an unknown dataset is a 404, not []
    refresh_jobs(call, tenant)
    runs = [
        run
        for run in service.runs(tenant, connector, dataset)
        if status is None or run.status is status
    ]
    return Reply(
        HTTPStatus.OK,
        {
            "tenant": tenant,
            "connector": connector,
            "dataset": dataset,
            "runs": [run_json(run) for run in runs],
        },
    )


_RUNS = "/tenants/<tenant>/connectors/<connector>/datasets/<dataset>/runs"
DATASET_ROUTES: tuple[Route, ...] = (
    Route("GET", "/tenants/<tenant>/datasets", list_datasets),
    Route("GET", "/tenants/<tenant>/datasets/runs/<run_id>", show_run),
    Route("POST", _RUNS, start_run),
    Route("GET", _RUNS, list_runs),
    Route("GET", _RUNS + "/<run_id>", show_dataset_run),
)
