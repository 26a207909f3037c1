"""The event trigger on AWS: an S3 ObjectCreated notification for a raw folder's manifest of a
dataset partitioned on events appends the folder's records to their Hive partitions.

Against the tests' moto server (S3, DynamoDB, Batch): ``weather-events`` is registered in the
catalog and provisioned, a window of NWS observations is landed by the real gather stage from a
`MemorySource`, and `object_created_handler`'s body is fed the notifications S3 would send for
what landed. The partitions are read back from S3 itself (the ``_SUCCESS`` marker, the Parquet
files it lists, read with pyarrow), a redelivered event must add nothing, and objects under
``partitions/``, which the writer's own puts would announce, must be ignored.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from dependency_injector import providers

from overlord.adapters.memory.source import MemorySource
from overlord.container import Container
from overlord.domain.archives import ExtractedFile
from overlord.domain.datasets import ApiSource
from overlord.domain.windows import Window
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.services.dataset_upload import upload_period
from overlord.settings import Settings
from tests.e2e.test_lambda_object_events import notification, s3_record
from tests.observation_windows import (
    CONNECTOR,
    EVENT,
    PARAMS,
    T0,
    WINDOW,
    feature,
    observations,
    serve_window,
    weather_events,
)

TENANT = "acme"
LANDED = Window(T0, T0 + timedelta(hours=8))  # two parts of the recipe's 6 hours
HOURS = [f"year=2026/month=01/day=05/hour={h:02d}" for h in range(6, 14)]
PER_HOUR = 6  # two stations, every 20 minutes


@pytest.fixture
def aws(aws_account: dict[str, str], tmp_path: Path) -> Iterator[Container]:
    container = Container.from_settings(Settings.load(aws_account, tmp_path / "absent.toml"))
    container.catalog().add(weather_events(container))
    container.provisioning().apply(TENANT, CONNECTOR)
    container.source.override(providers.Object(MemorySource()))
    yield container
    container.shutdown_resources()


def land(container: Container, dataset: str, window: Window) -> list[str]:
    """Play the gather stage of a run over ``window`` (gathering only: no process jobs) and
    return the manifests it wrote, as S3 would announce them."""
    datasets = container.datasets()
    source = datasets.dataset(TENANT, CONNECTOR, dataset).source
    assert isinstance(source, ApiSource)
    serve_window(container.source(), source, window)
    payload = {"dataset": dataset, "params": PARAMS, "process": False, **_spelled(window)}
    run_id = sha256(f"{dataset} {window}".encode()).hexdigest()[:32]  # as a job id looks
    record = datasets.gather(TENANT, CONNECTOR, run_id, payload)
    return [
        f"raw/{dataset}/{f.period}/{f.table}/_manifest.json"
        for f in record.folders
        if f.table != "partitions"  # the window trigger's partition job, not a folder
    ]


def _spelled(window: Window) -> dict[str, str]:
    start, _, end = str(window).partition("/")
    return {"start": start, "end": end}


def bucket_of(container: Container) -> str:
    bucket: str = container.jobs().target(TENANT, CONNECTOR).names["bucket"]
    return bucket


def stored(bucket: str, prefix: str) -> dict[str, str]:
    """Every object under ``prefix`` in S3, with its ETag: equal listings, unchanged objects."""
    s3 = boto3.client("s3")
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return found


def read_partition(
    bucket: str, dataset: str, key: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A partition read from S3 as a reader would: its marker, then the files the marker
    lists, with pyarrow."""
    s3 = boto3.client("s3")
    folder = f"partitions/{dataset}/{key}/"
    marker = json.loads(s3.get_object(Bucket=bucket, Key=folder + "_SUCCESS")["Body"].read())
    rows: list[dict[str, Any]] = []
    for name in marker["files"]:
        body = s3.get_object(Bucket=bucket, Key=folder + name)["Body"].read()
        rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return marker, rows


def reading(row: dict[str, Any]) -> tuple[str, datetime, float]:
    """A partition row's station, time and temperature (the flattened NWS feature)."""
    return (
        row["properties_station"],
        row["properties_timestamp"],
        row["properties_temperature_value"],
    )


