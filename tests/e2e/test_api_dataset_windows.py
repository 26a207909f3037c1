"""An API dataset through the API Lambda handler, fed REST (v1) and HTTP API (v2) events: a run
over a window (``start``/``end``), its partitions and cursor read back, a window's partition
job submitted once; bad windows, bodies, queries and names are 4xx and write nothing.

The memory backend runs no commands, so a test plays the gather and partition jobs with the
payloads the submitted jobs carry, on the National Weather Service pages a `MemorySource`
serves (`tests.observation_windows`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from overlord.adapters.memory.clock import FixedClock
from overlord.container import Container
from overlord.domain.datasets import ApiSource
from overlord.domain.windows import Window
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.testing import provisioned_memory_container
from tests.e2e.api_events import HTTP, REST, Gateway, segment
from tests.observation_windows import PARAMS, T0, serve_window

DATASET = "/tenants/acme/connectors/weather/datasets/observations"
RUNS, PARTITIONS = f"{DATASET}/runs", f"{DATASET}/partitions"
WINDOW = {"start": "2026-01-05T06:00:00Z", "end": "2026-01-05T14:00:00Z"}
HOUR = 6  # rows an hour's partition holds: two stations, every 20 minutes


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 5, 15, 2, 30, tzinfo=UTC))


@pytest.fixture
def container(clock: FixedClock) -> Container:
    return provisioned_memory_container("acme", "weather", "bank-reports", clock=clock)


@pytest.fixture(params=[REST, HTTP])
def api(request: pytest.FixtureRequest, container: Container) -> Gateway:
    return Gateway(LambdaHandlers(container).api, request.param)


def records(container: Container) -> object:
    """Every document of the tenant and every submission the backend took."""
    store = container.document_store()
    documents = {
        name: store.find("overlord-acme", name) for name in store.list_collections("overlord-acme")
    }
    return documents, len(container.job_runner().submitted)


def play(container: Container, job_id: str) -> Any:
    """Run a submitted stage job as its process would, with the payload it carries."""
    job = container.jobs().get("acme", job_id)
    datasets = container.datasets()
    stage = datasets.partition if job.job_type == "partition" else datasets.gather
    return stage("acme", "weather", job_id, job.payload)


def land(api: Gateway, container: Container, window: dict[str, str]) -> dict[str, Any]:
    """Start a run over ``window`` through the API and play its gather and partition jobs."""
    source = container.datasets().dataset("acme", "weather", "observations").source
    assert isinstance(source, ApiSource)
    serve_window(container.source(), source, Window.of(window["start"], window["end"]))
    started = api.post(RUNS, json={**window, "params": PARAMS})
    assert started.status == 202, started.body
    record = play(container, started.body["run_id"])
    [partitions] = [f for f in record.folders if f.table == "partitions"]
    play(container, partitions.job_id)
    body: dict[str, Any] = api.get(f"{RUNS}/{started.body['run_id']}").body
    return body


def test_a_run_over_a_window_is_started_once_and_carries_its_window_to_the_gather_job(
    api: Gateway, container: Container
) -> None:
    first = api.post(RUNS, json={"start": "2026-01-05T07:00:00+01:00", "end": WINDOW["end"]})
    again = api.post(RUNS, json={"start": "2026-01-05T06:00:00Z", "end": WINDOW["end"]})
    other = api.post(RUNS, json={"start": "2026-01-05T05:00:00Z", "end": WINDOW["end"]})

    assert (first.status, first.body["created"], first.body["status"]) == (202, True, "GATHERING")
    assert (again.status, again.body["run_id"]) == (200, first.body["run_id"])  # the same instant
    assert other.status == 202
    assert other.body["run_id"] != first.body["run_id"]
    job = container.jobs().get("acme", first.body["run_id"])
    assert (job.job_type, job.payload) == ("gather", {"dataset": "observations", **WINDOW})


def test_a_run_without_a_window_runs_from_the_cursor_to_now_once_a_minute(
    api: Gateway, container: Container, clock: FixedClock
) -> None:
    first = api.post(RUNS)
    same_minute = api.post(RUNS, json={})
    clock.advance(60)
    next_minute = api.post(RUNS)

    assert (first.status, same_minute.status, next_minute.status) == (202, 200, 202)
    assert same_minute.body["run_id"] == first.body["run_id"] != next_minute.body["run_id"]
    job = container.jobs().get("acme", first.body["run_id"])
    assert job.payload == {"dataset": "observations"}
    assert job.idempotency_key == "cadence@2026-01-05T15:02"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (RUNS, {"start": WINDOW["start"]}, "give both the start and the end"),
        (RUNS, {"end": WINDOW["end"]}, "give both the start and the end"),
        (RUNS, {"start": WINDOW["end"], "end": WINDOW["start"]}, "before it starts"),
        (RUNS, {**WINDOW, "start": "yesterday"}, "start 'yesterday': expected an ISO 8601"),
        (RUNS, {**WINDOW, "end": 1767600000}, "'end' must be an ISO 8601 time"),
        (RUNS, {**WINDOW, "start": ["2026"]}, "'start' must be an ISO 8601 time"),
        (RUNS, {**WINDOW, "end": "9999-12-31T23:59:59-01:00"}, "end '9999-12-31T23:59:59-01:00'"),
        (RUNS, {**WINDOW, "start": "0999-01-01T00:00:00Z"}, "between 1000 and 9998"),
        (RUNS, {"start": "2016-01-05T06:00:00Z", "end": WINDOW["end"]}, "over 10000 requests"),
        (RUNS, {**WINDOW, "window": "PT8H"}, "unknown field 'window'"),
        (
            "/tenants/acme/connectors/bank-reports/datasets/call-reports/runs",
            WINDOW,
            "a time window applies to API sources",
        ),
    ],
)
def test_a_bad_window_is_400_naming_what_is_wrong_and_starts_nothing(
    api: Gateway, container: Container, path: str, body: dict[str, Any], message: str
) -> None:
    before = records(container)

    refused = api.post(path, json=body)

    assert (refused.status, refused.error_code) == (400, "invalid_input"), refused.body
    assert message in refused.body["error"]["message"]
    assert records(container) == before


def test_a_landed_window_shows_its_partitions_and_moves_the_cursor(
    api: Gateway, container: Container
) -> None:
    empty = api.get(PARTITIONS)
    run = land(api, container, WINDOW)

    listed = api.get(PARTITIONS)
    narrowed = api.get(
        PARTITIONS, query={"start": "2026-01-05T08:00:00Z", "end": "2026-01-05T10:30:00Z"}
    )
    since = api.get(PARTITIONS, query={"start": "2026-01-05T13:00:00+00:00"})

    assert (empty.status, empty.body["cursor"], empty.body["partitions"]) == (200, None, [])
    assert [(f["table"], f["rows"], f["action"]) for f in run["folders"]][-1:] == [
        ("partitions", 8 * HOUR, "loaded")
    ]
    body = listed.body
    assert (body["tenant"], body["connector"], body["dataset"]) == (
        "acme",
        "weather",
        "observations",
    )
    assert body["cursor"] == WINDOW["end"]
    assert [p["key"] for p in body["partitions"]] == [
        f"year=2026/month=01/day=05/hour={hour:02d}" for hour in range(6, 14)
    ]
    assert body["partitions"][0] == {
        "key": "year=2026/month=01/day=05/hour=06",
        "start": "2026-01-05T06:00:00Z",
        "rows": HOUR,
        "files": 1,
        "published": True,
    }
    assert {(p["rows"], p["published"]) for p in body["partitions"]} == {(HOUR, True)}
    assert [p["start"] for p in narrowed.body["partitions"]] == [
        "2026-01-05T08:00:00Z",
        "2026-01-05T09:00:00Z",
        "2026-01-05T10:00:00Z",
    ]
    assert [p["start"] for p in since.body["partitions"]] == ["2026-01-05T13:00:00Z"]


def test_a_windows_partition_job_is_submitted_once_and_rebuilds_what_landed(
    api: Gateway, container: Container
) -> None:
    land(api, container, WINDOW)
    hour = {"start": "2026-01-05T08:15:00Z", "end": "2026-01-05T09:00:00Z"}
    submitted_before = len(container.job_runner().submitted)

    first = api.post(PARTITIONS, json=hour)
    again = api.post(PARTITIONS, json={"start": "2026-01-05T09:15:00+01:00", "end": hour["end"]})
    rebuilt = play(container, first.body["job_id"])

    assert first.status == 202
    assert {k: first.body[k] for k in ("status", "created", "dataset", "start", "end")} == {
        "status": "SUBMITTED",
        "created": True,
        "dataset": "observations",
        **hour,
    }
    assert first.headers["location"] == f"/tenants/acme/jobs/{first.body['job_id']}"
    assert (again.status, again.body["job_id"], again.body["created"]) == (
        200,
        first.body["job_id"],
        False,
    )
    assert len(container.job_runner().submitted) == submitted_before + 1
    job = container.jobs().get("acme", first.body["job_id"])
    assert (job.job_type, job.payload) == (
        "partition",
        {"stage": "partition", "dataset": "observations", **hour},
    )
    assert (rebuilt.table, rebuilt.rows) == ("partitions", HOUR)  # the whole hour 08:00-09:00
    hours = api.get(PARTITIONS).body["partitions"]
    assert len(hours) == 8
    assert {p["rows"] for p in hours} == {HOUR}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"start": WINDOW["start"]}, "'end' is missing"),
        ({"end": WINDOW["end"]}, "'start' is missing"),
        ({}, "'start' is missing"),
        ({**WINDOW, "start": 5}, "'start' must be an ISO 8601 time"),
        ({**WINDOW, "end": None}, "'end' must be an ISO 8601 time"),
        ({"start": WINDOW["end"], "end": WINDOW["start"]}, "before it starts"),
        ({**WINDOW, "end": "tomorrow"}, "end 'tomorrow'"),
        ({**WINDOW, "start": "0001-01-01T00:30:00+01:00"}, "start '0001-01-01T00:30:00+01:00'"),
        ({**WINDOW, "params": {}}, "unknown field 'params' (known: end, start)"),
    ],
)
def test_a_bad_partition_request_is_400_and_submits_nothing(
    api: Gateway, container: Container, body: dict[str, Any], message: str
) -> None:
    before = records(container)

    refused = api.post(PARTITIONS, json=body)

    assert (refused.status, refused.error_code) == (400, "invalid_input"), refused.body
    assert message in refused.body["error"]["message"]
    assert records(container) == before


@pytest.mark.parametrize("raw", ["{", "[]", "null", '"2026"', '{"start": NaN}'])
def test_a_partition_body_that_is_not_a_json_object_is_400(
    api: Gateway, container: Container, raw: str
) -> None:
    before = records(container)

    refused = api.post(PARTITIONS, body=raw)

    assert (refused.status, refused.error_code) == (400, "malformed_request")
    assert records(container) == before


def test_an_idempotency_key_is_refused_since_a_partition_job_is_named_by_its_window(
    api: Gateway, container: Container
) -> None:
    refused = api.post(PARTITIONS, json=WINDOW, headers={"Idempotency-Key": "rebuild-2"})

    assert (refused.status, refused.error_code) == (400, "invalid_input")
    assert "drop the Idempotency-Key" in refused.body["error"]["message"]
    assert container.job_runner().submitted == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "yesterday"}, "query parameter 'start' 'yesterday'"),
        ({"end": ""}, "query parameter 'end'"),
        ({"start": WINDOW["end"], "end": WINDOW["start"]}, "before it starts"),
        ({"start": WINDOW["start"], "end": WINDOW["start"]}, "before it starts"),
        ({"end": "9999-12-31T23:59:59-01:00"}, "query parameter 'end'"),
    ],
)
def test_a_bad_partition_query_is_400(api: Gateway, query: dict[str, str], message: str) -> None:
    refused = api.get(PARTITIONS, query=query)

    assert (refused.status, refused.error_code) == (400, "invalid_input")
    assert message in refused.body["error"]["message"]


def test_a_dataset_without_partitioning_is_400_and_an_unknown_one_404(
    api: Gateway, container: Container
) -> None:
    scraped = "/tenants/acme/connectors/bank-reports/datasets/call-reports/partitions"

    listed, submitted = api.get(scraped), api.post(scraped, json=WINDOW)

    for refused in (listed, submitted):
        assert (refused.status, refused.error_code) == (400, "invalid_input")
        assert "declares no partitioning" in refused.body["error"]["message"]
    for path in (
        "/tenants/acme/connectors/weather/datasets/forecasts/partitions",
        "/tenants/acme/connectors/shop/datasets/observations/partitions",
        "/tenants/globex/connectors/weather/datasets/observations/partitions",
    ):
        assert (api.get(path).status, api.post(path, json=WINDOW).status) == (404, 404), path
    assert container.job_runner().submitted == []


@pytest.mark.parametrize(
    ("tenant", "connector", "dataset"),
    [
        ("../x", "weather", "observations"),
        ("\u0430cme", "weather", "observations"),
        ("acme", "$where", "observations"),
        ("acme", "weather", "Observations"),
        ("acme", "weather", ".."),
        ("acme", "weather", "observations\n"),
    ],
)
def test_a_hostile_name_is_400_and_reaches_no_service(
    api: Gateway, container: Container, tenant: str, connector: str, dataset: str
) -> None:
    before = records(container)
    path = "/tenants/{}/connectors/{}/datasets/{}/partitions".format(
        *(segment(n) for n in (tenant, connector, dataset))
    )

    listed, submitted = api.get(path), api.post(path, json=WINDOW)

    assert (listed.status, submitted.status) == (400, 400)
    assert {listed.error_code, submitted.error_code} == {"invalid_name"}
    assert records(container) == before


def test_a_caller_restricted_to_another_tenant_cannot_read_or_rebuild_partitions(
    api: Gateway, container: Container
) -> None:
    assert api.get(PARTITIONS, as_tenant="globex").status == 403
    assert api.post(PARTITIONS, json=WINDOW, as_tenant="globex").status == 403
    assert api.post(RUNS, json=WINDOW, as_tenant="globex").status == 403
    assert api.get(PARTITIONS, as_tenant="acme").status == 200
    assert container.job_runner().submitted == []


def test_only_get_and_post_are_served_on_a_datasets_partitions(api: Gateway) -> None:
    refused = api.delete(PARTITIONS)

    assert (refused.status, refused.error_code) == (405, "method_not_allowed")
    assert set(refused.headers["allow"].split(", ")) == {"GET", "POST"}


def test_a_later_window_moves_the_cursor_and_a_backfill_never_moves_it_back(
    api: Gateway, container: Container
) -> None:
    land(api, container, WINDOW)
    earlier = {"start": "2026-01-05T02:00:00Z", "end": "2026-01-05T04:00:00Z"}
    land(api, container, earlier)

    listed = api.get(PARTITIONS).body

    assert listed["cursor"] == WINDOW["end"]
    assert len(listed["partitions"]) == 8 + 2
    assert listed["partitions"][0]["start"] == (T0 - timedelta(hours=4)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
