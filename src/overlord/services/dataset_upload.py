"""The upload stage: a period's unpacked files into ``raw/{dataset}/{period}/{table}/{file}``.

`upload_period` groups the files into one folder per table, the table named by the connector's
layout rule (``table_of``: for bank-reports ``call_file(name).table``, which sends both parts of
a multi-part schedule to one folder). Each folder's `FolderManifest` (names, sizes, SHA-256) is
written after every file it lists has landed, so a folder without ``_manifest.json`` is still
arriving and `complete_folders` never lists it.

How a folder is judged, against what the bucket holds:

- its stored manifest equals the new one: **unchanged**, nothing is written or deleted, so
  uploading the same period again changes nothing;
- no manifest (new, or a crashed upload): every file is uploaded, then the manifest;
- another manifest (the files changed): the old manifest is deleted *first*, so that no reader
  takes the folder for complete while its files change; then the files that differ from the old
  manifest are uploaded, then the new manifest, and only then the objects it does not list are
  deleted (leftovers of a crash included). A crash at any step leaves a folder without a
  manifest, or with the new one; running the upload again finishes it.

Everything is validated before the first write (every table name, file name, key, size and
digest), so a refused name writes nothing.

Memory: files are read and uploaded in **bounded batches** (`BATCH_BYTES`, `BATCH_FILES`)
through the port's `put_many`, rather than through a new streaming method on the port. The
trade: the port and its three adapters stay as they are (and so does every other stage that
uses them), at the cost of holding one batch in memory, at most ``batch_bytes`` plus one file
larger than that (a file is never split). The files this stage sees are the members of a
regulatory bulk download (a few KiB to a few hundred MiB each, 4 GiB per archive at most, see
`overlord.domain.archives.ArchiveLimits`), so a batch of 64 MiB keeps the resident set small
while every batch still keeps ``concurrency`` requests in flight (aioboto3 on S3, threads on the
local store). A connector whose single files approach memory size needs a streaming
``put_files`` on the port; that is not this stage's case yet. Each file is re-hashed as it is
read, so a file that changed since it was unpacked is refused (`Conflict`) before its batch goes.

``progress(done, total)`` is called with bytes after each batch (and once at the start), which
is what a progress bar needs; it is never called with ``done`` above ``total``.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import attrs
from attrs import frozen

from overlord.domain.errors import Conflict, InvalidInput, NotFound
from overlord.domain.manifests import (
    MANIFEST_NAME,
    RAW_PREFIX,
    FolderManifest,
    ManifestFile,
    check_period,
    check_table,
)
from overlord.domain.names import slug, validate_object_key

if TYPE_CHECKING:
    from overlord.domain.archives import ExtractedFile
    from overlord.ports.object_store import ObjectStore

BATCH_BYTES = 64 * 1024 * 1024
BATCH_FILES = 1000
Progress = Callable[[int, int], None]


@frozen
class UploadReport:
    """What one upload did: the folders written and left as they were, the objects removed."""

    dataset: str
    period: str
    written: tuple[FolderManifest, ...]
    unchanged: tuple[FolderManifest, ...]
    removed: tuple[str, ...]
    bytes_uploaded: int

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


@frozen
class _Folder:
    manifest: FolderManifest
    paths: dict[str, ExtractedFile]  # file name -> the unpacked file


def plan_folders(
    dataset: str,
    period: str,
    files: Iterable[ExtractedFile],
    table_of: Callable[[str], str],
) -> list[FolderManifest]:
    """The manifests the files make, one per table, sorted by table; nothing is written.

    >>> from pathlib import Path
    >>> from overlord.domain.archives import ExtractedFile
    >>> parts = [ExtractedFile(f"RCB(part {i}).txt", Path("x"), 1, "0" * 64) for i in (1, 2)]
    >>> [(m.table, len(m.files)) for m in plan_folders("calls", "2026Q1", parts, lambda n: "rcb")]
    [('rcb', 2)]
    """
    return [folder.manifest for folder in _plan(dataset, period, files, table_of)]


def _plan(
    dataset: str, period: str, files: Iterable[ExtractedFile], table_of: Callable[[str], str]
) -> list[_Folder]:
    slug("dataset", dataset)
    check_period(period)
    grouped: dict[str, dict[str, ExtractedFile]] = {}
    for file in files:
        table = check_table(table_of(file.name))
        named = grouped.setdefault(table, {})
        if file.name in named:
            raise InvalidInput(f"the file {file.name!r} is offered twice")
        named[file.name] = file
    folders = []
    for table in sorted(grouped):
        named = grouped[table]
        manifest = FolderManifest(
            dataset=dataset,
            period=period,
            table=table,
            files=tuple(
                ManifestFile(name=f.name, size=f.size, sha256=f.sha256) for f in named.values()
            ),
        )
        prefix = manifest.prefix
        for entry in manifest.files:
            validate_object_key(prefix + entry.name)
        folders.append(_Folder(manifest, named))
    return folders


def _stored_manifest(objects: ObjectStore, bucket: str, key: str) -> FolderManifest | None:
    try:
        return FolderManifest.from_json(objects.get_object(bucket, key))
    except NotFound:
        return None
    except InvalidInput:
        return None  # unreadable: the folder is not complete, and is rewritten


def upload_period(
    objects: ObjectStore,
    bucket: str,
    dataset: str,
    period: str,
    files: Sequence[ExtractedFile],
    table_of: Callable[[str], str],
    progress: Progress | None = None,
    *,
    concurrency: int = 16,
    batch_bytes: int = BATCH_BYTES,
    batch_files: int = BATCH_FILES,
) -> UploadReport:
    """Upload one period's unpacked ``files`` into their table folders; see the module."""
    folders = _plan(dataset, period, files, table_of)
    stored_keys = {
        info.key
        for info in objects.list_objects(bucket, period_prefix(dataset, period))
        if info.key.endswith("/" + MANIFEST_NAME)
    }
    unchanged: list[FolderManifest] = []
    pending: list[tuple[_Folder, FolderManifest | None]] = []  # with the manifest it replaces
    for folder in folders:
        new = folder.manifest
        old = _stored_manifest(objects, bucket, new.key) if new.key in stored_keys else None
        if old is not None and old == new:
            unchanged.append(old)  # with its generation
        else:
            pending.append((folder, old))

    # What each folder still needs: the files its old manifest did not already vouch for.
    uploads: list[tuple[str, ExtractedFile]] = []
    waiting: dict[str, int] = {}  # manifest key -> files still to upload
    for folder, old in pending:
        kept = set(old.files) if old is not None else set()
        needed = [entry for entry in folder.manifest.files if entry not in kept]
        waiting[folder.manifest.key] = len(needed)
        prefix = folder.manifest.prefix
        uploads.extend((prefix + e.name, folder.paths[e.name]) for e in needed)
    total = sum(file.size for _, file in uploads)
    done = 0
    if progress is not None:
        progress(done, total)

    # A folder being rewritten stops looking complete before any of its files change.
    for folder, _ in pending:
        if folder.manifest.key in stored_keys:
            objects.delete_object(bucket, folder.manifest.key)

    # Each manifest written is a new generation of its folder (see FolderManifest).
    by_key = {
        folder.manifest.key: attrs.evolve(folder.manifest, generation=uuid.uuid4().hex)
        for folder, _ in pending
    }
    written: list[FolderManifest] = []

    def finish(keys: list[str]) -> None:
        manifests = {key: by_key[key].to_json().encode("utf-8") for key in keys}
        if len(manifests) == 1:  # one request: no bulk machinery (an aioboto3 session on S3)
            objects.put_object(bucket, *manifests.popitem(), content_type="application/json")
        elif manifests:
            objects.put_many(bucket, manifests, concurrency=concurrency)
        written.extend(by_key[key] for key in keys)

    finish([key for key, count in waiting.items() if count == 0])
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as readers:
        for batch in _batches(uploads, batch_bytes, batch_files):
            bodies = _read_all(batch, readers, concurrency)
            objects.put_many(bucket, bodies, concurrency=concurrency)
            done += sum(file.size for _, file in batch)
            ready = []
            for key, _ in batch:
                manifest_key = key.rpartition("/")[0] + "/" + MANIFEST_NAME
                waiting[manifest_key] -= 1
                if waiting[manifest_key] == 0:
                    ready.append(manifest_key)
            finish(ready)
            if progress is not None:
                progress(done, total)

    removed: list[str] = []
    for manifest in written:
        listed = {manifest.prefix + f.name for f in manifest.files} | {manifest.key}
        for info in objects.list_objects(bucket, manifest.prefix):
            if info.key not in listed:
                objects.delete_object(bucket, info.key)
                removed.append(info.key)
    return UploadReport(
        dataset=dataset,
        period=period,
        written=tuple(sorted(written, key=lambda m: m.table)),
        unchanged=tuple(unchanged),
        removed=tuple(removed),
        bytes_uploaded=total,
    )