def test_a_landed_manifest_appends_its_records_to_their_partitions_once(aws: Container) -> None:
    bucket = bucket_of(aws)
    manifests = land(aws, EVENT, LANDED)
    before = stored(bucket, "partitions/")
    handlers = LambdaHandlers(aws)
    event = notification(*(s3_record(bucket, key) for key in manifests))

    first = handlers.object_created(event)
    published = stored(bucket, "partitions/")
    again = handlers.object_created(event)  # S3 delivers at least once

    assert before == {}  # the gather stage wrote no partition: the events did
    assert len(manifests) == 2
    assert (first["ignored"], first["refused"], len(first["submitted"])) == (0, 0, 2)
    partitions = aws.datasets().partitions(TENANT, CONNECTOR, EVENT)
    assert [(p.key, p.rows, p.published) for p in partitions] == [
        (hour, PER_HOUR, True) for hour in HOURS
    ]
    marker, rows = read_partition(bucket, EVENT, HOURS[0])
    assert marker["rows"] == len(rows) == PER_HOUR
    served = observations(Window(T0, T0 + timedelta(hours=1)))
    assert sorted(reading(r) for r in rows) == sorted(
        (
            f["properties"]["station"],
            datetime.fromisoformat(f["properties"]["timestamp"]),
            f["properties"]["temperature"]["value"],
        )
        for f in served
    )
    assert {str(r["properties_timestamp"].tzinfo) for r in rows} == {"UTC"}
    assert again == first
    assert stored(bucket, "partitions/") == published  # not one object added or rewritten
    assert sum(p.rows for p in aws.datasets().partitions(TENANT, CONNECTOR, EVENT)) == 8 * PER_HOUR


def test_a_later_window_appends_beside_what_is_there_and_overlaps_add_nothing(
    aws: Container,
) -> None:
    bucket = bucket_of(aws)
    handlers = LambdaHandlers(aws)
    handlers.object_created(notification(*(s3_record(bucket, k) for k in land(aws, EVENT, LANDED))))
    overlapping = Window(T0 + timedelta(hours=7), T0 + timedelta(hours=10))  # 13:00-16:00

    handlers.object_created(
        notification(*(s3_record(bucket, k) for k in land(aws, EVENT, overlapping)))
    )

    partitions = aws.datasets().partitions(TENANT, CONNECTOR, EVENT)
    assert [p.key for p in partitions] == [
        *HOURS,
        "year=2026/month=01/day=05/hour=14",
        "year=2026/month=01/day=05/hour=15",
    ]
    assert {p.rows for p in partitions} == {PER_HOUR}  # hour 13 landed twice, kept once
    _, rows = read_partition(bucket, EVENT, HOURS[-1])
    assert len({(r["properties_station"], r["properties_timestamp"]) for r in rows}) == PER_HOUR


def test_objects_under_partitions_and_a_window_triggered_datasets_manifests_partition_nothing(
    aws: Container,
) -> None:
    bucket = bucket_of(aws)
    handlers = LambdaHandlers(aws)
    handlers.object_created(notification(*(s3_record(bucket, k) for k in land(aws, EVENT, LANDED))))
    written = stored(bucket, "partitions/")
    hourly = land(aws, WINDOW, LANDED)  # which submits its window's partition job
    jobs = {j.id.value for j in aws.jobs().list(TENANT)}

    own_writes = handlers.object_created(
        notification(*(s3_record(bucket, key) for key in sorted(written)))
    )
    windowed = handlers.object_created(notification(*(s3_record(bucket, k) for k in hourly)))

    assert any(k.endswith("/_SUCCESS") for k in written)
    assert any(k.endswith(".parquet") for k in written)
    assert own_writes == {"submitted": [], "ignored": len(written), "refused": 0}
    assert {j.id.value for j in aws.jobs().list(TENANT)} - jobs == set(windowed["submitted"])
    assert len(windowed["submitted"]) == 2  # the folders' process jobs, as for any dataset
    assert stored(bucket, "partitions/") == written  # nothing for observations-hourly
    assert aws.datasets().partitions(TENANT, CONNECTOR, WINDOW) == []


def test_a_folder_holding_a_record_without_a_time_is_refused_and_publishes_nothing(
    aws: Container, tmp_path: Path
) -> None:
    """Uploaded as any raw folder is (NDJSON pages, then the manifest), not by the gather."""
    bucket = bucket_of(aws)
    pages = {
        "KSEA-00001.ndjson": [feature("KSEA", T0 + timedelta(days=1), 3.5)],
        "KJFK-00001.ndjson": [{"properties": {"station": "https://api.weather.gov/stations/KJFK"}}],
    }
    files = []
    for name, records in pages.items():
        data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
        (tmp_path / name).write_bytes(data)
        files.append(ExtractedFile(name, tmp_path / name, len(data), sha256(data).hexdigest()))
    period = "20260106T060000Z-20260106T070000Z"
    table = "observations"  # the table folder the gather lands pages in
    report = upload_period(aws.object_store(), bucket, EVENT, period, files, lambda _: table)
    [manifest] = report.written

    answer = LambdaHandlers(aws).object_created(notification(s3_record(bucket, manifest.key)))

    assert (answer["refused"], answer["ignored"]) == (1, 0)
    assert stored(bucket, "partitions/") == {}  # not the good record either: nothing half-written
    assert aws.datasets().partitions(TENANT, CONNECTOR, EVENT) == []
