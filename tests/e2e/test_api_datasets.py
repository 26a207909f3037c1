"""The dataset routes through the API Lambda handler, fed REST (v1) and HTTP API (v2) events:
list the datasets, start a run once (202, then 200), read it back by id or under its dataset,
list a dataset's runs; bad bodies and names are 4xx and write nothing. On the local profile a
run started with an archive is followed through the API until its folders are loaded.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from overlord.adapters.memory.clock import FixedClock
from overlord.container import Container
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.samples.call_report_bulk import bulk_zip
from overlord.settings import Settings
from overlord.testing import provisioned_memory_container
from tests.e2e.api_events import HTTP, REST, Gateway, segment

RUNS = "/tenants/acme/connectors/bank-reports/datasets/call-reports/runs"
MARCH = {"params": {"period": "2026-03-31"}}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 4, 30, 9, 30, tzinfo=UTC))


@pytest.fixture
def container(clock: FixedClock) -> Container:
    return provisioned_memory_container("acme", "bank-reports", "weather", clock=clock)


@pytest.fixture(params=[REST, HTTP])
def api(request: pytest.FixtureRequest, container: Container) -> Gateway:
    return Gateway(LambdaHandlers(container).api, request.param)


def records(container: Container) -> object:
    """Every job recorded and every submission the backend took."""
    return container.document_store().find("overlord-acme", "jobs"), len(
        container.job_runner().submitted
    )


def test_the_tenants_datasets_are_listed_and_narrowed_by_connector(api: Gateway) -> None:
    listed = api.get("/tenants/acme/datasets")
    narrowed = api.get("/tenants/acme/datasets", query={"connector": "weather"})

    assert listed.status == 200
    dataset, observations = listed.body["datasets"]
    assert {k: dataset[k] for k in ("connector", "dataset", "source", "cleaner")} == {
        "connector": "bank-reports",
        "dataset": "call-reports",
        "source": "scrape",
        "cleaner": "call-reports",
    }
    assert dataset["keys"] == ["idrssd", "reporting_period"]
    assert (observations["connector"], observations["dataset"], observations["source"]) == (
        "weather",
        "observations",
        "api",
    )
    assert narrowed.status == 200
    assert narrowed.body["datasets"] == [observations]
    assert api.get("/tenants/acme/datasets", query={"connector": "../x"}).status == 400
    assert api.get("/tenants/acme/datasets", query={"connector": "shop"}).status == 404
    assert api.get("/tenants/globex/datasets").status == 404


def test_a_run_is_started_once_and_the_same_request_finds_it(
    api: Gateway, container: Container
) -> None:
    first = api.post(RUNS, json=MARCH)
    again = api.post(RUNS, json=MARCH)

    assert first.status == 202
    body = first.body
    assert (body["status"], body["gather_status"], body["created"]) == (
        "GATHERING",
        "SUBMITTED",
        True,
    )
    assert (body["dataset"], body["period"], body["folders"], body["errors"]) == (
        "call-reports",
        "2026-03-31",
        [],
        [],
    )
    assert first.headers["location"] == f"/tenants/acme/datasets/runs/{body['run_id']}"
    assert (again.status, again.body["run_id"], again.body["created"]) == (
        200,
        body["run_id"],
        False,
    )
    job = container.jobs().get("acme", body["run_id"])
    assert (job.job_type, job.payload) == (
        "gather",
        {"dataset": "call-reports", "params": {"period": "2026-03-31"}},
    )
    assert len(container.job_runner().submitted) == 1


def test_a_run_without_a_body_is_the_days_run_and_a_key_names_another(
    api: Gateway, container: Container, clock: FixedClock
) -> None:
    today = api.post(RUNS)
    same_day = api.post(RUNS, body="")
    keyed = api.post(RUNS, json={"idempotency_key": "rerun-1"})
    by_header = api.post(RUNS, headers={"Idempotency-Key": "rerun-1"})
    clock.advance(7 * 86400)
    next_week = api.post(RUNS, json={})

    assert (today.status, same_day.status) == (202, 200)
    assert today.body["run_id"] == same_day.body["run_id"]
    assert (keyed.status, by_header.status) == (202, 200)
    assert keyed.body["run_id"] == by_header.body["run_id"] != today.body["run_id"]
    assert next_week.status == 202
    assert container.jobs().get("acme", today.body["run_id"]).idempotency_key == (
        "latest@2026-04-30"
    )


def test_a_mirror_and_gathering_alone_are_carried_to_the_gather_job(
    api: Gateway, container: Container
) -> None:
    started = api.post(
        RUNS, json={**MARCH, "source_url": "http://127.0.0.1:8765", "process": False}
    )

    assert started.status == 202
    payload = container.jobs().get("acme", started.body["run_id"]).payload
    assert payload["source_url"] == "http://127.0.0.1:8765"
    assert payload["process"] is False


def test_a_run_is_read_by_its_id_and_under_its_own_dataset_only(
    api: Gateway, container: Container
) -> None:
    run_id = api.post(RUNS, json=MARCH).body["run_id"]
    ingest = container.jobs().submit("acme", "weather", "ingest", {"stations": ["KSEA"]}).job

    shown = api.get(f"/tenants/acme/datasets/runs/{run_id}")
    under = api.get(f"{RUNS}/{run_id}")

    assert shown.status == under.status == 200
    assert shown.body == under.body
    assert (shown.body["run_id"], shown.body["status"]) == (run_id, "GATHERING")
    assert "created" not in shown.body
    other_connector = f"/tenants/acme/connectors/weather/datasets/call-reports/runs/{run_id}"
    other_dataset = f"/tenants/acme/connectors/bank-reports/datasets/rate-sheets/runs/{run_id}"
    for path in (
        other_connector,
        other_dataset,
        f"/tenants/acme/datasets/runs/{ingest.id}",  # a job, but not a dataset run
        f"/tenants/acme/datasets/runs/{'0' * 32}",
        f"/tenants/globex/datasets/runs/{run_id}",
    ):
        missing = api.get(path)
        assert (missing.status, missing.error_code) == (404, "not_found"), path
    assert api.get("/tenants/acme/datasets/runs/not-a-job-id").status == 400


def test_a_datasets_runs_are_listed_newest_first_and_narrowed_by_status(
    api: Gateway, clock: FixedClock
) -> None:
    march = api.post(RUNS, json=MARCH).body["run_id"]
    clock.advance(60)
    june = api.post(RUNS, json={"params": {"period": "2026-06-30"}}).body["run_id"]

    listed = api.get(RUNS)
    gathering = api.get(RUNS, query={"status": "gathering"})
    failed = api.get(RUNS, query={"status": "FAILED"})

    assert listed.status == 200
    assert [(r["run_id"], r["period"]) for r in listed.body["runs"]] == [
        (june, "2026-06-30"),
        (march, "2026-03-31"),
    ]
    assert [r["run_id"] for r in gathering.body["runs"]] == [june, march]
    assert failed.body["runs"] == []
    assert api.get(RUNS, query={"status": "done"}).status == 400
    unknown = api.get("/tenants/acme/connectors/bank-reports/datasets/rate-sheets/runs")
    assert (unknown.status, unknown.error_code) == (404, "not_found")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"period": "2026-03-31"}, "unknown field 'period'"),
        ({"params": ["period", "2026-03-31"]}, "'params' must be an object"),
        ({"params": {"period": 20260331}}, "expected a string"),
        ({"params": {"bad name": "x"}}, "expected an identifier"),
        ({"params": {"period": "../2026"}}, "period"),
        ({"params": {f"p{i}": "x" for i in range(33)}}, "at most 32"),
        ({"source_url": 8080}, "'source_url' must be a string"),
        ({"source_url": "ftp://mirror.example"}, "expected http(s)://host"),
        ({"source_url": "http://mirror.example/Bulk.aspx"}, "give only scheme, host and port"),
        ({"source_url": "http://user:pw@mirror.example"}, "user info"),
        ({"process": "no"}, "'process' must be true or false"),
        ({"idempotency_key": 7}, "'idempotency_key' must be a string"),
        ({"idempotency_key": "two words"}, "visible ASCII"),
        ({"idempotency_key": ""}, "visible ASCII"),
    ],
)
def test_a_bad_body_is_400_and_starts_nothing(
    api: Gateway, container: Container, body: dict[str, Any], message: str
) -> None:
    before = records(container)

    refused = api.post(RUNS, json=body)

    assert refused.status == 400, refused.body
    assert refused.error_code in ("invalid_input", "malformed_request")
    assert message in refused.body["error"]["message"]
    assert records(container) == before


@pytest.mark.parametrize("raw", ["{", "[]", '"x"', "null", '{"params": NaN}'])
def test_a_body_that_is_not_a_json_object_is_400(
    api: Gateway, container: Container, raw: str
) -> None:
    before = records(container)

    refused = api.post(RUNS, body=raw)

    assert (refused.status, refused.error_code) == (400, "malformed_request")
    assert records(container) == before


def test_a_key_in_the_body_and_another_in_the_header_is_400(
    api: Gateway, container: Container
) -> None:
    refused = api.post(RUNS, json={"idempotency_key": "a"}, headers={"Idempotency-Key": "b"})

    assert (refused.status, refused.error_code) == (400, "invalid_input")
    assert container.job_runner().submitted == []


@pytest.mark.parametrize(
    ("tenant", "connector", "dataset"),
    [
        ("../x", "bank-reports", "call-reports"),
        ("\u0430cme", "bank-reports", "call-reports"),
        ("acme", "$where", "call-reports"),
        ("acme", "bank-reports", "Call_Reports"),
        ("acme", "bank-reports", ".."),
        ("acme", "bank-reports", "call-reports\n"),
        ("acme", "bank-reports", "x" * 40),
    ],
)
def test_a_hostile_name_is_400_and_reaches_no_service(
    api: Gateway, container: Container, tenant: str, connector: str, dataset: str
) -> None:
    before = records(container)
    path = "/tenants/{}/connectors/{}/datasets/{}/runs".format(
        *(segment(n) for n in (tenant, connector, dataset))
    )

    started = api.post(path, json=MARCH)
    listed = api.get(path)
    shown = api.get(f"{path}/{'0' * 32}")

    assert (started.status, listed.status, shown.status) == (400, 400, 400)
    assert {started.error_code, listed.error_code, shown.error_code} == {"invalid_name"}
    assert records(container) == before


def test_an_unknown_dataset_connector_or_tenant_is_404_and_starts_nothing(
    api: Gateway, container: Container
) -> None:
    for path in (
        "/tenants/acme/connectors/bank-reports/datasets/rate-sheets/runs",
        "/tenants/acme/connectors/weather/datasets/call-reports/runs",
        "/tenants/acme/connectors/shop/datasets/call-reports/runs",
        "/tenants/globex/connectors/bank-reports/datasets/call-reports/runs",
    ):
        refused = api.post(path, json=MARCH)
        assert (refused.status, refused.error_code) == (404, "not_found"), path
    assert container.job_runner().submitted == []


def test_a_caller_restricted_to_another_tenant_cannot_start_or_read_runs(api: Gateway) -> None:
    run_id = api.post(RUNS, json=MARCH).body["run_id"]

    assert api.post(RUNS, json=MARCH, as_tenant="globex").status == 403
    assert api.get(f"/tenants/acme/datasets/runs/{run_id}", as_tenant="globex").status == 403
    assert api.get("/tenants/acme/datasets", as_tenant="globex").status == 403
    assert api.get(RUNS, as_tenant="acme").status == 200


def test_only_get_and_post_are_served_on_a_datasets_runs(api: Gateway) -> None:
    refused = api.delete(RUNS)

    assert (refused.status, refused.error_code) == (405, "method_not_allowed")
    assert set(refused.headers["allow"].split(", ")) == {"GET", "POST"}


# the local profile: real jobs, real tables


def test_a_local_run_started_with_an_archive_shows_its_folders_and_rows_once_finished(
    tmp_path: Path,
) -> None:
    container = Container.from_settings(Settings(profile="local", home=tmp_path / "home"))
    container.provisioning().apply("acme", "bank-reports")
    started = container.datasets().start(
        "acme", "bank-reports", "call-reports", params=MARCH["params"], archive=bulk_zip()
    )
    run_id = started.run.run_id
    api = Gateway(LambdaHandlers(container).api, HTTP)

    deadline = time.monotonic() + 300
    shown = api.get(f"/tenants/acme/datasets/runs/{run_id}")
    while shown.body["status"] not in ("SUCCEEDED", "FAILED") and time.monotonic() < deadline:
        time.sleep(0.2)
        shown = api.get(f"/tenants/acme/datasets/runs/{run_id}")

    body = shown.body
    assert (shown.status, body["status"], body["errors"]) == (200, "SUCCEEDED", []), body
    assert [f["name"] for f in body["files"]] == ["archive.zip"]
    assert [
        (f["table"], f["files"], f["rows"], f["action"], f["status"]) for f in body["folders"]
    ] == [
        ("call_por", 1, 3, "loaded", "SUCCEEDED"),
        ("call_rc", 1, 3, "loaded", "SUCCEEDED"),
        ("call_rcb", 2, 3, "loaded", "SUCCEEDED"),
        ("call_ri", 1, 3, "loaded", "SUCCEEDED"),
    ]
    listed = api.get(RUNS).body["runs"]
    assert [r["run_id"] for r in listed] == [run_id]
    assert listed[0]["status"] == "SUCCEEDED"
    container.shutdown_resources()
