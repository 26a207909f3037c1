"""Every route, fed REST API (v1) and HTTP API (v2) events, on the memory profile.

The container is the one `Container.from_settings` builds; tests replace providers (the clock,
a failing document store) rather than patching modules, and look at outcomes through the
services and ports, not at calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from dependency_injector import providers

from overlord.adapters.memory.clock import FixedClock
from overlord.adapters.memory.document_store import MemoryDocumentStore
from overlord.container import Container
from overlord.domain.errors import BackendError, OverlordError, Throttled
from overlord.domain.jobs import JobStatus
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.settings import Settings
from tests.e2e.api_events import HTTP, REST, Gateway

START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
CONNECTOR = "/tenants/acme/connectors/weather"
INGEST = f"{CONNECTOR}/jobs/ingest"


def build_container(**settings: Any) -> Container:
    container = Container.from_settings(Settings(profile="memory", **settings))
    container.clock.override(providers.Object(FixedClock(START)))
    return container


@pytest.fixture
def container() -> Iterator[Container]:
    container = build_container()
    yield container
    container.clock.reset_override()


@pytest.fixture(params=[REST, HTTP])
def api(request: pytest.FixtureRequest, container: Container) -> Gateway:
    return Gateway(LambdaHandlers(container).api, request.param)


@pytest.fixture
def provisioned(api: Gateway) -> Gateway:
    assert api.put(CONNECTOR).status == 200
    return api


def backend_id(container: Container, job_id: str) -> str:
    value: str | None = container.jobs().get("acme", job_id).backend_job_id
    assert value is not None
    return value


# provisioning


def test_put_provisions_the_connector_and_reports_every_resource(
    api: Gateway, container: Container
) -> None:
    first = api.put(CONNECTOR)
    again = api.put(CONNECTOR)

    assert first.status == 200
    assert (first.body["tenant"], first.body["connector"]) == ("acme", "weather")
    kinds = {r["kind"] for r in first.body["resources"]}
    assert {"database", "configuration", "bucket", "job_queue", "schedule"} <= kinds
    assert {r["action"] for r in first.body["resources"]} == {"created"}
    assert {r["action"] for r in again.body["resources"]} == {"unchanged"}
    assert container.jobs().target("acme", "weather").names["bucket"] == "overlord-acme-weather"


def test_put_with_plan_only_says_what_would_change(api: Gateway, container: Container) -> None:
    planned = api.put(CONNECTOR, query={"plan": "true"})

    assert planned.status == 200
    assert {r["action"] for r in planned.body["resources"]} == {"would-create"}
    assert container.document_store().list_databases() == []


def test_put_of_a_connector_missing_from_the_catalog_is_404_and_writes_nothing(
    api: Gateway, container: Container
) -> None:
    found = api.put("/tenants/acme/connectors/nosuch")

    assert (found.status, found.error_code) == (404, "not_found")
    assert "nosuch" in found.body["error"]["message"]
    assert container.document_store().list_databases() == []


def test_get_shows_the_configuration_document_and_resource_state(provisioned: Gateway) -> None:
    shown = provisioned.get(CONNECTOR)

    assert shown.status == 200
    assert shown.body["in_sync"] is True
    assert shown.body["configuration"]["names"]["job_queue"] == "overlord-acme-weather"
    assert shown.body["configuration"]["template_version"] == 3
    assert {r["action"] for r in shown.body["resources"]} == {"would-keep"}


@pytest.mark.parametrize(
    "path", ["/tenants/nobody/connectors/weather", "/tenants/acme/connectors/marketplace"]
)
def test_get_of_a_connector_not_provisioned_is_404(provisioned: Gateway, path: str) -> None:
    found = provisioned.get(path)

    assert (found.status, found.error_code) == (404, "not_found")


# submission


def test_a_submission_is_accepted_once_and_a_repeat_returns_the_same_job(
    provisioned: Gateway, container: Container
) -> None:
    first = provisioned.post(INGEST, json={"stations": ["KSEA"]})
    again = provisioned.post(INGEST, json={"stations": ["KSEA"]})

    assert first.status == 202
    assert first.body == {"job_id": first.body["job_id"], "status": "SUBMITTED", "created": True}
    assert first.headers["location"] == f"/tenants/acme/jobs/{first.body['job_id']}"
    assert again.status == 200
    assert again.body == {**first.body, "created": False}
    assert len(container.job_runner().submitted) == 1


def test_an_idempotency_key_makes_an_equal_payload_a_new_job(
    provisioned: Gateway, container: Container
) -> None:
    plain = provisioned.post(INGEST, json={})
    keyed = provisioned.post(INGEST, json={}, headers={"Idempotency-Key": "order-7"})
    keyed_again = provisioned.post(INGEST, json={}, headers={"idempotency-key": "order-7"})

    assert (plain.status, keyed.status, keyed_again.status) == (202, 202, 200)
    assert plain.body["job_id"] != keyed.body["job_id"] == keyed_again.body["job_id"]
    assert container.jobs().get("acme", keyed.body["job_id"]).idempotency_key == "order-7"


def test_an_empty_body_submits_an_empty_payload(provisioned: Gateway, container: Container) -> None:
    submitted = provisioned.post(INGEST)

    assert submitted.status == 202
    assert container.jobs().get("acme", submitted.body["job_id"]).payload == {}


def test_a_backend_refusing_the_submission_is_recorded_as_submit_failed(
    provisioned: Gateway, container: Container
) -> None:
    container.job_runner().fail_next_submits(1, BackendError("queue is disabled"))

    submitted = provisioned.post(INGEST, json={"n": 1})

    assert (submitted.status, submitted.body["status"]) == (202, "SUBMIT_FAILED")
    job = container.jobs().get("acme", submitted.body["job_id"])
    assert job.status_reason == "queue is disabled"


# reading jobs


def test_a_job_is_shown_with_its_runs(provisioned: Gateway, container: Container) -> None:
    job_id = provisioned.post(INGEST, json={"n": 1}).body["job_id"]
    runner = container.job_runner()
    runner.advance(backend_id(container, job_id), JobStatus.RUNNING)
    runner.advance(backend_id(container, job_id), JobStatus.SUCCEEDED)

    shown = provisioned.get(f"/tenants/acme/jobs/{job_id}")

    assert shown.status == 200
    assert (shown.body["job_id"], shown.body["status"]) == (job_id, "SUCCEEDED")
    assert shown.body["payload"] == {"n": 1}
    assert [(r["attempt"], r["status"], r["exit_code"]) for r in shown.body["runs"]] == [
        (1, "SUCCEEDED", 0)
    ]
    assert shown.body["runs"][0]["started_at"] == START.isoformat()


def test_a_job_logs_are_its_runs_lines_in_order(provisioned: Gateway, container: Container) -> None:
    job_id = provisioned.post(INGEST, json={"n": 2}).body["job_id"]
    runner, backend = container.job_runner(), backend_id(container, job_id)
    runner.advance(backend, JobStatus.RUNNING)
    runner.write_log(backend, 1, "fetching KSEA")
    runner.write_log(backend, 1, "rate limited", stream="stderr")
    runner.advance(backend, JobStatus.SUCCEEDED)

    logs = provisioned.get(f"/tenants/acme/jobs/{job_id}/logs")

    assert logs.status == 200
    assert logs.body["job_id"] == job_id
    assert [
        (e["attempt"], e["sequence"], e["stream"], e["message"]) for e in logs.body["logs"]
    ] == [
        (1, 0, "stdout", "fetching KSEA"),
        (1, 1, "stderr", "rate limited"),
    ]


def test_jobs_are_listed_and_filtered_by_status(provisioned: Gateway, container: Container) -> None:
    done = provisioned.post(INGEST, json={"n": 1}).body["job_id"]
    waiting = provisioned.post(INGEST, json={"n": 2}).body["job_id"]
    container.job_runner().advance(backend_id(container, done), JobStatus.SUCCEEDED)

    everything = provisioned.get("/tenants/acme/jobs")
    succeeded = provisioned.get("/tenants/acme/jobs", query={"status": "SUCCEEDED"})
    submitted = provisioned.get("/tenants/acme/jobs", query={"status": "submitted"})

    assert {j["job_id"] for j in everything.body["jobs"]} == {done, waiting}
    assert [j["job_id"] for j in succeeded.body["jobs"]] == [done]
    assert [j["job_id"] for j in submitted.body["jobs"]] == [waiting]


def test_an_unknown_status_filter_is_400(provisioned: Gateway) -> None:
    found = provisioned.get("/tenants/acme/jobs", query={"status": "DONE"})

    assert (found.status, found.error_code) == (400, "invalid_input")
    assert "SUCCEEDED" in found.body["error"]["message"]


def test_an_unknown_job_is_404(provisioned: Gateway) -> None:
    for path in ("/tenants/acme/jobs/" + "0" * 32, "/tenants/acme/jobs/" + "0" * 32 + "/logs"):
        found = provisioned.get(path)
        assert (found.status, found.error_code) == (404, "not_found")


def test_a_malformed_job_id_is_400(provisioned: Gateway) -> None:
    found = provisioned.get("/tenants/acme/jobs/not-a-job")

    assert (found.status, found.error_code) == (400, "invalid_name")


# the original system's routes


def test_the_original_init_route_provisions(api: Gateway, container: Container) -> None:
    done = api.get("/init/acme/weather")

    assert done.status == 200
    assert {r["action"] for r in done.body["resources"]} == {"created"}
    assert container.tenants().list()[0].connectors == ("weather",)


def test_the_original_submit_route_names_the_same_job(provisioned: Gateway) -> None:
    original = provisioned.post("/init/ingest/acme/weather", json={"stations": ["KJFK"]})
    current = provisioned.post(INGEST, json={"stations": ["KJFK"]})

    assert (original.status, current.status) == (202, 200)
    assert original.body["job_id"] == current.body["job_id"]


# bad input and faults


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{", "not valid JSON"),
        ("[1, 2]", "not an array"),
        ('"text"', "not a string"),
        ("null", "not null"),
        ("42", "not a number"),
        ('{"a": NaN}', "NaN is not a JSON value"),
        ("\ud800", "not UTF-8 text"),
        ('{"a": "\\ud800"}', "lone surrogate"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a": ' + "[" * 900 + "]" * 900 + "}", "nested more than 100 levels deep"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(
    provisioned: Gateway, container: Container, body: str, message: str
) -> None:
    refused = provisioned.post(INGEST, body=body)

    assert (refused.status, refused.error_code) == (400, "malformed_request")
    assert message in refused.body["error"]["message"]
    assert container.jobs().list("acme") == []


def test_a_payload_over_the_limit_is_413() -> None:
    container = build_container(max_payload_bytes=64)
    api = Gateway(LambdaHandlers(container).api, HTTP)
    api.put(CONNECTOR)

    raw = api.post(INGEST, body='{"a": "' + "x" * 100 + '"}')
    compact = api.post(INGEST, json={"a": "x" * 40}, headers={})

    assert (raw.status, raw.error_code) == (413, "payload_too_large")
    assert "OVERLORD_MAX_PAYLOAD_BYTES" in raw.body["error"]["message"]
    assert compact.status == 202
    assert len(container.jobs().list("acme")) == 1


def test_an_unknown_job_type_is_404_and_writes_nothing(
    provisioned: Gateway, container: Container
) -> None:
    refused = provisioned.post(f"{CONNECTOR}/jobs/explode", json={})

    assert (refused.status, refused.error_code) == (404, "not_found")
    assert "ingest" in refused.body["error"]["message"]
    assert container.jobs().list("acme") == []


def test_an_unknown_route_is_404(api: Gateway) -> None:
    for path in ("/", "/tenant", "/tenants/acme/connectors/weather/extra/1/2", "/jobs"):
        found = api.get(path)
        assert (found.status, found.error_code) == (404, "route_not_found"), path


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", CONNECTOR, "PUT, GET"),
        ("POST", CONNECTOR, "PUT, GET"),
        ("GET", INGEST, "POST"),
        ("PUT", "/tenants/acme/jobs", "GET"),
        ("POST", "/init/acme/weather", "GET"),
        ("GET", "/init/ingest/acme/weather", "POST"),
        ("BREW", "/tenants/acme/jobs", "DELETE, GET, POST, PUT"),
    ],
)
def test_a_method_the_path_does_not_accept_is_405(
    api: Gateway, container: Container, method: str, path: str, allowed: str
) -> None:
    refused = api.request(method, path)

    assert (refused.status, refused.error_code) == (405, "method_not_allowed")
    assert refused.headers["allow"] == allowed
    assert container.document_store().list_databases() == []


class FailingDocuments(MemoryDocumentStore):
    """A document store whose inserts fail, as a throttled or broken backend would."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error: Exception | None = None
        self._armed = error

    def arm(self) -> None:
        self.error = self._armed

    def insert(self, database: str, collection: str, document: Any) -> None:
        if self.error is not None:
            raise self.error
        super().insert(database, collection, document)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (Throttled("DynamoDB: rate exceeded"), 503, "throttled"),
        (BackendError("DynamoDB is unreachable"), 502, "backend_error"),
        (OverlordError("something unnamed"), 500, "overlord_error"),
    ],
)
def test_backend_failures_are_5xx_with_their_code(
    container: Container, error: Exception, status: int, code: str
) -> None:
    documents = FailingDocuments(error)
    with container.document_store.override(providers.Object(documents)):
        api = Gateway(LambdaHandlers(container).api, REST)
        api.put(CONNECTOR)
        documents.arm()

        failed = api.post(INGEST, json={})

    assert (failed.status, failed.error_code) == (status, code)
    assert failed.body["error"]["message"] == str(error)
    if status == 503:
        assert failed.headers["retry-after"] == "1"


