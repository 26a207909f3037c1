"""The PartitionWriter contract, over every ObjectStore adapter, read back with pyarrow.

Add a writer to ``FACTORIES`` to run it here. Each test names its own bucket.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.adapters.parquet.partitions import ParquetPartitionWriter
from overlord.domain.datasets import Granularity, partition_key
from overlord.domain.errors import InvalidInput, NotFound
from overlord.domain.infrastructure import BucketSpec
from overlord.ports.object_store import ObjectStore
from overlord.ports.partitions import PartitionWriter
from tests.contract.test_object_store import FACTORIES as STORES

FACTORIES: dict[str, Callable[[ObjectStore], PartitionWriter]] = {
    "parquet": lambda objects: ParquetPartitionWriter(objects, concurrency=4),
}
HOUR = "year=2026/month=01/day=01/hour="


@pytest.fixture(params=sorted(STORES))
def objects(request: pytest.FixtureRequest) -> ObjectStore:
    return STORES[request.param](request)


@pytest.fixture
def bucket(objects: ObjectStore) -> Iterator[str]:
    name = f"ct-{uuid.uuid4().hex[:24]}"
    objects.ensure_bucket(BucketSpec(name))
    yield name
    objects.delete_bucket(name, purge=True)


@pytest.fixture(params=sorted(FACTORIES))
def writer(request: pytest.FixtureRequest, objects: ObjectStore) -> PartitionWriter:
    return FACTORIES[request.param](objects)


def records(ids: range, hour: int = 0, value: float = 1.0) -> list[dict[str, Any]]:
    return [
        {"id": i, "value": value, "at": f"2026-01-01T{hour:02d}:{i % 60:02d}:00Z", "name": f"n{i}"}
        for i in ids
    ]


def write(writer: PartitionWriter, bucket: str, rows: list[dict[str, Any]], **options: Any) -> Any:
    settings_ = {"time_field": "at", "granularity": Granularity.HOUR, "key": ["id"]}
    settings_ |= {"mode": "append", "batch_id": uuid.uuid4().hex[:12]} | options
    return writer.write(bucket, "data/", rows, **settings_)


def published(objects: ObjectStore, bucket: str) -> dict[str, pa.Table]:
    """Each partition with a marker, read from the parquet files beside it with pyarrow."""
    keys = [info.key for info in objects.list_objects(bucket, "data/")]
    folders = {k.rpartition("/")[0] for k in keys if k.endswith("/_SUCCESS")}
    found = {}
    for folder in folders:
        parts = [k for k in keys if k.startswith(folder + "/part-") and k.endswith(".parquet")]
        found[folder.removeprefix("data/")] = pa.concat_tables(
            [pq.read_table(io.BytesIO(objects.get_object(bucket, k))) for k in parts]
        )
    return found


def test_records_land_in_the_partition_of_their_utc_hour_with_a_marker(
    writer: PartitionWriter, objects: ObjectStore, bucket: str
) -> None:
    rows = [*records(range(10), hour=1), {"id": 99, "at": "2026-01-01T05:30:00+03:00"}]
    report = write(writer, bucket, rows)
    tables = published(objects, bucket)
    assert sorted(tables) == [HOUR + "01", HOUR + "02"]
    assert tables[HOUR + "01"].num_rows == 10
    assert tables[HOUR + "02"]["id"].to_pylist() == [99]
    assert tables[HOUR + "01"].schema.field("at").type == pa.timestamp("us", "UTC")
    assert tables[HOUR + "01"].schema.field("value").type == pa.float64()
    assert report.rows_in == report.rows_after_dedup == 11
    assert [(p.key, p.rows) for p in report.partitions] == [(HOUR + "01", 10), (HOUR + "02", 1)]
    assert objects.list_objects(bucket, "data/_staging/") == []
    assert [(i.key, i.rows, i.files, i.published) for i in writer.partitions(bucket, "data/")] == [
        (HOUR + "01", 10, 1, True),
        (HOUR + "02", 1, 1, True),
    ]
    assert writer.read(bucket, "data/", HOUR + "02")[0]["id"] == 99


def test_a_repeated_write_adds_nothing_and_writes_the_same_objects(
    writer: PartitionWriter, objects: ObjectStore, bucket: str
) -> None:
    write(writer, bucket, records(range(20)), batch_id="b1")
    before = objects.list_objects(bucket, "data/")
    again = write(writer, bucket, records(range(20)), batch_id="b1")
    other = write(writer, bucket, records(range(20)), batch_id="b2")
    assert objects.list_objects(bucket, "data/") == before
    assert again.files_written == other.files_written == 0
    assert published(objects, bucket)[HOUR + "00"].num_rows == 20


def test_append_keeps_one_row_per_key_and_the_newest_wins(
    writer: PartitionWriter, objects: ObjectStore, bucket: str
) -> None:
    write(writer, bucket, records(range(10), value=1.0))
    report = write(
        writer, bucket, records(range(5, 15), value=2.0) + records(range(14, 15), value=3.0)
    )
    table = published(objects, bucket)[HOUR + "00"]
    values = dict(zip(table["id"].to_pylist(), table["value"].to_pylist(), strict=True))
    assert sorted(values) == list(range(15))
    assert [values[i] for i in (0, 4, 5, 13, 14)] == [1.0, 1.0, 2.0, 2.0, 3.0]
    assert report.rows_in == 11
    assert report.rows_after_dedup == 15


def test_overwrite_replaces_only_the_touched_partitions(
    writer: PartitionWriter, objects: ObjectStore, bucket: str
) -> None:
    write(writer, bucket, records(range(10), hour=0) + records(range(10), hour=1))
    write(writer, bucket, records(range(3), hour=1, value=5.0), mode="overwrite-partitions")
    tables = published(objects, bucket)
    assert tables[HOUR + "00"].num_rows == 10
    assert tables[HOUR + "01"]["value"].to_pylist() == [5.0, 5.0, 5.0]
    names = [i.key for i in objects.list_objects(bucket, f"data/{HOUR}01/")]
    assert len([n for n in names if n.endswith(".parquet")]) == 1


@pytest.mark.parametrize(
    ("bad", "index"),
    [({"id": 1}, 2), ({"id": 1, "at": "yesterday"}, 2), ({"at": "2026-01-01T00:00:00"}, 2)],
)
def test_records_without_a_usable_time_write_nothing(
    writer: PartitionWriter, objects: ObjectStore, bucket: str, bad: dict[str, Any], index: int
) -> None:
    with pytest.raises(InvalidInput, match=f"record {index}"):
        write(writer, bucket, [*records(range(2)), bad])
    assert objects.list_objects(bucket) == []


def test_column_types_come_from_the_records(
    writer: PartitionWriter, objects: ObjectStore, bucket: str
) -> None:
    rows = [
        {"id": 1, "at": 1767225600, "n": 1, "flag": True, "mixed": 1, "odd": "a"},
        {"id": 2, "at": 1767225601.5, "n": 2.5, "flag": None, "mixed": "b", "odd": [1]},
    ]
    write(writer, bucket, rows)
    table = published(objects, bucket)[HOUR + "00"]
    types = {f.name: f.type for f in table.schema}
    assert types["n"] == pa.float64()
    assert types["flag"] == pa.bool_()
    assert types["mixed"] == types["odd"] == pa.string()
    assert table["at"].to_pylist()[1] == datetime(2026, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)


class CrashAfter:
    """An ObjectStore that raises after ``puts`` objects were put: a writer dying mid-write."""

    def __init__(self, inner: ObjectStore, puts: int) -> None:
        self._inner, self.left = inner, puts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def put_many(self, bucket: str, objects: Mapping[str, bytes], *, concurrency: int = 16) -> None:
        for key, data in objects.items():
            if self.left == 0:
                raise ConnectionError("the writer died")
            self.left -= 1
            self._inner.put_object(bucket, key, data)


@pytest.mark.parametrize("puts", range(6))  # 2 staged, 2 parts, 2 markers
def test_a_crash_leaves_no_half_partition_published_and_the_retry_finishes(
    objects: ObjectStore, bucket: str, puts: int
) -> None:
    writer = ParquetPartitionWriter(objects)
    write(writer, bucket, records(range(10), hour=0) + records(range(10), hour=1))
    new = records(range(5, 15), hour=0, value=2.0) + records(range(5, 15), hour=1, value=2.0)
    crashing = ParquetPartitionWriter(CrashAfter(objects, puts))  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        write(crashing, bucket, new, batch_id="crash")
    for table in published(objects, bucket).values():
        assert table.num_rows in (10, 15)
        assert set(table["value"].to_pylist()) <= {1.0, 2.0}
    write(writer, bucket, new, batch_id="crash")
    tables = published(objects, bucket)
    assert {k: t.num_rows for k, t in tables.items()} == {HOUR + "00": 15, HOUR + "01": 15}
    assert objects.list_objects(bucket, "data/_staging/") == []


@pytest.mark.parametrize("mode", ["append", "overwrite-partitions"])
@pytest.mark.parametrize("puts", range(4))  # nothing staged: 2 parts, 2 markers
def test_a_crash_of_a_write_that_reads_no_published_rows_is_finished_by_its_retry(
    objects: ObjectStore, bucket: str, puts: int, mode: str
) -> None:
    # New partitions (or an overwrite) are computed from the records alone, so the retry
    # rebuilds exactly what the crashed write was publishing, without a staged copy.
    writer = ParquetPartitionWriter(objects)
    if mode == "overwrite-partitions":
        write(writer, bucket, records(range(10), hour=0) + records(range(10), hour=1))
    new = records(range(5, 15), hour=0, value=2.0) + records(range(5, 15), hour=1, value=2.0)
    crashing = ParquetPartitionWriter(CrashAfter(objects, puts))  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        write(crashing, bucket, new, batch_id="crash", mode=mode)
    write(writer, bucket, new, batch_id="crash", mode=mode)

    tables = published(objects, bucket)
    assert {k: t.num_rows for k, t in tables.items()} == {HOUR + "00": 10, HOUR + "01": 10}
    assert {v for t in tables.values() for v in t["value"].to_pylist()} == {2.0}
    assert objects.list_objects(bucket, "data/_staging/") == []


def test_an_unpublished_partition_cannot_be_read(writer: PartitionWriter, bucket: str) -> None:
    with pytest.raises(NotFound):
        writer.read(bucket, "data/", HOUR + "00")


def test_partitions_are_filtered_by_their_start(writer: PartitionWriter, bucket: str) -> None:
    write(
        writer,
        bucket,
        records(range(3), hour=0) + records(range(3), hour=1) + records(range(3), hour=2),
    )
    start = datetime(2026, 1, 1, 1, tzinfo=UTC)
    chosen = writer.partitions(bucket, "data/", start=start, end=start + timedelta(hours=1))
    assert [p.key for p in chosen] == [HOUR + "01"]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    moments=st.lists(
        st.datetimes(
            min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
        ),
        min_size=1,
        max_size=30,
    ),
    offset=st.integers(-12, 12),
)
def test_each_row_lands_in_the_partition_of_its_utc_time(
    objects: ObjectStore, moments: list[datetime], offset: int
) -> None:
    name = f"ct-{uuid.uuid4().hex[:24]}"
    objects.ensure_bucket(BucketSpec(name))
    try:
        zone = timedelta(hours=offset)
        rows = [
            {"id": i, "at": m.astimezone(timezone(zone)).isoformat()} for i, m in enumerate(moments)
        ]
        ParquetPartitionWriter(objects).write(
            name,
            "data/",
            rows,
            time_field="at",
            granularity=Granularity.MINUTE,
            key=["id"],
            mode="append",
            batch_id="h",
        )
        tables = published(objects, name)
        landed = {i: k for k, t in tables.items() for i in t["id"].to_pylist()}
        assert landed == {i: partition_key(m, Granularity.MINUTE) for i, m in enumerate(moments)}
    finally:
        objects.delete_bucket(name, purge=True)
