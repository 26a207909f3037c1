"""The upload stage on every ObjectStore adapter: layout, manifest last, idempotence, faults.

The stores come from the ObjectStore contract suite's `FACTORIES` (memory, local files, S3 on
the tests' moto server). `Recording` wraps a store to count what is written, to keep the order
of writes, and to crash part-way through a bulk upload.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from overlord.domain.archives import ExtractedFile
from overlord.domain.errors import BackendError, Conflict, InvalidInput, InvalidName
from overlord.domain.infrastructure import BucketSpec, ObjectInfo
from overlord.domain.manifests import MANIFEST_NAME, FolderManifest
from overlord.ports.object_store import ObjectStore
from overlord.samples.call_reports import call_file
from overlord.services.dataset_upload import complete_folders, upload_period
from tests.contract.test_object_store import FACTORIES

DATASET = "call-reports"
PERIOD = "2026-03-31"
RCB_1 = "FFIEC CDR Call Schedule RCB 03312026(1 of 2).txt"
RCB_2 = "FFIEC CDR Call Schedule RCB 03312026(2 of 2).txt"
RC = "FFIEC CDR Call Schedule RC 03312026.txt"
POR = "FFIEC CDR Call Bulk POR 03312026.txt"


def table_of(name: str) -> str:
    return call_file(name).table


class Recording:
    """An ObjectStore that records every write and delete and can fail after ``crash_after``
    object writes (the writes before it land, as a killed process would leave them)."""

    def __init__(self, inner: ObjectStore, crash_after: int | None = None) -> None:
        self.inner = inner
        self.crash_after = crash_after
        self.writes: list[str] = []
        self.deletes: list[str] = []
        self.batches: list[int] = []  # bytes per put_many

    def _write(self, bucket: str, key: str, data: bytes) -> None:
        if self.crash_after is not None and len(self.writes) >= self.crash_after:
            raise BackendError("the process died here")
        self.inner.put_object(bucket, key, data)
        self.writes.append(key)

    def describe_bucket(self, name: str) -> BucketSpec | None:
        return self.inner.describe_bucket(name)

    def ensure_bucket(self, spec: BucketSpec) -> None:
        self.inner.ensure_bucket(spec)

    def delete_bucket(self, name: str, *, purge: bool = False) -> None:
        self.inner.delete_bucket(name, purge=purge)

    def put_object(
        self, bucket: str, key: str, data: bytes, *, content_type: str | None = None
    ) -> None:
        self._write(bucket, key, data)

    def get_object(self, bucket: str, key: str) -> bytes:
        return self.inner.get_object(bucket, key)

    def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        return self.inner.list_objects(bucket, prefix)

    def delete_object(self, bucket: str, key: str) -> None:
        self.deletes.append(key)
        self.inner.delete_object(bucket, key)

    def put_many(self, bucket: str, objects: Mapping[str, bytes], *, concurrency: int = 16) -> None:
        self.batches.append(sum(len(body) for body in objects.values()))
        if self.crash_after is None:
            self.inner.put_many(bucket, objects, concurrency=concurrency)
            self.writes.extend(objects)
            return
        for key, data in objects.items():
            self._write(bucket, key, data)

    def get_many(
        self, bucket: str, keys: Sequence[str], *, concurrency: int = 16
    ) -> dict[str, bytes]:
        return self.inner.get_many(bucket, keys, concurrency=concurrency)


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest) -> ObjectStore:
    return FACTORIES[request.param](request)


@pytest.fixture
def bucket(store: ObjectStore) -> Iterator[str]:
    name = f"up-{uuid.uuid4().hex[:24]}"
    store.ensure_bucket(BucketSpec(name))
    yield name
    store.delete_bucket(name, purge=True)


@pytest.fixture
def unpacked(tmp_path: Path) -> Path:
    folder = tmp_path / "unpacked"
    folder.mkdir()
    return folder


def extracted(folder: Path, contents: dict[str, bytes]) -> list[ExtractedFile]:
    """Write ``contents`` into ``folder`` and describe the files as `unpack` would."""
    found = []
    for name, body in sorted(contents.items()):
        path = folder / name
        path.write_bytes(body)
        found.append(ExtractedFile(name, path, len(body), hashlib.sha256(body).hexdigest()))
    return found


CONTENTS = {RCB_1: b"IDRSSD\tRCFD1754\n37\t1\n", RCB_2: b"IDRSSD\tRCFD1773\n37\t2\n", RC: b"rc"}


def keys(store: ObjectStore, bucket: str) -> list[str]:
    return [info.key for info in store.list_objects(bucket)]


def test_files_land_in_their_table_folders_and_the_two_parts_share_one(
    store: ObjectStore, bucket: str, unpacked: Path
) -> None:
    report = upload_period(store, bucket, DATASET, PERIOD, extracted(unpacked, CONTENTS), table_of)
    rcb = f"raw/call-reports/{PERIOD}/call_rcb/"
    assert keys(store, bucket) == [
        f"raw/call-reports/{PERIOD}/call_rc/{RC}",
        f"raw/call-reports/{PERIOD}/call_rc/{MANIFEST_NAME}",
        rcb + RCB_1,
        rcb + RCB_2,
        rcb + MANIFEST_NAME,
    ]
    assert [m.table for m in report.written] == ["call_rc", "call_rcb"]
    assert store.get_object(bucket, rcb + RCB_2) == CONTENTS[RCB_2]
    manifest = FolderManifest.from_json(store.get_object(bucket, rcb + MANIFEST_NAME))
    assert [(f.name, f.size) for f in manifest.files] == [(RCB_1, 21), (RCB_2, 21)]
    assert manifest.files[0].sha256 == hashlib.sha256(CONTENTS[RCB_1]).hexdigest()
    assert complete_folders(store, bucket, DATASET) == list(report.written)
    assert report.bytes_uploaded == sum(len(b) for b in CONTENTS.values())


def test_each_manifest_is_written_after_every_file_it_lists(
    store: ObjectStore, bucket: str, unpacked: Path
) -> None:
    recording = Recording(store)
    files = extracted(unpacked, CONTENTS)
    upload_period(recording, bucket, DATASET, PERIOD, files, table_of, batch_files=1)
    for folder in ("call_rc", "call_rcb"):
        mine = [k for k in recording.writes if f"/{folder}/" in k]
        assert mine[-1].endswith(MANIFEST_NAME)
        assert sum(k.endswith(MANIFEST_NAME) for k in mine) == 1


def test_the_same_period_uploaded_twice_writes_nothing_the_second_time(
    store: ObjectStore, bucket: str, unpacked: Path
) -> None:
    files = extracted(unpacked, CONTENTS)
    upload_period(store, bucket, DATASET, PERIOD, files, table_of)
    recording = Recording(store)
    seen: list[tuple[int, int]] = []
    again = upload_period(
        recording, bucket, DATASET, PERIOD, files, table_of, lambda d, t: seen.append((d, t))
    )
    assert (recording.writes, recording.deletes) == ([], [])
    assert again.written == ()
    assert again.removed == ()
    assert not again.changed
    assert [m.table for m in again.unchanged] == ["call_rc", "call_rcb"]
    assert seen == [(0, 0)]


def test_a_crash_before_the_manifest_leaves_a_folder_never_listed_and_the_next_upload_finishes(
    store: ObjectStore, bucket: str, unpacked: Path
) -> None:
    files = extracted(unpacked, CONTENTS)
    crashing = Recording(store, crash_after=3)  # call_rc's file and its manifest, one RCB part
    with pytest.raises(BackendError):
        upload_period(crashing, bucket, DATASET, PERIOD, files, table_of, batch_files=1)
    rcb = f"raw/call-reports/{PERIOD}/call_rcb/"
    assert rcb + RCB_1 in keys(store, bucket)
    assert [m.table for m in complete_folders(store, bucket, DATASET, PERIOD)] == ["call_rc"]

    report = upload_period(store, bucket, DATASET, PERIOD, files, table_of)
    assert [m.table for m in report.written] == ["call_rcb"]
    assert [m.table for m in report.unchanged] == ["call_rc"]
    assert [m.table for m in complete_folders(store, bucket, DATASET, PERIOD)] == [
        "call_rc",
        "call_rcb",
    ]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("..hidden 03312026.txt", InvalidName),  # a name the manifest cannot hold
        ("readme.txt", InvalidName),  # the layout rule does not know it
    ],
)
def test_a_refused_name_writes_nothing(
    store: ObjectStore, bucket: str, unpacked: Path, name: str, error: type[Exception]
) -> None:
    files = extracted(unpacked, {**CONTENTS, name: b"x"})
    recording = Recording(store)
    with pytest.raises(error):
        upload_period(
            recording,
            bucket,
            DATASET,
            PERIOD,
            files,
            lambda n: "call_rc" if n.startswith("..") else table_of(n),
        )
    assert recording.writes == []
    assert keys(store, bucket) == []


def test_a_layout_rule_naming_an_invalid_table_writes_nothing(
    store: ObjectStore, bucket: str, unpacked: Path
) -> None:
    files = extracted(unpacked, CONTENTS)
    with pytest.raises(InvalidInput):
        upload_period(store, bucket, DATASET, PERIOD, files, lambda n: "Call RCB")
    assert keys(store, bucket) == []


def test_a_changed_folder_is_rewritten_and_what_it_no_longer_lists_removed(
    store: ObjectStore, bucket: str, unpacked: Path, tmp_path: Path
) -> None:
    upload_period(store, bucket, DATASET, PERIOD, extracted(unpacked, CONTENTS), table_of)
    newer = tmp_path / "newer"
    newer.mkdir()
    rcb_only_part = "FFIEC CDR Call Schedule RCB 03312026.txt"  # now in one piece
    files = extracted(newer, {rcb_only_part: b"one piece", RC: CONTENTS[RC]})
    recording = Recording(store)
    report = upload_period(recording, bucket, DATASET, PERIOD, files, table_of)
    rcb = f"raw/call-reports/{PERIOD}/call_rcb/"
    assert recording.writes == [rcb + rcb_only_part, rcb + MANIFEST_NAME]
    assert recording.deletes == [rcb + MANIFEST_NAME, rcb + RCB_1, rcb + RCB_2]
    assert report.removed == (rcb + RCB_1, rcb + RCB_2)
    assert [m.table for m in report.written] == ["call_rcb"]
    assert [m.table for m in report.unchanged] == ["call_rc"]
    assert keys(store, bucket)[2:] == [rcb + rcb_only_part, rcb + MANIFEST_NAME]


def test_a_folder_being_rewritten_is_not_complete_until_its_new_manifest_lands(
    store: ObjectStore, bucket: str, unpacked: Path, tmp_path: Path
) -> None:
    upload_period(store, bucket, DATASET, PERIOD, extracted(unpacked, CONTENTS), table_of)
    newer = tmp_path / "newer"
    newer.mkdir()
    changed = extracted(newer, {**CONTENTS, RCB_2: b"IDRSSD\tRCFD1773\n37\t3\n"})
    with pytest.raises(BackendError):
        upload_period(Recording(store, crash_after=0), bucket, DATASET, PERIOD, changed, table_of)
    assert [m.table for m in complete_folders(store, bucket, DATASET)] == ["call_rc"]
    report = upload_period(store, bucket, DATASET, PERIOD, changed, table_of)
    assert [m.table for m in report.written] == ["call_rcb"]
    assert store.get_object(bucket, f"raw/call-reports/{PERIOD}/call_rcb/{RCB_2}").endswith(b"3\n")


def test_batches_bound_what_is_held_in_memory_and_progress_counts_bytes(
    store: ObjectStore, bucket: str, unpacked: Path
) -> None:
    contents = {f"FFIEC CDR Call Schedule RC{c} 03312026.txt": bytes(1000) for c in "ABCDEFGH"}
    recording = Recording(store)
    seen: list[tuple[int, int]] = []
    upload_period(
        recording,
        bucket,
        DATASET,
        PERIOD,
        extracted(unpacked, contents),
        table_of,
        lambda done, total: seen.append((done, total)),
        batch_bytes=2500,
    )
    assert max(recording.batches) <= 2500
    assert seen[0] == (0, 8000)
    assert seen[-1] == (8000, 8000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(complete_folders(store, bucket, DATASET)) == 8


def test_a_file_changed_after_it_was_unpacked_is_refused(
    store: ObjectStore, bucket: str, unpacked: Path
) -> None:
    files = extracted(unpacked, CONTENTS)
    (unpacked / RC).write_bytes(b"RC")  # same size, other bytes
    with pytest.raises(Conflict):
        upload_period(store, bucket, DATASET, PERIOD, files, table_of)
    assert "call_rc" not in [m.table for m in complete_folders(store, bucket, DATASET)]


def test_complete_folders_of_one_period_or_all(
    store: ObjectStore, bucket: str, unpacked: Path, tmp_path: Path
) -> None:
    upload_period(store, bucket, DATASET, PERIOD, extracted(unpacked, {RC: b"1"}), table_of)
    later = tmp_path / "later"
    later.mkdir()
    upload_period(store, bucket, DATASET, "2026-06-30", extracted(later, {POR: b"2"}), table_of)
    store.put_object(bucket, f"raw/call-reports/{PERIOD}/call_rcb/{RCB_1}", b"arriving")
    assert [(m.period, m.table) for m in complete_folders(store, bucket, DATASET)] == [
        (PERIOD, "call_rc"),
        ("2026-06-30", "call_por"),
    ]
    assert [m.table for m in complete_folders(store, bucket, DATASET, "2026-06-30")] == ["call_por"]
    assert complete_folders(store, bucket, "other-dataset") == []
