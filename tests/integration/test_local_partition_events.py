"""The event trigger on the local profile: the local object store tells the datasets service of
every object it wrote (`ObjectEvents`), as S3 tells ``object_created_handler`` on AWS, so an
event-triggered API dataset's gather publishes its partitions itself, without any job.

The gather stage is played in this process over NWS pages a `MemorySource` serves in place of
the local profile's HTTP source (`tests.observation_windows`); the window trigger's partition
job runs for real, as the local runner's subprocess (``python -m overlord.stages partition``),
which is why this test is in the integration tier. Both paths must give the same partitions.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from overlord.adapters.memory.source import MemorySource
from overlord.container import Container
from overlord.domain.datasets import ApiSource
from overlord.domain.jobs import JobStatus
from overlord.domain.windows import Window, instant_text
from overlord.settings import Settings
from tests.observation_windows import (
    CONNECTOR,
    EVENT,
    PARAMS,
    T0,
    WINDOW,
    serve_window,
    weather_events,
)

TENANT = "acme"
LANDED = Window(T0, T0 + timedelta(hours=8))  # two requests of the recipe's 6 hours each
HOURS = [f"year=2026/month=01/day=05/hour={h:02d}" for h in range(6, 14)]
PER_HOUR = 6  # two stations, every 20 minutes


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def local(home: Path) -> Iterator[Container]:
    container = Container.from_settings(Settings(profile="local", home=home))
    container.source.override(providers.Object(MemorySource()))
    container.catalog().add(weather_events(container))
    container.provisioning().apply(TENANT, CONNECTOR)
    yield container
    container.shutdown_resources()


def gather(container: Container, dataset: str, window: Window) -> Any:
    """Play the gather job of a run over ``window`` (gathering only: no process jobs)."""
    datasets = container.datasets()
    source = datasets.dataset(TENANT, CONNECTOR, dataset).source
    assert isinstance(source, ApiSource)
    serve_window(container.source(), source, window)
    payload = {
        "dataset": dataset,
        "params": PARAMS,
        "process": False,
        "start": instant_text(window.start),
        "end": instant_text(window.end),
    }
    run_id = hashlib.sha256(f"{dataset} {window}".encode()).hexdigest()[:32]
    return datasets.gather(TENANT, CONNECTOR, run_id, payload)


def bucket_of(container: Container) -> str:
    bucket: str = container.jobs().target(TENANT, CONNECTOR).names["bucket"]
    return bucket


def partitions(container: Container, dataset: str) -> dict[str, tuple[int, bool, list[Any]]]:
    """Each partition's row count, whether it is published, and its rows (read with pyarrow)
    in a stable order."""
    writer = container.partition_writer()
    found = {}
    for info in container.datasets().partitions(TENANT, CONNECTOR, dataset):
        rows = writer.read(bucket_of(container), f"partitions/{dataset}/", info.key)
        ordered = sorted(rows, key=lambda r: (r["properties_station"], r["properties_timestamp"]))
        found[info.key] = (info.rows, info.published, ordered)
    return found


def finished(container: Container, job_id: str, timeout: float = 120) -> JobStatus:
    """The job's status once the local runner says it has finished."""
    deadline = time.monotonic() + timeout
    jobs = container.jobs()
    while True:
        jobs.refresh(TENANT, job_id)
        status = jobs.get(TENANT, job_id).status
        if status.terminal or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_an_event_triggered_gather_publishes_its_partitions_without_any_job(
    local: Container, home: Path
) -> None:
    record = gather(local, EVENT, LANDED)

    published = partitions(local, EVENT)
    assert list(published) == HOURS
    assert {(rows, done, len(read)) for rows, done, read in published.values()} == {
        (PER_HOUR, True, PER_HOUR)
    }
    marker = home / "objects" / bucket_of(local) / "partitions" / EVENT / HOURS[0] / "_SUCCESS"
    assert marker.is_file()
    assert [f.table for f in record.folders] == ["observations", "observations"]  # no partition row
    assert local.jobs().list(TENANT) == []  # nothing submitted: no partition job, no process job
    assert local.datasets().cursor(TENANT, CONNECTOR, EVENT) == LANDED.end


def test_a_gather_landing_the_same_window_again_adds_nothing(local: Container) -> None:
    gather(local, EVENT, LANDED)
    before = partitions(local, EVENT)

    again = gather(local, EVENT, LANDED)

    assert {f.upload for f in again.folders} == {"unchanged"}  # no object written, no event
    assert partitions(local, EVENT) == before


def test_the_event_path_and_the_window_path_give_the_same_partitions(local: Container) -> None:
    gather(local, EVENT, LANDED)
    record = gather(local, WINDOW, LANDED)
    [job] = [f for f in record.folders if f.table == "partitions"]

    status = finished(local, job.job_id)

    logs = [entry.message for entry in local.jobs().logs(TENANT, job.job_id)]
    assert status is JobStatus.SUCCEEDED, logs
    assert "8 partitions published, 48 rows (0 duplicates dropped)" in logs  # by the subprocess
    by_event, by_window = partitions(local, EVENT), partitions(local, WINDOW)
    assert list(by_window) == HOURS
    assert by_window == by_event
    assert [j.job_type for j in local.jobs().list(TENANT)] == ["partition"]