def test_a_bug_is_a_500_that_tells_the_caller_nothing_of_it(container: Container) -> None:
    documents = FailingDocuments(RuntimeError("secret connection string"))
    with container.document_store.override(providers.Object(documents)):
        api = Gateway(LambdaHandlers(container).api, HTTP)
        api.put(CONNECTOR)
        documents.arm()

        failed = api.post(INGEST, json={})

    assert (failed.status, failed.error_code) == (500, "internal_error")
    assert "secret" not in str(failed.body)


# the routes the CLI has


def test_get_tenants_lists_what_tenants_list_lists(provisioned: Gateway) -> None:
    listed = provisioned.get("/tenants")

    assert listed.status == 200
    [acme] = listed.body["tenants"]
    assert (acme["name"], acme["connectors"]) == ("acme", ["weather"])


def test_get_connectors_is_the_catalog_and_one_connector_its_template(
    api: Gateway, container: Container
) -> None:
    catalog = api.get("/connectors")
    weather = api.get("/connectors/weather")
    unknown = api.get("/connectors/nosuch")

    names = [c["name"] for c in catalog.body["connectors"]]
    assert names == [t.name.value for t in container.catalog().list()]
    assert {c["source"] for c in catalog.body["connectors"]} == {"bundled"}
    assert weather.status == 200
    assert weather.body["name"] == "weather"
    assert "payload_schema" in weather.body["job_types"]["ingest"]
    assert (unknown.status, unknown.error_code) == (404, "not_found")
    assert api.get("/connectors/..%2Fx").status == 400