def _batches(
    uploads: list[tuple[str, ExtractedFile]], max_bytes: int, max_files: int
) -> Iterable[list[tuple[str, ExtractedFile]]]:
    batch: list[tuple[str, ExtractedFile]] = []
    size = 0
    for item in uploads:
        if batch and (size + item[1].size > max_bytes or len(batch) >= max_files):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item[1].size
    if batch:
        yield batch


def _read_all(
    batch: list[tuple[str, ExtractedFile]], pool: ThreadPoolExecutor, workers: int
) -> dict[str, bytes]:
    """The batch's bodies, each checked against its size and digest, read by ``workers``
    threads a contiguous run each: hashlib and file reads let go of the GIL, so the re-hash
    runs on every core instead of one; a task per file would cost more than it reads."""
    workers = max(1, min(workers, len(batch)))
    bounds = [len(batch) * i // workers for i in range(workers + 1)]
    runs = [batch[start:end] for start, end in itertools.pairwise(bounds)]
    bodies: dict[str, bytes] = {}
    for run in pool.map(lambda run: [(key, _read(file)) for key, file in run], runs):
        bodies.update(run)
    return bodies


def _read(file: ExtractedFile) -> bytes:
    data = file.path.read_bytes()
    if len(data) != file.size or hashlib.sha256(data).hexdigest() != file.sha256:
        raise Conflict(f"{file.path} changed after it was unpacked; unpack the archive again")
    return data


def period_prefix(dataset: str, period: str | None = None) -> str:
    """``raw/{dataset}/`` or ``raw/{dataset}/{period}/``."""
    base = f"{RAW_PREFIX}/{slug('dataset', dataset)}/"
    return base if period is None else f"{base}{check_period(period)}/"


def complete_folders(
    objects: ObjectStore, bucket: str, dataset: str, period: str | None = None
) -> list[FolderManifest]:
    """The manifests of the dataset's complete folders (of one period, or all), sorted by
    period then table. A folder still arriving has no manifest and is not listed; a manifest
    that does not describe the folder it is in raises `InvalidInput`.
    """
    keys = [
        info.key
        for info in objects.list_objects(bucket, period_prefix(dataset, period))
        if _is_manifest_key(info.key)
    ]
    found = []
    for key, body in objects.get_many(bucket, keys).items():
        manifest = FolderManifest.from_json(body)
        if manifest.key != key:
            raise InvalidInput(f"{key} holds the manifest of {manifest.key}")
        found.append(manifest)
    return sorted(found, key=lambda m: (m.period, m.table))


def _is_manifest_key(key: str) -> bool:
    parts = key.split("/")
    return len(parts) == 5 and parts[0] == RAW_PREFIX and parts[4] == MANIFEST_NAME
