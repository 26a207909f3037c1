"""The batch routes through the API Lambda handler, fed REST (v1) and HTTP API (v2) events:
the original ``POST /stateMachineInit`` unchanged, start once (202, then 200, 409 for another
body), show with paged requests, list, retry, cancel; malformed bodies are 4xx and write nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.container import Container
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.settings import Settings
from overlord.testing import provisioned_memory_container
from tests.e2e.api_events import HTTP, REST, Gateway

START = "/tenants/acme/connectors/batch-manager/batches"
ORIGINAL = {
    "batchId": "b-2026-01-05",
    "totalItems": 5,
    "batchSize": 2,
    "currentBatch": 0,
    "itemIds": ["a", "b", "fail-c", "d", "e"],
}


@pytest.fixture
def container() -> Container:
    return provisioned_memory_container("acme", "batch-manager")


@pytest.fixture(params=[REST, HTTP])
def api(request: pytest.FixtureRequest, container: Container) -> Gateway:
    return Gateway(LambdaHandlers(container).api, request.param)


def records(container: Container) -> dict[str, int]:
    store = container.document_store()
    names = store.list_collections("overlord-acme")
    return {name: store.count("overlord-acme", name) for name in names}


def test_a_batch_is_started_once_and_a_different_body_under_its_id_is_409(api: Gateway) -> None:
    first = api.post(START, json=ORIGINAL)
    again = api.post(START, json=ORIGINAL)
    clash = api.post(START, json={**ORIGINAL, "batchSize": 3})
    assert (first.status, first.body["batch_id"], first.body["status"]) == (
        202,
        "b-2026-01-05",
        "PARTIALLY_FAILED",  # the memory engine runs it inside the request
    )
    assert first.headers["location"] == "/tenants/acme/batches/b-2026-01-05"
    assert (again.status, again.body["batch_id"]) == (200, "b-2026-01-05")
    assert (clash.status, clash.error_code) == (409, "conflict")


def test_show_pages_the_requests_and_counts_them(api: Gateway) -> None:
    api.post(START, json=ORIGINAL)
    page = api.get("/tenants/acme/batches/b-2026-01-05", query={"page_size": "2"})
    assert page.status == 200
    body = page.body
    assert {k: body[k] for k in ("batch_id", "status", "total_items", "batch_size", "chunks")} == {
        "batch_id": "b-2026-01-05",
        "status": "PARTIALLY_FAILED",
        "total_items": 5,
        "batch_size": 2,
        "chunks": 3,
    }
    assert body["counts"] == {
        "succeeded": 4,
        "failed": 1,
        "pending": 0,
        "running": 0,
        "cancelled": 0,
    }
    assert [r["item_id"] for r in body["requests"]] == ["a", "b"]
    rest = api.get(
        "/tenants/acme/batches/b-2026-01-05", query={"page": body["next_page"], "page_size": "9"}
    ).body
    first = rest["requests"][0]
    assert (first["item_id"], first["status"], first["step"]) == (
        "fail-c",
        "FAILED",
        "process-task-2",
    )
    assert rest["next_page"] is None
    assert api.get("/tenants/acme/batches/b-2026-01-05", query={"page": "x"}).status == 400
    assert api.get("/tenants/acme/batches/nope").status == 404


def test_retry_reruns_the_failed_items_and_list_filters_by_status(api: Gateway) -> None:
    api.post(START, json=ORIGINAL)
    retried = api.post("/tenants/acme/batches/b-2026-01-05/retry")
    assert (retried.status, retried.body["status"]) == (202, "SUCCEEDED")
    assert [a["kind"] for a in retried.body["attempts"]] == ["start", "retry"]
    assert api.post("/tenants/acme/batches/b-2026-01-05/retry").status == 409
    listed = api.get("/tenants/acme/batches", query={"status": "succeeded"}).body
    assert [b["batch_id"] for b in listed["batches"]] == ["b-2026-01-05"]
    none = api.get("/tenants/acme/batches", query={"status": "FAILED"}).body
    assert none["batches"] == []
    assert api.get("/tenants/acme/batches", query={"status": "bogus"}).status == 400


def test_cancel_of_a_finished_batch_is_409_and_a_bad_reason_400(api: Gateway) -> None:
    api.post(START, json=ORIGINAL)
    path = "/tenants/acme/batches/b-2026-01-05/cancel"
    assert api.post(path, json={"reason": ""}).status == 400
    assert api.post(path, json={"why": "x"}).status == 400
    refused = api.post(path, json={"reason": "not needed"})
    assert (refused.status, refused.error_code) == (409, "illegal_transition")


def test_state_machine_init_takes_the_original_body_and_the_tenant_of_the_caller(
    container: Container,
) -> None:
    container.settings.override(Settings(profile="memory", default_tenant="acme"))
    for flavour in (REST, HTTP):
        api = Gateway(LambdaHandlers(container).api, flavour)
        started = api.post("/stateMachineInit", json=ORIGINAL)
        assert started.status in (200, 202)
        assert started.body["batch_id"] == ORIGINAL["batchId"]
    assert container.batches().get("acme", ORIGINAL["batchId"]).connector == "batch-manager"
    # A caller an authorizer restricts to another tenant starts batches there, not in acme.
    other = Gateway(LambdaHandlers(container).api, REST)
    refused = other.post("/stateMachineInit", json=ORIGINAL, as_tenant="globex")
    assert refused.status == 404  # globex was never provisioned: nothing is written for it


def test_state_machine_init_without_any_tenant_is_400(container: Container) -> None:
    api = Gateway(LambdaHandlers(container).api, HTTP)
    refused = api.post("/stateMachineInit", json=ORIGINAL)
    assert (refused.status, refused.error_code) == (400, "invalid_input")
    assert "OVERLORD_DEFAULT_TENANT" in refused.body["error"]["message"]


def test_a_caller_restricted_to_another_tenant_cannot_see_its_batches(api: Gateway) -> None:
    api.post(START, json=ORIGINAL)
    assert api.get("/tenants/acme/batches/b-2026-01-05", as_tenant="globex").status == 403


value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.lists(st.text(max_size=3), max_size=4),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
field = st.sampled_from(
    ["batchId", "totalItems", "batchSize", "currentBatch", "itemIds", "pipeline", "extra"]
)


def _broken(changes: dict[str, Any], drop: list[str]) -> dict[str, Any]:
    body = {**ORIGINAL, **changes}
    for key in drop:
        body.pop(key, None)
    return body


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.dictionaries(field, value, min_size=1, max_size=3),
    drop=st.lists(field, max_size=2),
    flavour=st.sampled_from([REST, HTTP]),
    raw=st.one_of(st.none(), st.sampled_from(["{", "[]", "null", '"x"', "\ud800", "{}"])),
)
def test_malformed_batch_bodies_are_4xx_and_write_nothing(
    container: Container, changes: dict[str, Any], drop: list[str], flavour: str, raw: str | None
) -> None:
    api = Gateway(LambdaHandlers(container).api, flavour)
    before = records(container)
    options: dict[str, Any] = {"body": raw} if raw is not None else {"json": _broken(changes, drop)}
    for path in (START, "/stateMachineInit"):
        got = api.post(path, **options)
        assert got.status < 500, got.body
        if got.status >= 400:
            assert set(got.body) == {"error"}
            assert records(container) == before
        else:
            before = records(container)
            json.dumps(got.body)
