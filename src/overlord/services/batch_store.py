"""The repository of batch and request records: `BatchRecord` and `ChunkRecord` to documents in
the tenant's ``batches`` and ``requests`` collections, saved with an optimistic version check.

A request document holds one chunk: its item ids once (as one JSON text), and per item a
status, the steps done, its attempt and how often it ran, each as one character per item
(``"SSFP"``), with errors and timings kept only where there are any. Per-item sub-documents
would be easier to read but many times costlier to encode, check and store on every step (a
store checks a document value by value). The encoding is private to this module; everyone else
sees the records.

Both collections are made on a tenant's first batch, so any connector can run batches.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from overlord.domain.batch_records import (
    AttemptKind,
    BatchAttempt,
    BatchRecord,
    ChunkRecord,
    zero_counts,
)
from overlord.domain.batches import BatchStatus, RequestStatus
from overlord.domain.indexes import IndexSpec
from overlord.domain.names import Namespace, TenantName, tenant_database
from overlord.domain.pipeline_templates import Workers
from overlord.ports.document_store import DocumentStore

BATCHES, REQUESTS = "batches", "requests"
_RECENT = 4096
_INSERTS = 256  # chunk records written by one insert_many
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_CODE = {
    RequestStatus.PENDING: "P",
    RequestStatus.RUNNING: "R",
    RequestStatus.SUCCEEDED: "S",
    RequestStatus.FAILED: "F",
    RequestStatus.CANCELLED: "C",
}
_STATUS = {code: status for status, code in _CODE.items()}
_ITEMS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # built once, not per chunk
_COUNT_CODES = tuple((key, _CODE[RequestStatus(key.upper())]) for key in zero_counts())


def chunk_id(batch_id: str, chunk: int) -> str:
    return f"{batch_id}/{chunk:06d}"


# Digits to and from their values a whole string at a time (`bytes.translate` runs in C); a
# value past the last digit becomes a byte that is not ASCII, so it fails rather than passes.
_TO_DIGITS = _DIGITS.encode("ascii").ljust(256, b"\xff")
_FROM_DIGITS = bytes(_DIGITS.index(chr(b)) if chr(b) in _DIGITS else 255 for b in range(256))


def _digits(values: list[int]) -> str:
    first = values[0] if values else 0
    if 0 <= first < len(_DIGITS) and values.count(first) == len(values):
        return _DIGITS[first] * len(values)  # the usual: a chunk's items alike, counted in C
    return bytes(values).translate(_TO_DIGITS).decode("ascii")


def _numbers(text: str) -> list[int]:
    values = text.encode("ascii").translate(_FROM_DIGITS)
    if b"\xff" in values:
        raise ValueError(f"not a digit string: {text!r:.40}")
    return list(values)


@functools.lru_cache(maxsize=4 * _RECENT)
def _time_text(value: datetime, zone: tzinfo | None) -> str:
    """A step's time as written (`datetime.isoformat`), remembered: each write of a chunk
    record writes the times of all its steps so far again, and formatting an aware time
    costs more than all the rest of a step's encoding. The zone is part of the key because
    equal times in two zones are equal: each is written as it was given."""
    return value.isoformat()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _codes(status: list[RequestStatus]) -> str:
    """One character per item; a chunk whose items share a status (the usual) in one go."""
    if status and status.count(status[0]) == len(status):
        return _CODE[status[0]] * len(status)
    return "".join(map(_CODE.__getitem__, status))


def chunk_changes(chunk: ChunkRecord) -> dict[str, Any]:
    """The fields a step changes (everything but the item ids)."""
    codes = _codes(chunk.status)
    return {
        "status": codes,
        "reached": _digits(chunk.reached),
        "rounds": _digits(chunk.rounds),
        "tries": _digits(chunk.tries),  # at most MAX_ATTEMPTS, one digit
        "errors": {str(i): [step, text] for i, (step, text) in sorted(chunk.errors.items())},
        "times": {
            f"{a}:{s}": [_time_text(start, start.tzinfo), _time_text(end, end.tzinfo)]
            for (a, s), (start, end) in sorted(chunk.times.items())
        },
        "counts": {key: codes.count(code) for key, code in _COUNT_CODES},  # = chunk.counts()
        "version": chunk.version,
    }


def items_text(item_ids: Sequence[str]) -> str:
    """The JSON text of a chunk's item ids, exactly as the encoder writes it: the ids joined as
    they are when none holds a character the encoder escapes (a quote, a backslash, a control
    character; anything not printable goes to the encoder to be sure), which is the usual
    case and costs a seventh of encoding them."""
    body = '","'.join(item_ids)
    if body.isprintable() and "\\" not in body and body.count('"') == 2 * (len(item_ids) - 1):
        return f'["{body}"]'
    return _ITEMS.encode(list(item_ids))


def chunk_to_document(chunk: ChunkRecord) -> dict[str, Any]:
    return {
        "_id": chunk_id(chunk.batch_id, chunk.chunk),
        "batch_id": chunk.batch_id,
        "chunk": chunk.chunk,
        # One JSON text, not a list: a store checks and encodes it as a single value.
        "items": items_text(chunk.item_ids),
        **chunk_changes(chunk),
    }


def chunk_from_document(doc: Mapping[str, Any]) -> ChunkRecord:
    times = {}
    for key, (start, end) in doc["times"].items():
        attempt, _, step = key.partition(":")
        times[(int(attempt), int(step))] = (
            datetime.fromisoformat(start),
            datetime.fromisoformat(end),
        )
    return ChunkRecord(
        batch_id=doc["batch_id"],
        chunk=doc["chunk"],
        item_ids=tuple(json.loads(doc["items"])),
        status=list(map(_STATUS.__getitem__, doc["status"])),
        reached=_numbers(doc["reached"]),
        rounds=_numbers(doc["rounds"]),
        tries=_numbers(doc["tries"]),
        errors={int(i): (step, text) for i, (step, text) in doc["errors"].items()},
        times=times,
        version=doc["version"],
    )


def _attempt_to_document(a: BatchAttempt) -> dict[str, Any]:
    return {
        "number": a.number,
        "kind": a.kind.value,
        "started_at": a.started_at.isoformat(),
        "chunks": a.chunks,
        "items": a.items,
        "execution_id": a.execution_id,
    }


def batch_changes(record: BatchRecord) -> dict[str, Any]:
    return {
        "status": record.status.value,
        "counts": dict(record.counts),
        "attempts": [_attempt_to_document(a) for a in record.attempts],
        "cancel_reason": record.cancel_reason,
        "updated_at": record.updated_at.isoformat(),
        "finished_at": _iso(record.finished_at),
        "version": record.version,
    }


def batch_to_document(record: BatchRecord) -> dict[str, Any]:
    return {
        "_id": record.id,
        "tenant": record.tenant,
        "connector": record.connector,
        "pipeline": record.pipeline,
        "steps": list(record.steps),
        "batch_size": record.batch_size,
        "total_items": record.total_items,
        "chunk_count": record.chunk_count,
        "current_batch": record.current_batch,
        "workers": record.workers.value,
        "request_digest": record.request_digest,
        "created_at": record.created_at.isoformat(),
        **batch_changes(record),
    }


def batch_from_document(doc: Mapping[str, Any]) -> BatchRecord:
    return BatchRecord(
        id=doc["_id"],
        tenant=doc["tenant"],
        connector=doc["connector"],
        pipeline=doc["pipeline"],
        steps=tuple(doc["steps"]),
        batch_size=doc["batch_size"],
        total_items=doc["total_items"],
        chunk_count=doc["chunk_count"],
        current_batch=doc["current_batch"],
        workers=Workers(doc["workers"]),
        request_digest=doc["request_digest"],
        created_at=datetime.fromisoformat(doc["created_at"]),
        updated_at=datetime.fromisoformat(doc["updated_at"]),
        finished_at=_dt(doc.get("finished_at")),
        status=BatchStatus(doc["status"]),
        counts=dict(doc["counts"]),
        attempts=[
            BatchAttempt(
                number=a["number"],
                kind=AttemptKind(a["kind"]),
                started_at=datetime.fromisoformat(a["started_at"]),
                chunks=a["chunks"],
                items=a["items"],
                execution_id=a.get("execution_id"),
            )
            for a in doc["attempts"]
        ],
        cancel_reason=doc.get("cancel_reason"),
        version=doc["version"],
    )


class BatchStore:
    """Records of every tenant's batches; safe to share between threads.

    The chunk records this instance last wrote are kept for `recent`: the step that follows a
    write in an in-process engine (the next step of the chunk, or its first after the start)
    then needs no read. Only writers use them, and a write from a stale one fails its version
    check, so they are never what a reader sees."""

    def __init__(self, documents: DocumentStore, namespace: Namespace) -> None:
        self._documents = documents
        self._namespace = namespace
        self._ensured: set[str] = set()
        self._databases: dict[str, str] = {}
        self._lock = threading.Lock()
        self._recent: OrderedDict[tuple[str, str, int], ChunkRecord] = OrderedDict()

    def _remember(self, tenant: str, chunk: ChunkRecord) -> None:
        with self._lock:
            self._recent[(tenant, chunk.batch_id, chunk.chunk)] = chunk
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)

    def recent(self, tenant: str, batch_id: str, number: int) -> ChunkRecord | None:
        """The chunk record this instance last wrote, if kept (and no longer kept after)."""
        with self._lock:
            return self._recent.pop((tenant, batch_id, number), None)

    def database(self, tenant: str) -> str:
        found = self._databases.get(tenant)
        if found is None:  # checked once per tenant: every record write asks
            found = tenant_database(self._namespace, TenantName(tenant))
            self._databases[tenant] = found
        return found

    def ensure(self, tenant: str) -> None:
        """Make the two collections (once per process and tenant)."""
        database = self.database(tenant)
        with self._lock:
            if database in self._ensured:
                return
        self._documents.ensure_collection(
            database, BATCHES, (IndexSpec(fields=("connector",)), IndexSpec(fields=("status",)))
        )
        self._documents.ensure_collection(database, REQUESTS, (IndexSpec(fields=("batch_id",)),))
        with self._lock:
            self._ensured.add(database)

    def has_collections(self, tenant: str) -> bool:
        database = self.database(tenant)
        return BATCHES in self._documents.list_collections(database)

    def insert_batch(self, record: BatchRecord) -> None:
        """`DuplicateKey` when the tenant already has a batch of that id."""
        self._documents.insert(self.database(record.tenant), BATCHES, batch_to_document(record))

    def batch(self, tenant: str, batch_id: str) -> BatchRecord | None:
        doc = self._documents.get(self.database(tenant), BATCHES, batch_id)
        return None if doc is None else batch_from_document(doc)

    def batches(self, tenant: str, where: Mapping[str, Any] | None = None) -> list[BatchRecord]:
        docs = self._documents.find(self.database(tenant), BATCHES, where or {})
        return [batch_from_document(d) for d in docs]

    def save_batch(self, record: BatchRecord) -> bool:
        """Write the record if nobody else wrote it since it was read; False if they did."""
        before = record.version
        record.version = before + 1
        saved = self._documents.update(
            self.database(record.tenant),
            BATCHES,
            record.id,
            batch_changes(record),
            expected={"version": before},
        )
        if not saved:
            record.version = before
        return saved

    def insert_chunks(self, tenant: str, chunks: Sequence[ChunkRecord]) -> None:
        """Insert new chunk records, `_INSERTS` to a call (a thousand single inserts cost a
        transaction or a request each, and a batch's start writes them all at once; bounded,
        so one call never holds a large batch's records in memory, or SQLite's write lock
        for long). A chunk already recorded (by a start that crashed after writing it) is
        kept as it is."""
        database = self.database(tenant)
        for start in range(0, len(chunks), _INSERTS):
            group = chunks[start : start + _INSERTS]
            documents = [chunk_to_document(chunk) for chunk in group]
            refused = set(self._documents.insert_many(database, REQUESTS, documents))
            for chunk, document in zip(group, documents, strict=True):
                if document["_id"] not in refused:
                    self._remember(tenant, chunk)

    def chunk(self, tenant: str, batch_id: str, number: int) -> ChunkRecord | None:
        doc = self._documents.get(self.database(tenant), REQUESTS, chunk_id(batch_id, number))
        return None if doc is None else chunk_from_document(doc)

    def chunks(self, tenant: str, batch_id: str) -> list[ChunkRecord]:
        docs = self._documents.find(self.database(tenant), REQUESTS, {"batch_id": batch_id})
        return sorted((chunk_from_document(d) for d in docs), key=lambda c: c.chunk)

    def chunk_counts(self, tenant: str, batch_id: str) -> dict[int, dict[str, int]]:
        """Each chunk's counts, by chunk number, read without its items (a batch is refreshed
        from these on every read while it runs)."""
        docs = self._documents.find(
            self.database(tenant), REQUESTS, {"batch_id": batch_id}, fields=("chunk", "counts")
        )
        return {d["chunk"]: dict(d["counts"]) for d in docs}

    def save_chunk(self, tenant: str, chunk: ChunkRecord) -> bool:
        before = chunk.version
        chunk.version = before + 1
        saved = self._documents.update(
            self.database(tenant),
            REQUESTS,
            chunk_id(chunk.batch_id, chunk.chunk),
            chunk_changes(chunk),
            expected={"version": before},
        )
        if saved:
            self._remember(tenant, chunk)
        else:
            chunk.version = before
        return saved
