"""What `ParquetPartitionWriter.write` costs beside the usual ways of writing Hive partitions.

Why: the writer stages the batch, writes one Parquet file per partition under a content-hash
name, then a ``_SUCCESS`` marker per partition, all through `ObjectStore.put_many`. The same
records (1,000,000 rows over 30 days, as dicts, the writer's input) go, in the same run, to:

- the writer over `LocalObjectStore` in a temporary folder (every object fsynced and renamed);
- ``pyarrow.dataset.write_dataset(partitioning=hive)`` into a local folder (no fsync, no marker);
- pandas ``DataFrame.to_parquet(partition_cols=...)`` into a local folder.

Each baseline starts from the same dicts and derives its partition columns itself, so every
figure includes turning records into columns. Partitioned by hour (~720 partitions) and by
minute (~43,200). ``--moto`` adds the writer over S3 on a moto server in its own process
against AWS SDK for pandas (``awswrangler.s3.to_parquet(dataset=True, partition_cols=...)``),
installed only from ``benchmarks/requirements-awswrangler.txt``.

    python benchmarks/partition.py            # 1,000,000 rows, hour and minute
    python benchmarks/partition.py --quick    # 20,000 rows over 2 days
    python benchmarks/partition.py --moto     # also S3 on moto against awswrangler
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from overlord.adapters.parquet.partitions import ParquetPartitionWriter
from overlord.domain.datasets import Granularity
from overlord.domain.infrastructure import BucketSpec
from overlord.ports.object_store import ObjectStore

LEVELS = {
    "hour": ["year", "month", "day", "hour"],
    "minute": ["year", "month", "day", "hour", "minute"],
}
TARGETS = {"hour": 1.0, "minute": 20.0}  # seconds, locally


def make_records(count: int, days: int) -> list[dict[str, Any]]:
    rng = random.Random(12)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    span = days * 86400
    return [
        {
            "id": i,
            "at": (start + timedelta(seconds=rng.randrange(span)))
            .isoformat()
            .replace("+00:00", "Z"),
            "value": rng.random() * 100,
            "count": rng.randrange(1000),
            "site": f"site-{i % 97}",
        }
        for i in range(count)
    ]


def timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def timed_cpu(run: Callable[[], None]) -> tuple[float, float]:
    """Wall and CPU seconds (this process, all threads): on a shared machine the wall time
    moves with other work, the CPU time much less."""
    cpu = time.process_time()
    wall = timed(run)
    return wall, time.process_time() - cpu


def writer_run(store: ObjectStore, records: list[dict[str, Any]], level: str) -> Callable[[], None]:
    def run() -> None:
        bucket = f"bench-{uuid.uuid4().hex[:16]}"
        store.ensure_bucket(BucketSpec(bucket))
        ParquetPartitionWriter(store).write(
            bucket,
            "data/",
            records,
            time_field="at",
            granularity=Granularity(level),
            key=["id"],
            mode="overwrite-partitions",
            batch_id="bench",
        )

    return run


def arrow_columns(records: list[dict[str, Any]], level: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.Table.from_pylist(records)
    at = pc.cast(table["at"], pa.timestamp("us", "UTC"))
    table = table.set_column(table.schema.get_field_index("at"), "at", at)
    for name in LEVELS[level]:
        table = table.append_column(name, getattr(pc, name)(at))
    # Sorted, as the writer sorts: unsorted, write_dataset keeps closing files past
    # max_open_files and starts new ones, writing a file per partition per batch.
    return table.sort_by("at")


def pyarrow_run(records: list[dict[str, Any]], level: str, scratch: Path) -> Callable[[], None]:
    def run() -> None:
        import pyarrow.dataset as ds

        ds.write_dataset(
            arrow_columns(records, level),
            scratch / uuid.uuid4().hex,
            format="parquet",
            partitioning=LEVELS[level],
            partitioning_flavor="hive",
            max_partitions=100_000,
        )

    return run


def pandas_frame(records: list[dict[str, Any]], level: str) -> Any:
    import pandas as pd

    frame = pd.DataFrame.from_records(records)
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
    frame = frame.sort_values("at", kind="stable")  # as arrow_columns, for the same reason
    for name in LEVELS[level]:
        frame[name] = getattr(frame["at"].dt, name)
    return frame


def pandas_run(records: list[dict[str, Any]], level: str, scratch: Path) -> Callable[[], None]:
    def run() -> None:
        pandas_frame(records, level).to_parquet(
            scratch / uuid.uuid4().hex,
            partition_cols=LEVELS[level],
            compression="snappy",
            max_partitions=100_000,
        )

    return run


def line(name: str, seconds: float, baseline: float) -> str:
    return f"{name:<52}{seconds:>9.3f}s{baseline:>9.3f}s{seconds / baseline:>7.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="20,000 rows over 2 days")
    parser.add_argument("--moto", action="store_true", help="also S3 on moto vs awswrangler")
    parser.add_argument("--levels", default="hour,minute")
    args = parser.parse_args()
    rows, days = (20_000, 2) if args.quick else (args.rows, args.days)
    records = make_records(rows, days)
    from overlord.adapters.local.object_store import LocalObjectStore

    summary: dict[str, float] = {}
    print(f"{rows:,} rows over {days} days, one run each")
    print(f"{'':<52}{'seconds':>10}{'baseline':>10}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        local = LocalObjectStore(root / "objects")
        warm = records[:100]  # imports and first-call costs out of the figures
        for run in (pyarrow_run(warm, "hour", root), pandas_run(warm, "hour", root)):
            run()
        writer_run(local, warm, "hour")()
        for level in args.levels.split(","):
            arrow = timed(pyarrow_run(records, level, root))
            frame = timed(pandas_run(records, level, root))
            ours, cpu = timed_cpu(writer_run(local, records, level))
            target = TARGETS[level]
            verdict = "within" if ours <= target else "over"
            print(
                f"by {level}: writer to the local store {ours:.3f}s ({verdict} {target}s),"
                f" {cpu:.3f}s of CPU, load average {os.getloadavg()[0]:.2f}"
            )
            print(line("  vs pyarrow write_dataset(hive)", ours, arrow))
            print(line("  vs pandas to_parquet(partition_cols)", ours, frame))
            summary |= {
                f"{level}_writer": ours,
                f"{level}_writer_cpu": cpu,
                f"{level}_pyarrow": arrow,
                f"{level}_pandas": frame,
            }
            if args.moto:
                summary |= moto_figures(records, level)
    print(json.dumps({k: round(v, 3) for k, v in summary.items()}))


def moto_figures(records: list[dict[str, Any]], level: str) -> dict[str, float]:
    """The writer and awswrangler into S3 on a moto server of its own."""
    try:
        import awswrangler as wr
    except ImportError:
        raise SystemExit(
            "--moto needs awswrangler: install benchmarks/requirements-awswrangler.txt"
            " into a virtual environment of its own"
        ) from None
    import boto3
    from moto_process import start_moto

    from overlord.adapters.aws.object_store import S3ObjectStore

    server = start_moto()
    try:
        store = S3ObjectStore()
        ours = timed(writer_run(store, records, level))
        bucket = f"bench-{uuid.uuid4().hex[:16]}"
        boto3.client("s3").create_bucket(Bucket=bucket)
        theirs = timed(
            lambda: wr.s3.to_parquet(
                pandas_frame(records, level),
                f"s3://{bucket}/data/",
                dataset=True,
                partition_cols=LEVELS[level],
                compression="snappy",
            )
        )
    finally:
        server.terminate()
        server.join(timeout=10)
    print(line(f"  moto S3: writer vs awswrangler ({level})", ours, theirs))
    return {f"{level}_moto_writer": ours, f"{level}_moto_awswrangler": theirs}


if __name__ == "__main__":
    main()
