"""process_folder: a raw folder's manifest files, checked, cleaned and loaded once per checksum."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
import pytest

from overlord.adapters.memory.object_store import MemoryObjectStore
from overlord.adapters.memory.table_sink import MemoryTableSink
from overlord.cleaners import CleanerContext, CleanerFile, CleanerRegistry, file_name, open_file
from overlord.domain.errors import Conflict, InvalidInput, NotFound
from overlord.domain.infrastructure import BucketSpec
from overlord.domain.manifests import FolderManifest, ManifestFile
from overlord.samples.call_reports import KEY as CALL_KEY
from overlord.services.dataset_load import FolderLoad, folder_load_id, process_folder

BUCKET = "overlord-acme-shop"
MARCH = date(2026, 3, 31)


def orders(files: Sequence[CleanerFile], context: CleanerContext) -> pd.DataFrame:
    frames = []
    for file in files:
        with open_file(file) as stream:
            frame = pd.read_csv(stream, dtype={"order_id": "int64", "amount": "float64"})
        frames.append(frame.assign(source=file_name(file), period=MARCH))
    return pd.concat(frames, ignore_index=True)


def upload(
    store: MemoryObjectStore, files: dict[str, bytes], period: str = "2026-03-31"
) -> FolderManifest:
    manifest = FolderManifest(
        dataset="shop",
        period=period,
        table="orders",
        files=tuple(
            ManifestFile(name=n, size=len(d), sha256=hashlib.sha256(d).hexdigest())
            for n, d in files.items()
        ),
    )
    for name, data in files.items():
        store.put_object(BUCKET, manifest.prefix + name, data)
    store.put_object(BUCKET, manifest.key, manifest.to_json().encode())
    return manifest


@pytest.fixture
def store() -> MemoryObjectStore:
    store = MemoryObjectStore()
    store.ensure_bucket(BucketSpec(BUCKET))
    return store


@pytest.fixture
def cleaners() -> CleanerRegistry:
    registry = CleanerRegistry(installed=False)
    registry.register("shop-orders", orders)
    return registry


def process(
    store: MemoryObjectStore, sink: MemoryTableSink, cleaners: Any, manifest: FolderManifest
) -> FolderLoad:
    return process_folder(
        store, sink, cleaners, BUCKET, manifest, "shop-orders",
        key=["order_id", "period"], replace={"period": MARCH},
    )  # fmt: skip


FIRST = {"a.csv": b"order_id,amount\n1,9.5\n2,12\n", "b.csv": b"order_id,amount\n3,4.25\n"}


def test_a_folder_loads_once_and_then_is_unchanged(
    store: MemoryObjectStore, cleaners: CleanerRegistry
) -> None:
    sink = MemoryTableSink()
    manifest = upload(store, FIRST)

    first = process(store, sink, cleaners, manifest)
    again = process(store, sink, cleaners, manifest)

    load_id = folder_load_id(manifest)
    assert first == FolderLoad("orders", 2, 3, "loaded", load_id)
    assert again == FolderLoad("orders", 2, 3, "unchanged", load_id)
    assert [(r["order_id"], r["source"]) for r in sink.read("orders")] == [
        (1, "a.csv"), (2, "a.csv"), (3, "b.csv"),
    ]  # fmt: skip


def test_a_changed_folder_replaces_the_rows_it_no_longer_holds(
    store: MemoryObjectStore, cleaners: CleanerRegistry
) -> None:
    sink = MemoryTableSink()
    process(store, sink, cleaners, upload(store, FIRST))
    store.delete_object(BUCKET, "raw/shop/2026-03-31/orders/b.csv")
    changed = upload(store, {"a.csv": b"order_id,amount\n1,10\n4,1\n"})

    result = process(store, sink, cleaners, changed)

    assert (result.action, result.files, result.rows) == ("loaded", 1, 2)
    assert [(r["order_id"], r["amount"]) for r in sink.read("orders")] == [(1, 10.0), (4, 1.0)]


@pytest.mark.parametrize(
    "tamper",
    [b"order_id,amount\n1,9.5\n2,13\n", b"order_id,amount\n1,9.5\n2,12\n\n"],
    ids=["same-size-other-bytes", "other-size"],
)
def test_a_file_that_is_not_its_manifests_is_refused_and_nothing_loads(
    store: MemoryObjectStore, cleaners: CleanerRegistry, tamper: bytes
) -> None:
    sink = MemoryTableSink()
    manifest = upload(store, FIRST)
    store.put_object(BUCKET, manifest.prefix + "a.csv", tamper)

    with pytest.raises(Conflict, match="does not match its manifest"):
        process(store, sink, cleaners, manifest)
    assert sink.tables() == []


def test_a_missing_file_or_cleaner_is_not_found_and_nothing_loads(
    store: MemoryObjectStore, cleaners: CleanerRegistry
) -> None:
    sink = MemoryTableSink()
    manifest = upload(store, FIRST)
    store.delete_object(BUCKET, manifest.prefix + "b.csv")

    with pytest.raises(NotFound):
        process(store, sink, cleaners, manifest)
    with pytest.raises(NotFound, match="no cleaner"):
        process_folder(
            store, sink, cleaners, BUCKET, manifest, "nope", key=["order_id"], replace=None
        )
    assert sink.tables() == []


def test_a_frame_the_sink_refuses_leaves_the_table_as_it_was(
    store: MemoryObjectStore, cleaners: CleanerRegistry
) -> None:
    sink = MemoryTableSink()
    process(store, sink, cleaners, upload(store, FIRST))
    before = sink.read("orders")
    repeated = upload(store, {"a.csv": b"order_id,amount\n1,1\n1,2\n"})

    with pytest.raises(InvalidInput):
        process(store, sink, cleaners, repeated)
    assert sink.read("orders") == before


CALL_FILE = "FFIEC CDR Call Schedule RCB 03312026.txt"
CALL_TEXT = '"IDRSSD"\t"RCFD1754"\t\r\n\t"HELD-TO-MATURITY"\t\r\n37\t12\t\r\n480228\t\t\r\n'


def test_the_bundled_call_reports_cleaner_loads_a_schedule_by_its_key(
    store: MemoryObjectStore,
) -> None:
    sink, data = MemoryTableSink(), CALL_TEXT.encode("latin-1")
    manifest = FolderManifest(
        dataset="call-reports", period="2026-03-31", table="call_rcb",
        files=(ManifestFile(CALL_FILE, len(data), hashlib.sha256(data).hexdigest()),),
    )  # fmt: skip
    store.put_object(BUCKET, manifest.prefix + CALL_FILE, data)

    result = process_folder(
        store, sink, CleanerRegistry(), BUCKET, manifest, "call-reports",
        key=CALL_KEY, replace={"reporting_period": MARCH},
    )  # fmt: skip

    assert (result.table, result.rows, result.action) == ("call_rcb", 2, "loaded")
    assert sink.read("call_rcb") == [
        {"idrssd": 37, "reporting_period": MARCH, "rcfd1754": 12},
        {"idrssd": 480228, "reporting_period": MARCH, "rcfd1754": None},
    ]
