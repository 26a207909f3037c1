"""Eight ``process`` jobs loading into one table at once, as separate OS processes.

Threads in one process share an engine and the GIL; these are eight ``spawn`` processes, each
with its own sink, racing on one database (the tests' PostgreSQL server, or one SQLite file):
some load the same folder (one checksum), others other folders of the same table, one of them
with a column the table lacks. Every round starts with the table missing, so the processes
also race to create and alter it. The body runs several rounds with the same processes, and
each must end with exactly the expected rows and each folder loaded exactly once.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import uuid
from collections.abc import Sequence
from datetime import date
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from overlord.adapters.local.object_store import LocalObjectStore
from overlord.adapters.sql.table_sink import SqlTableSink
from overlord.cleaners import CleanerContext, CleanerFile, CleanerRegistry, open_file
from overlord.domain.infrastructure import BucketSpec
from overlord.domain.manifests import FolderManifest, ManifestFile
from overlord.services.dataset_load import process_folder
from tests.postgres import postgres_url  # noqa: F401

BUCKET = "overlord-acme-shop"
PROCESSES = 8
ROUNDS = 4
KEY = ["order_id", "period"]
# Which folder each process loads: four race on January, two on February, two on March.
PERIODS = ["2026-01-31"] * 4 + ["2026-02-28"] * 2 + ["2026-03-31"] * 2


def orders(files: Sequence[CleanerFile], context: CleanerContext) -> pd.DataFrame:
    frames = []
    for file in files:
        with open_file(file) as stream:
            frames.append(pd.read_csv(stream, dtype={"order_id": "int64", "amount": "float64"}))
    frame = pd.concat(frames, ignore_index=True)
    return frame.assign(period=date.fromisoformat(context.period))


def folder_text(period: str) -> bytes:
    """Each period's orders; March also carries a ``note`` column the table starts without."""
    month = int(period[5:7])
    ids = range(month * 100, month * 100 + 50 * month)
    if period.startswith("2026-03"):
        return ("order_id,amount,note\n" + "".join(f"{i},{i}.5,n{i}\n" for i in ids)).encode()
    return ("order_id,amount\n" + "".join(f"{i},{i}.5\n" for i in ids)).encode()


def expected_rows(period: str) -> list[dict[str, Any]]:
    month = int(period[5:7])
    note = period.startswith("2026-03")
    return [
        {"order_id": i, "amount": i + 0.5, "period": date.fromisoformat(period)}
        | {"note": f"n{i}" if note else None}
        for i in range(month * 100, month * 100 + 50 * month)
    ]


def upload(store: LocalObjectStore, table: str, period: str) -> FolderManifest:
    data = folder_text(period)
    digest = hashlib.sha256(data).hexdigest()
    manifest = FolderManifest(
        dataset="shop",
        period=period,
        table=table,
        files=(ManifestFile(name="orders.csv", size=len(data), sha256=digest),),
    )
    store.put_object(BUCKET, manifest.prefix + "orders.csv", data)
    store.put_object(BUCKET, manifest.key, manifest.to_json().encode())
    return manifest


def _worker(root: str, url: str, manifests: list[str], start: Barrier, results: Queue[Any]) -> None:
    """Load this process's folder of each round, all processes starting each round at once."""
    store, sink = LocalObjectStore(Path(root)), SqlTableSink(url)
    cleaners = CleanerRegistry(installed=False)
    cleaners.register("shop-orders", orders)
    try:
        for text in manifests:
            manifest = FolderManifest.from_json(text)
            start.wait(timeout=120)
            try:
                done = process_folder(
                    store, sink, cleaners, BUCKET, manifest, "shop-orders",
                    key=KEY, replace={"period": date.fromisoformat(manifest.period)},
                )  # fmt: skip
                results.put((manifest.table, manifest.period, done.action, done.rows))
            except Exception as exc:
                results.put((manifest.table, manifest.period, f"{type(exc).__name__}: {exc}", 0))
    finally:
        sink.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/tables.sqlite3"
    return str(request.getfixturevalue("postgres_url"))


def test_eight_processes_loading_one_table_end_with_exactly_the_expected_rows(
    url: str, tmp_path: Path
) -> None:
    root = tmp_path / "objects"
    store = LocalObjectStore(root)
    store.ensure_bucket(BucketSpec(BUCKET))
    tables = [f"orders_{uuid.uuid4().hex[:12]}" for _ in range(ROUNDS)]
    folders = {(t, p): upload(store, t, p).to_json() for t in tables for p in sorted(set(PERIODS))}

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    results: Queue[Any] = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(str(root), url, [folders[t, period] for t in tables], start, results),
        )
        for period in PERIODS
    ]
    for worker in workers:
        worker.start()
    try:
        reports = [results.get(timeout=240) for _ in range(PROCESSES * ROUNDS)]
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES

    sink = SqlTableSink(url)
    try:
        for table in tables:
            mine = sorted((p, action, rows) for t, p, action, rows in reports if t == table)
            assert mine == [
                ("2026-01-31", "loaded", 50), *[("2026-01-31", "unchanged", 50)] * 3,
                ("2026-02-28", "loaded", 100), ("2026-02-28", "unchanged", 100),
                ("2026-03-31", "loaded", 150), ("2026-03-31", "unchanged", 150),
            ], table  # fmt: skip
            rows = sorted(sink.read(table), key=lambda row: (row["period"], row["order_id"]))
            assert rows == [row for p in sorted(set(PERIODS)) for row in expected_rows(p)]
    finally:
        sink.close()
