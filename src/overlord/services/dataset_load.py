"""Process and load one raw folder: its manifest's files, through its cleaner, into its table.

`process_folder` is the load half of a dataset's ``process`` stage. It downloads the files the
folder's manifest lists and checks each against the manifest (size and sha256), so a folder that
is still being rewritten, or was tampered with, is refused before anything is cleaned or
loaded. The cleaner turns the files into a frame, which goes to the `TableSink` as it is (this
module never imports pandas), under a load_id derived from the manifest's checksum. The sink
makes the rest safe:

- the load is one transaction that, with ``replace`` (the folder's partition of the table, e.g.
  ``{"reporting_period": date(2026, 3, 31)}``), first deletes the rows that partition held, so
  rows the folder no longer holds go with the same commit that writes the new ones;
- the same folder again (the same checksum: a retried job, a duplicated event, two workers at
  once) finds its load_id in the ledger and reports ``unchanged``;
- a load that fails anywhere leaves the table as it was.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from attrs import frozen

from overlord.domain.cleaners import CleanerContext, CleanerFunction
from overlord.domain.errors import Conflict
from overlord.domain.manifests import FolderManifest
from overlord.ports.object_store import ObjectStore
from overlord.ports.table_sink import Frame, TableSink, Value

LoadAction = Literal["loaded", "unchanged"]


class Cleaners(Protocol):
    """Where cleaners are found by name: `overlord.cleaners.CleanerRegistry` is one."""

    def get(self, name: str) -> CleanerFunction: ...


@frozen
class FolderLoad:
    """What processing a folder did. ``rows`` is what the load carried; for ``unchanged``,
    what the first load of this checksum carried."""

    table: str
    files: int
    rows: int
    action: LoadAction
    load_id: str


def folder_load_id(manifest: FolderManifest) -> str:
    """The load_id of a folder's contents: the folder's place, its manifest's checksum and
    generation, so the same upload loads once, changed files load anew, and files that come
    back after a change load again.

    >>> from overlord.domain.manifests import ManifestFile
    >>> manifest = FolderManifest(
    ...     dataset="call-reports", period="2026-03-31", table="call_rcb",
    ...     files=(ManifestFile(name="a.txt", size=3, sha256="0" * 64),),
    ... )
    >>> folder_load_id(manifest) == f"raw/call-reports/2026-03-31/call_rcb:{manifest.checksum}"
    True
    """
    generation = f":{manifest.generation}" if manifest.generation else ""
    return f"{manifest.prefix.rstrip('/')}:{manifest.checksum}{generation}"


class NamedBytes(io.BytesIO):
    """A downloaded file as a binary stream with the file's ``name``, as cleaners expect."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


def download_folder(
    objects: ObjectStore, bucket: str, manifest: FolderManifest, *, concurrency: int = 8
) -> list[NamedBytes]:
    """The manifest's files as named streams, sorted by name; `Conflict` naming the first file
    whose size or sha256 is not the manifest's (`NotFound` if one is missing)."""
    keys = [manifest.prefix + file.name for file in manifest.files]
    found = objects.get_many(bucket, keys, concurrency=concurrency) if keys else {}
    streams: list[NamedBytes] = []
    for file, key in zip(manifest.files, keys, strict=True):
        data = found[key]
        if len(data) != file.size:
            raise Conflict(
                f"{key} holds {len(data)} bytes, its manifest says {file.size}: "
                "the folder does not match its manifest, nothing was loaded"
            )
        if hashlib.sha256(data).hexdigest() != file.sha256:
            raise Conflict(
                f"{key}: its sha256 is not its manifest's: "
                "the folder does not match its manifest, nothing was loaded"
            )
        streams.append(NamedBytes(data, file.name))
    return streams


def process_folder(
    objects: ObjectStore,
    tables: TableSink,
    cleaners: Cleaners,
    bucket: str,
    manifest: FolderManifest,
    cleaner_name: str,
    *,
    key: Sequence[str],
    replace: Mapping[str, Value] | None,
    table: str | None = None,
) -> FolderLoad:
    """Download ``manifest``'s files from ``bucket``, clean them with the cleaner
    ``cleaner_name`` and load the frame into ``table`` (default: the folder's, ``manifest.table``)
    by ``key``, replacing the rows matching ``replace`` (None: upsert only, nothing is
    removed)."""
    clean = cleaners.get(cleaner_name)
    files = download_folder(objects, bucket, manifest)
    context = CleanerContext(dataset=manifest.dataset, period=manifest.period, table=manifest.table)
    frame: Frame = clean(files, context)
    result = tables.load(
        table or manifest.table, frame, key=key, load_id=folder_load_id(manifest), replace=replace
    )
    action: LoadAction = "loaded" if result.applied else "unchanged"
    return FolderLoad(result.table, len(files), result.rows, action, result.load_id)