def test_delete_tenant_removes_what_provisioning_made_and_purge_is_asked_for(
    provisioned: Gateway, container: Container
) -> None:
    container.object_store().put_object("overlord-acme-weather", "raw/kept.json", b"{}")

    refused = provisioned.delete("/tenants/acme")
    assert (refused.status, refused.error_code) == (409, "conflict")
    assert [t.name for t in container.tenants().list()] == ["acme"]

    deleted = provisioned.delete("/tenants/acme", query={"purge": "true"})
    assert deleted.status == 200
    assert deleted.body["tenant"] == "acme"
    assert ("bucket", "overlord-acme-weather", "deleted") in {
        (r["kind"], r["name"], r["action"]) for r in deleted.body["resources"]
    }
    assert container.tenants().list() == []
    assert (provisioned.delete("/tenants/acme").status) == 404


def test_cancel_stops_a_running_job_and_a_finished_one_is_a_conflict(
    provisioned: Gateway, container: Container
) -> None:
    job_id = provisioned.post(INGEST, json={"stations": ["KSEA"]}).body["job_id"]
    path = f"/tenants/acme/jobs/{job_id}/cancel"

    bad = provisioned.post(path, json={"reason": ""})
    extra = provisioned.post(path, json={"why": "x"})
    assert (bad.status, extra.status) == (400, 400)
    assert container.jobs().get("acme", job_id).status is not JobStatus.CANCELLED

    cancelled = provisioned.post(path, json={"reason": "wrong stations"})
    assert cancelled.status == 200
    assert (cancelled.body["status"], cancelled.body["status_reason"]) == (
        "CANCELLED",
        "wrong stations",
    )
    again = provisioned.post(path)
    assert again.status == 409
    assert container.jobs().get("acme", job_id).status is JobStatus.CANCELLED
