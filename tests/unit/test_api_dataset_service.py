"""An API dataset's runs on the memory profile: windows, the cursor, landing and partitions.

Each test plays the jobs, as tests/unit/test_dataset_service.py does: it calls the stage with
the payload the submitted job carries. The weather connector's ``observations`` dataset is the
example (the NWS API, served here from memory by URL). What these show: a window is fixed by a
run's first attempt, the cursor moves only once a window has fully landed and never back, the
same window lands the same objects, a partition job rebuilds every partition its window touches
whole, and a failure leaves the cursor where it was.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from overlord.container import Container
from overlord.domain.errors import BackendError, InvalidInput
from overlord.domain.names import TenantName, tenant_database
from overlord.domain.partitions import MARKER
from overlord.domain.template_parsing import template_to_mapping
from overlord.domain.windows import Window, instant_text
from overlord.services.dataset_windows import Cursors
from overlord.testing import provisioned_memory_container

TENANT, CONNECTOR, DATASET = "acme", "weather", "observations"
BUCKET = "overlord-acme-weather"
STATIONS = {"stations": "KSEA,KJFK"}
T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def container() -> Container:
    return provisioned_memory_container(TENANT, CONNECTOR)


def cursors(container: Container) -> Cursors:
    database = tenant_database(container.namespace(), TenantName(TENANT))
    return Cursors(container.document_store(), database)


def feature(station: str, at: datetime, temperature: float) -> dict[str, Any]:
    return {
        "properties": {
            "station": f"https://api.weather.gov/stations/{station}",
            "timestamp": at.isoformat(),
            "temperature": {"value": temperature},
        }
    }


def url(container: Container, station: str, start: datetime, end: datetime) -> str:
    """The URL the dataset's recipe asks for one station's window."""
    source = container.datasets().dataset(TENANT, CONNECTOR, DATASET).source
    values = {"station": station, "start": instant_text(start), "end": instant_text(end)}
    return source.render(values)  # type: ignore[union-attr]


def serve(container: Container, start: datetime, end: datetime, *, every: int = 20) -> int:
    """Serve each station's readings every ``every`` minutes in [start, end) for that window;
    the number of readings served."""
    served = 0
    for station in ("KSEA", "KJFK"):
        minutes = int((end - start).total_seconds() // 60)
        features = [
            feature(station, start + timedelta(minutes=m), m / 10) for m in range(0, minutes, every)
        ]
        body = json.dumps({"features": features}).encode()
        container.source().serve(url(container, station, start, end), "page.json", body)  # type: ignore[attr-defined]
        served += len(features)
    return served


def play(container: Container, run_id: str) -> None:
    """Run the gather job, then every job it submitted: process and partition jobs."""
    datasets = container.datasets()
    record = datasets.gather(
        TENANT, CONNECTOR, run_id, container.jobs().get(TENANT, run_id).payload
    )
    for folder in record.folders:
        payload = container.jobs().get(TENANT, folder.job_id).payload
        if payload.get("stage") == "partition":
            datasets.partition(TENANT, CONNECTOR, folder.job_id, payload)
        else:
            datasets.process(TENANT, CONNECTOR, folder.job_id, payload)


def partition_rows(container: Container) -> dict[str, int]:
    found = container.datasets().partitions(TENANT, CONNECTOR, DATASET)
    assert all(p.published for p in found)
    return {p.key: p.rows for p in found}


def test_a_backfill_lands_its_window_partitions_it_and_moves_the_cursor(
    container: Container,
) -> None:
    end = T0 + timedelta(hours=3)
    served = serve(container, T0, end)
    datasets = container.datasets()

    started = datasets.start(
        TENANT,
        CONNECTOR,
        DATASET,
        params=STATIONS,
        start="2026-01-05T06:00:00Z",
        end=instant_text(end),
    )
    play(container, started.run.run_id)

    assert partition_rows(container) == {
        "year=2026/month=01/day=05/hour=06": 6,
        "year=2026/month=01/day=05/hour=07": 6,
        "year=2026/month=01/day=05/hour=08": 6,
    }
    assert sum(partition_rows(container).values()) == served
    assert len(container.table_sink().read("observations")) == served
    assert datasets.cursor(TENANT, CONNECTOR, DATASET) == end
    keys = [o.key for o in container.object_store().list_objects(BUCKET, "partitions/")]
    assert sum(k.endswith("/" + MARKER) for k in keys) == 3
    assert not [k for k in keys if "_staging" in k]


def test_the_same_window_again_lands_the_same_objects_and_adds_no_rows(
    container: Container,
) -> None:
    end = T0 + timedelta(hours=2)
    serve(container, T0, end)
    datasets = container.datasets()
    window = {"start": instant_text(T0), "end": instant_text(end)}
    first = datasets.start(TENANT, CONNECTOR, DATASET, params=STATIONS, **window)
    play(container, first.run.run_id)
    objects = {o.key: o.size for o in container.object_store().list_objects(BUCKET, "raw/")}
    rows = partition_rows(container)

    again = datasets.start(
        TENANT, CONNECTOR, DATASET, params=STATIONS, idempotency_key="again", **window
    )
    assert again.created
    assert again.run.run_id != first.run.run_id
    play(container, again.run.run_id)

    assert {o.key: o.size for o in container.object_store().list_objects(BUCKET, "raw/")} == objects
    assert partition_rows(container) == rows
    assert len(container.table_sink().read("observations")) == sum(rows.values())


def test_a_cadence_run_covers_cursor_to_now_and_its_retry_covers_the_same_window() -> None:
    # The recipe's overlap (20 minutes) starts it that much before the cursor, for late reports.
    clock = Clock(T0 + timedelta(hours=1))
    container = provisioned_memory_container(TENANT, CONNECTOR, clock=clock)
    datasets = container.datasets()
    cursors(container).advance(CONNECTOR, DATASET, Window(T0 - timedelta(hours=1), T0))
    started = datasets.start(TENANT, CONNECTOR, DATASET, params=STATIONS)
    assert started.run.window is None  # fixed by the gather's first attempt, not before
    run_id = started.run.run_id
    payload = container.jobs().get(TENANT, run_id).payload

    with pytest.raises(Exception, match="nothing is served"):  # the API is not answering yet
        datasets.gather(TENANT, CONNECTOR, run_id, payload)
    datasets.record_failure(TENANT, run_id, payload, "the API was down")
    assert datasets.cursor(TENANT, CONNECTOR, DATASET) == T0

    clock.moment += timedelta(minutes=30)  # the retry runs later, over the same window
    start = T0 - timedelta(minutes=20)
    serve(container, start, T0 + timedelta(hours=1))
    play(container, run_id)

    assert (
        datasets.run(TENANT, run_id).window
        == f"{instant_text(start)}/{instant_text(T0 + timedelta(hours=1))}"
    )
    assert datasets.cursor(TENANT, CONNECTOR, DATASET) == T0 + timedelta(hours=1)


def test_the_first_cadence_run_covers_the_recipes_max_span_and_a_caught_up_one_nothing() -> None:
    now = T0 + timedelta(hours=6)
    container = provisioned_memory_container(TENANT, CONNECTOR, clock=Clock(now))
    serve(container, T0, now)
    datasets = container.datasets()

    first = datasets.start(TENANT, CONNECTOR, DATASET, params=STATIONS)
    play(container, first.run.run_id)
    assert datasets.cursor(TENANT, CONNECTOR, DATASET) == now
    assert (
        datasets.run(TENANT, first.run.run_id).window == f"{instant_text(T0)}/{instant_text(now)}"
    )

    caught_up = datasets.start(TENANT, CONNECTOR, DATASET, params=STATIONS, idempotency_key="2")
    record = container.datasets().gather(
        TENANT,
        CONNECTOR,
        caught_up.run.run_id,
        container.jobs().get(TENANT, caught_up.run.run_id).payload,
    )
    assert (record.folders, record.window) == ((), None)


def test_a_late_record_is_landed_by_the_next_cadence_run_and_kept_once() -> None:
    clock = Clock(T0 + timedelta(hours=1))
    container = provisioned_memory_container(TENANT, CONNECTOR, clock=clock)
    datasets = container.datasets()
    serve(container, T0, T0 + timedelta(hours=1))
    first = datasets.start(
        TENANT,
        CONNECTOR,
        DATASET,
        params=STATIONS,
        start=instant_text(T0),
        end=instant_text(clock.moment),
    )
    play(container, first.run.run_id)
    before = sum(partition_rows(container).values())

    # A report timed 00:50 is published only after the first run: the next run's window starts
    # 20 minutes before the cursor, so it lands, and what both windows hold is kept once.
    clock.moment += timedelta(minutes=7)
    start, end = T0 + timedelta(minutes=40), clock.moment
    late = [feature(s, T0 + timedelta(minutes=m), 9.9) for s in ("KSEA", "KJFK") for m in (40, 50)]
    for station in ("KSEA", "KJFK"):
        body = json.dumps({"features": [f for f in late if station in f["properties"]["station"]]})
        container.source().serve(url(container, station, start, end), "page.json", body.encode())  # type: ignore[attr-defined]
    second = datasets.start(TENANT, CONNECTOR, DATASET, params=STATIONS)
    play(container, second.run.run_id)

    assert sum(partition_rows(container).values()) == before + 2  # the two 00:50 reports
    assert len(container.table_sink().read("observations")) == before + 2


def test_a_backfill_of_older_data_never_moves_the_cursor_back(container: Container) -> None:
    datasets = container.datasets()
    late, early = (T0 + timedelta(hours=3), T0 + timedelta(hours=4)), (T0, T0 + timedelta(hours=1))
    for start, end in (late, early):
        serve(container, start, end)
        run = datasets.start(
            TENANT,
            CONNECTOR,
            DATASET,
            params=STATIONS,
            start=instant_text(start),
            end=instant_text(end),
        )
        play(container, run.run.run_id)

    assert datasets.cursor(TENANT, CONNECTOR, DATASET) == late[1]
    assert len(partition_rows(container)) == 2


def test_a_window_wider_than_max_span_lands_one_folder_per_part(container: Container) -> None:
    end = T0 + timedelta(hours=8)  # the recipe's max_span is 6 hours
    for start, stop in ((T0, T0 + timedelta(hours=6)), (T0 + timedelta(hours=6), end)):
        serve(container, start, stop, every=60)
    datasets = container.datasets()
    run = datasets.start(
        TENANT, CONNECTOR, DATASET, params=STATIONS, start=instant_text(T0), end=instant_text(end)
    )
    play(container, run.run.run_id)

    folders = [f.table for f in datasets.run(TENANT, run.run.run_id).folders]
    assert folders == [
        "20260105T060000Z-20260105T120000Z/observations",
        "20260105T120000Z-20260105T140000Z/observations",
        "partitions",
    ]
    assert sum(partition_rows(container).values()) == 16


def test_overwrite_partitions_rebuilds_each_touched_partition_from_every_landed_folder(
    container: Container,
) -> None:
    data = template_to_mapping(container.catalog().get(CONNECTOR))
    data["version"] += 1
    data["datasets"][0]["partitioning"]["mode"] = "overwrite-partitions"
    container.catalog().add(data)
    container.provisioning().apply(TENANT, CONNECTOR)
    datasets = container.datasets()
    # Two windows that split hour 07 between them: a partition job over the second alone
    # must still leave hour 07 with the readings of both.
    for start, end in (
        (T0, T0 + timedelta(minutes=90)),
        (T0 + timedelta(minutes=90), T0 + timedelta(hours=2)),
    ):
        serve(container, start, end, every=10)
        run = datasets.start(
            TENANT,
            CONNECTOR,
            DATASET,
            params=STATIONS,
            start=instant_text(start),
            end=instant_text(end),
        )
        play(container, run.run.run_id)

    assert partition_rows(container) == {
        "year=2026/month=01/day=05/hour=06": 12,
        "year=2026/month=01/day=05/hour=07": 12,
    }


def test_bad_windows_are_refused_and_write_nothing(container: Container) -> None:
    datasets = container.datasets()
    bad: list[dict[str, Any]] = [
        {"start": "2026-01-05T06:00:00Z"},
        {"start": "2026-01-05T07:00:00Z", "end": "2026-01-05T06:00:00Z"},
        {"start": "yesterday", "end": "2026-01-05T06:00:00Z"},
        {"start": "1990-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z", "params": STATIONS},
        {"start": "2026-01-05T06:00:00Z", "end": "2999-01-01T00:00:00Z", "params": STATIONS},
    ]
    for arguments in bad:
        with pytest.raises(InvalidInput):
            datasets.start(TENANT, CONNECTOR, DATASET, **arguments)
    assert container.object_store().list_objects(BUCKET, "raw/") == []
    assert datasets.runs(TENANT, CONNECTOR, DATASET) == []
    with pytest.raises(InvalidInput, match="archive applies to scraped"):
        datasets.start(TENANT, CONNECTOR, DATASET, archive=b"PK")


def test_a_failing_api_fails_the_gather_and_moves_no_cursor(container: Container) -> None:
    datasets = container.datasets()
    container.source().fail(
        url(container, "KSEA", T0, T0 + timedelta(hours=1)),
        BackendError("GET ...: 503 after 4 attempts"),
    )  # type: ignore[attr-defined]
    run = datasets.start(
        TENANT,
        CONNECTOR,
        DATASET,
        params=STATIONS,
        start="2026-01-05T06:00:00Z",
        end="2026-01-05T07:00:00Z",
    )
    with pytest.raises(BackendError):
        play(container, run.run.run_id)
    assert datasets.cursor(TENANT, CONNECTOR, DATASET) is None


def test_runs_landing_at_once_leave_the_cursor_at_the_latest_end(container: Container) -> None:
    landing = cursors(container)
    windows = [Window(T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1)) for h in range(16)]
    barrier = threading.Barrier(len(windows))

    def land(window: Window) -> None:
        barrier.wait()
        landing.advance(CONNECTOR, DATASET, window)

    threads = [threading.Thread(target=land, args=(w,)) for w in windows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert landing.get(CONNECTOR, DATASET) == windows[-1].end
