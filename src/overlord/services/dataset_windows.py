"""API datasets: the cursor that says how far a dataset has landed, and a window's records.

An API dataset's run covers a window ``[start, end)``, fetched in parts no wider than the
recipe's ``max_span``; each part lands as one raw folder ``raw/{dataset}/{part.name}/{table}/``
(its NDJSON pages, then its manifest), through the same upload as a scraped period, so a part
fetched again lands the same objects and changes nothing. Partitions are rebuilt from those
folders, never from the API, so the event and window triggers see the same records and a
partition job can be rerun after the API has forgotten the data.

The cursor lives in the tenant's ``dataset_cursors`` collection, one document per connector and
dataset, moved by compare-and-set on a version so two runs landing at once both count: the one
that landed later data wins, and a backfill of older data never moves it back.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from overlord.domain.errors import Conflict, DuplicateKey, InvalidInput, NotFound
from overlord.domain.manifests import MANIFEST_NAME, FolderManifest
from overlord.domain.records import flatten
from overlord.domain.windows import (
    Window,
    instant_text,
    moved_cursor,
    parse_instant,
    record_instant,
)
from overlord.ports.document_store import DocumentStore
from overlord.ports.object_store import ObjectStore
from overlord.services.dataset_load import download_folder
from overlord.services.dataset_upload import period_prefix

CURSORS = "dataset_cursors"
PARTITIONS = "partitions"
FIRST_SPAN = timedelta(hours=1)  # what a dataset's first cadence run covers, without a max_span
_ATTEMPTS = 20


def partitions_prefix(dataset: str) -> str:
    """``partitions/{dataset}/``: where a dataset's Hive-style partitions live in its bucket."""
    return f"{PARTITIONS}/{dataset}/"


class Cursors:
    """How far each dataset of a tenant has fully landed."""

    def __init__(self, documents: DocumentStore, database: str) -> None:
        self._documents = documents
        self._database = database

    def get(self, connector: str, dataset: str) -> datetime | None:
        doc = self._document(connector, dataset)
        return parse_instant(doc["cursor"], "cursor") if doc is not None else None

    def advance(self, connector: str, dataset: str, landed: Window) -> datetime:
        """Record that ``landed`` has fully landed; the cursor as it is afterwards."""
        key = f"{connector}/{dataset}"
        for _ in range(_ATTEMPTS):
            doc = self._document(connector, dataset)
            if doc is None:
                self._documents.ensure_collection(self._database, CURSORS, ())
                try:
                    self._documents.insert(
                        self._database,
                        CURSORS,
                        {"_id": key, "cursor": instant_text(landed.end), "version": 1},
                    )
                except DuplicateKey:
                    continue  # another run created it first: move it as any other
                return landed.end
            current = parse_instant(doc["cursor"], "cursor")
            moved = moved_cursor(current, landed)
            if moved == current:
                return current
            version = int(doc["version"])
            changes = {"cursor": instant_text(moved), "version": version + 1}
            if self._documents.update(
                self._database, CURSORS, key, changes, expected={"version": version}
            ):
                return moved
        raise Conflict(f"the cursor of {key} kept changing; try again")

    def _document(self, connector: str, dataset: str) -> dict[str, Any] | None:
        try:
            return self._documents.get(self._database, CURSORS, f"{connector}/{dataset}")
        except NotFound:  # no cursor yet: the collection comes with the first
            return None


def _day_prefixes(dataset: str, span: Window, max_span: timedelta | None) -> list[str]:
    """The listing prefixes that hold every raw folder overlapping ``span``: a part starts at
    most ``max_span`` before the span does, and folder names start with the part's start day.
    Without a ``max_span`` a part may be any length, so the whole dataset is listed."""
    base = period_prefix(dataset)
    if max_span is None:
        return [base]
    day = (span.start - max_span).date()
    prefixes = []
    while day <= span.end.date():
        prefixes.append(f"{base}{day:%Y%m%d}T")
        day += timedelta(days=1)
    return prefixes


def folder_records(
    objects: ObjectStore, bucket: str, manifest: FolderManifest
) -> tuple[list[dict[str, Any]], int]:
    """The flattened records of a landed folder's NDJSON pages, and how many files held them;
    the files are checked against the manifest first (`download_folder`)."""
    records: list[dict[str, Any]] = []
    files = download_folder(objects, bucket, manifest)
    for listed, file in zip(manifest.files, files, strict=True):
        name = manifest.prefix + listed.name
        try:
            text = file.getvalue().decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{name} is not UTF-8 NDJSON") from None
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise InvalidInput(f"{name} line {number} is not JSON") from None
            records.append(flatten(record))
    return records, len(files)


def window_records(
    objects: ObjectStore,
    bucket: str,
    dataset: str,
    span: Window,
    *,
    time_column: str,
    max_span: timedelta | None,
) -> tuple[list[dict[str, Any]], int]:
    """Every landed record whose ``time_column`` falls in ``span``, from the raw folders whose
    part overlaps it, and how many files were read. A record without a readable time is
    `InvalidInput` naming it: partitions never silently drop data."""
    keys = []
    for prefix in _day_prefixes(dataset, span, max_span):
        for info in objects.list_objects(bucket, prefix):
            parts = info.key.split("/")
            part = Window.from_name(parts[2]) if len(parts) == 5 else None
            if parts[-1] == MANIFEST_NAME and part is not None and part.overlaps(span):
                keys.append(info.key)
    manifests = [FolderManifest.from_json(body) for body in objects.get_many(bucket, keys).values()]
    found: list[dict[str, Any]] = []
    files = 0
    for manifest in manifests:
        records, read = folder_records(objects, bucket, manifest)
        files += read
        found.extend(r for r in records if span.holds(_time(r, time_column, manifest.prefix)))
    return found, files


def _time(record: dict[str, Any], column: str, where: str) -> datetime:
    moment = record_instant(record.get(column))
    if moment is None:
        raise InvalidInput(
            f"a record in {where} has no time in {column!r} (ISO 8601 with an offset, or epoch "
            f"seconds): {str(record.get(column))[:40]!r}"
        )
    return moment
