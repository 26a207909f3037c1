"""A caller an authorizer restricts to one tenant reaches that tenant's paths and no other.

Each test runs against the four ways API Gateway carries the tenant: a Lambda authorizer's
context (REST ``authorizer.tenant``, HTTP API ``authorizer.lambda.tenant``) and a JWT claim
``custom:tenant`` (REST ``authorizer.claims``, HTTP API ``authorizer.jwt.claims``).
"""

from __future__ import annotations

from typing import Any

import pytest

from overlord.container import Container
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.testing import provisioned_memory_container
from tests.e2e.api_events import HTTP, REST, Gateway, answer, http_event, rest_event

JOB_PAYLOAD = {"stations": ["KSEA"]}


@pytest.fixture
def container() -> Container:
    container = provisioned_memory_container("acme", "weather")
    container.provisioning().apply("beta", "weather")
    return container


@pytest.fixture(
    params=[(REST, False), (REST, True), (HTTP, False), (HTTP, True)],
    ids=["rest-lambda-authorizer", "rest-jwt", "http-lambda-authorizer", "http-jwt"],
)
def api(request: pytest.FixtureRequest, container: Container) -> Gateway:
    flavour, jwt = request.param
    return Gateway(LambdaHandlers(container).api, flavour, jwt=jwt)


@pytest.fixture
def acme_job(container: Container) -> str:
    return container.jobs().submit("acme", "weather", "ingest", JOB_PAYLOAD).job.id.value


def other_tenant_requests(job_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every route, on tenant beta's paths."""
    return [
        ("PUT", "/tenants/beta/connectors/weather", {}),
        ("GET", "/tenants/beta/connectors/weather", {}),
        ("POST", "/tenants/beta/connectors/weather/jobs/ingest", {"json": {"n": 1}}),
        ("GET", "/tenants/beta/jobs", {}),
        ("GET", f"/tenants/beta/jobs/{job_id}", {}),
        ("GET", f"/tenants/beta/jobs/{job_id}/logs", {}),
        ("POST", f"/tenants/beta/jobs/{job_id}/cancel", {}),
        ("DELETE", "/tenants/beta", {"query": {"purge": "true"}}),
        ("GET", "/init/beta/weather", {}),
        ("POST", "/init/ingest/beta/weather", {"json": {"n": 1}}),
        ("PUT", "/tenants/gamma/connectors/weather", {}),
    ]


def test_a_restricted_caller_lists_only_its_own_tenant_and_reads_the_whole_catalog(
    api: Gateway,
) -> None:
    listed = api.get("/tenants", as_tenant="acme")
    catalog = api.get("/connectors", as_tenant="acme")

    assert [t["name"] for t in listed.body["tenants"]] == ["acme"]
    assert "weather" in [c["name"] for c in catalog.body["connectors"]]
    assert api.get("/connectors/weather", as_tenant="acme").status == 200


def test_a_caller_reaches_its_own_tenants_paths(api: Gateway, acme_job: str) -> None:
    assert api.get("/tenants/acme/connectors/weather", as_tenant="acme").status == 200
    assert api.put("/tenants/acme/connectors/weather", as_tenant="acme").status == 200
    submitted = api.post(
        "/tenants/acme/connectors/weather/jobs/ingest", json=JOB_PAYLOAD, as_tenant="acme"
    )
    assert (submitted.status, submitted.body["job_id"]) == (200, acme_job)
    assert api.get(f"/tenants/acme/jobs/{acme_job}", as_tenant="acme").status == 200
    assert api.get(f"/tenants/acme/jobs/{acme_job}/logs", as_tenant="acme").status == 200
    assert api.get("/tenants/acme/jobs", as_tenant="acme").status == 200
    assert api.get("/init/acme/weather", as_tenant="acme").status == 200
    assert api.post("/init/ingest/acme/weather", as_tenant="acme").status == 202


def test_every_path_of_another_tenant_is_403_and_changes_nothing(
    api: Gateway, container: Container, acme_job: str
) -> None:
    for method, path, options in other_tenant_requests(acme_job):
        refused = api.request(method, path, as_tenant="acme", **options)

        assert (refused.status, refused.error_code) == (403, "forbidden"), (method, path)
        assert "'acme'" in refused.body["error"]["message"]
    assert container.jobs().list("beta") == []
    assert [t.name for t in container.tenants().list()] == ["acme", "beta"]


def test_another_tenants_job_is_not_found_under_ones_own_path(api: Gateway, acme_job: str) -> None:
    for path in (f"/tenants/beta/jobs/{acme_job}", f"/tenants/beta/jobs/{acme_job}/logs"):
        found = api.get(path, as_tenant="beta")
        assert (found.status, found.error_code) == (404, "not_found"), path
    listed = api.get("/tenants/beta/jobs", as_tenant="beta")
    assert listed.body["jobs"] == []


def test_without_an_authorizer_tenant_every_tenant_is_reachable(
    container: Container, acme_job: str
) -> None:
    iam = rest_event("GET", f"/tenants/acme/jobs/{acme_job}", authorizer={"principalId": "me"})
    anonymous = http_event("GET", f"/tenants/acme/jobs/{acme_job}")

    handlers = LambdaHandlers(container)

    assert answer(handlers.api(iam, None)).status == 200
    assert answer(handlers.api(anonymous, None)).status == 200


@pytest.mark.parametrize(
    "authorizer",
    [
        {"tenant": "acme", "claims": {"custom:tenant": "beta"}},
        {"lambda": {"tenant": "acme"}, "jwt": {"claims": {"custom:tenant": "beta"}}},
        {"tenant": ""},
        {"tenant": 7},
        {"lambda": {"tenant": ["acme"]}},
        {"claims": {"custom:tenant": {"name": "acme"}}},
    ],
    ids=["rest-two-tenants", "http-two-tenants", "empty", "number", "list", "object"],
)
def test_an_ambiguous_or_malformed_authorizer_tenant_refuses_everything(
    container: Container, authorizer: dict[str, Any]
) -> None:
    handlers = LambdaHandlers(container)
    for build in (rest_event, http_event):
        event = build("GET", "/tenants/acme/connectors/weather", authorizer=authorizer)

        refused = answer(handlers.api(event, None))

        assert (refused.status, refused.error_code) == (403, "forbidden")


def test_a_tenant_named_in_an_unexpected_place_still_restricts(container: Container) -> None:
    """An HTTP API's context key in a REST event can only narrow what the caller reaches."""
    handlers = LambdaHandlers(container)
    event = rest_event(
        "GET", "/tenants/beta/connectors/weather", authorizer={"lambda": {"tenant": "acme"}}
    )

    assert answer(handlers.api(event, None)).status == 403
