"""An API dataset's window on the memory profile: the partition job a run submits follows what
landed, as a folder's process job follows its contents.

As in ``test_dataset_service``, the memory backend runs no commands, so each test plays the
jobs: it calls ``gather`` and ``partition`` with the payloads the submitted jobs carry.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from overlord.adapters.memory.source import MemorySource
from overlord.container import Container
from overlord.domain.dataset_runs import GatherRecord, RunFolder
from overlord.domain.datasets import ApiSource
from overlord.domain.windows import Window, instant_text
from overlord.services.datasets import PARTITIONS_STAGE
from overlord.testing import provisioned_memory_container

TENANT, CONNECTOR, DATASET = "acme", "weather", "observations"
WINDOW = Window.of("2026-01-05T06:00:00Z", "2026-01-05T07:00:00Z")
HOUR = "year=2026/month=01/day=05/hour=06"


@pytest.fixture
def container() -> Container:
    return provisioned_memory_container(TENANT, CONNECTOR)


def serve(container: Container, temperature: float) -> None:
    """KSEA's one observation of the window's hour, as the NWS API would answer for it."""
    source = container.datasets().dataset(TENANT, CONNECTOR, DATASET).source
    assert isinstance(source, ApiSource)
    url = source.render(
        {"station": "KSEA", "start": instant_text(WINDOW.start), "end": instant_text(WINDOW.end)}
    )
    feature = {
        "properties": {
            "station": "https://api.weather.gov/stations/KSEA",
            "timestamp": "2026-01-05T06:53:00+00:00",
            "temperature": {"value": temperature},
        }
    }
    web = container.source()
    assert isinstance(web, MemorySource)
    web.serve(url, "observations.json", json.dumps({"features": [feature]}).encode())


def gather(container: Container, key: str | None = None) -> RunFolder:
    """Start a run of the window and play its gather job; its partition job's row."""
    datasets = container.datasets()
    started = datasets.start(
        TENANT,
        CONNECTOR,
        DATASET,
        params={"stations": "KSEA"},
        start=instant_text(WINDOW.start),
        end=instant_text(WINDOW.end),
        process=False,
        idempotency_key=key,
    )
    payload = container.jobs().get(TENANT, started.run.run_id).payload
    record: GatherRecord = datasets.gather(TENANT, CONNECTOR, started.run.run_id, payload)
    [row] = [f for f in record.folders if f.table == PARTITIONS_STAGE]
    return row


def partition(container: Container, row: RunFolder) -> list[dict[str, Any]]:
    """Play the partition job; the rows of the window's hour afterwards."""
    payload = container.jobs().get(TENANT, row.job_id).payload
    container.datasets().partition(TENANT, CONNECTOR, row.job_id, payload)
    bucket = container.jobs().target(TENANT, CONNECTOR).names["bucket"]
    return container.partition_writer().read(bucket, f"partitions/{DATASET}/", HOUR)


def test_the_same_contents_landed_again_reuse_the_partition_job(container: Container) -> None:
    serve(container, 4.4)
    first = gather(container)
    partition(container, first)

    again = gather(container, "again")

    assert (again.job_id, again.job_created) == (first.job_id, False)


def test_a_window_landed_again_with_other_contents_is_partitioned_again(
    container: Container,
) -> None:
    serve(container, 4.4)
    first = gather(container)
    [before] = partition(container, first)
    serve(container, 5.0)  # the API corrected its reading

    corrected = gather(container, "corrected")
    [after] = partition(container, corrected)

    assert corrected.job_created
    assert corrected.job_id != first.job_id
    assert (before["properties_temperature_value"], after["properties_temperature_value"]) == (
        4.4,
        5.0,
    )
