"""Batches: a list of item ids driven in chunks through a pipeline of task steps.

The original system took ``{"batchId", "totalItems", "batchSize", "currentBatch", "itemIds"}``;
`Batch.from_request_body` accepts that body unchanged so existing callers keep working. Item
outcomes come back from pipeline workers late or twice (Step Functions retries, racing threads),
so an item only moves forward, and a finished item reopens only through `Batch.retry_failed`,
which starts a new attempt so that a late outcome of the old attempt is recognised and ignored.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from attrs import define, evolve, field, frozen

from overlord.domain.errors import IllegalTransition, InvalidInput, NotFound
from overlord.domain.names import slug

# A batch id names a Step Functions execution (at most 80 characters, no spaces or symbols) and
# a storage folder, so it is held to the characters both accept.
_BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
_BODY_FIELDS = ("batchId", "totalItems", "batchSize", "currentBatch", "itemIds")


class RequestStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    # Never ran (or never finished) because the batch was cancelled first.
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self in (RequestStatus.SUCCEEDED, RequestStatus.FAILED, RequestStatus.CANCELLED)


class BatchStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    PARTIALLY_FAILED = "PARTIALLY_FAILED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@frozen(kw_only=True)
class Request:
    """One item of a batch as it stands; the batch replaces it on every change."""

    item_id: str
    status: RequestStatus = RequestStatus.PENDING
    error: str | None = None
    attempt: int = 0
    updated_at: datetime | None = None


@frozen
class BatchCounts:
    """``pending`` items have not started; ``total`` is the sum of the others."""

    total: int
    pending: int
    running: int
    succeeded: int
    failed: int
    cancelled: int = 0


def _int(key: str, value: object, low: int, high: float = float("inf")) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        upper = "" if high == float("inf") else f" and <= {high}"
        raise InvalidInput(f"{key}: expected an integer >= {low}{upper}, got {value!r}")
    return value


def check_batch_id(batch_id: object) -> str:
    if not isinstance(batch_id, str) or not _BATCH_ID.fullmatch(batch_id):
        raise InvalidInput(
            f"batchId: {str(batch_id)[:40]!r} must be 1-80 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return batch_id


def check_batch(
    batch_id: object, item_ids: object, batch_size: object, current_batch: object = 0
) -> None:
    """Refuse a batch id, item list, chunk size or next chunk that no backend could run."""
    check_batch_id(batch_id)
    if isinstance(item_ids, str) or not isinstance(item_ids, Sequence) or not item_ids:
        raise InvalidInput("itemIds: expected a non-empty list of item ids")
    # Checked in C first, as a list of distinct non-blank strings; only a list that fails is
    # walked item by item, to name the first item at fault.
    fine = set(map(type, item_ids)) == {str} and all(map(str.strip, item_ids))
    if not fine or len(set(item_ids)) != len(item_ids):
        _first_bad_item(item_ids)
    size = _int("batchSize", batch_size, 1)
    _int("currentBatch", current_batch, 0, -(-len(item_ids) // size))


def _first_bad_item(item_ids: Sequence[object]) -> None:
    seen: set[str] = set()
    for i, item in enumerate(item_ids):
        if not isinstance(item, str) or not item.strip():
            raise InvalidInput(f"itemIds[{i}]: expected a non-empty string, got {item!r:.60}")
        if item in seen:
            raise InvalidInput(f"itemIds[{i}]: {item!r:.60} appears twice")
        seen.add(item)


def check_pipeline(pipeline: object) -> tuple[str, ...]:
    """Task names, distinct slugs, in order."""
    if isinstance(pipeline, str) or not isinstance(pipeline, Sequence) or not pipeline:
        raise InvalidInput("pipeline: expected a non-empty list of task names")
    tasks = tuple(slug("task", task) for task in pipeline)
    if len(set(tasks)) != len(tasks):
        raise InvalidInput(f"pipeline: a task appears twice in {list(tasks)}")
    return tasks


def read_request_body(body: object, extra: Sequence[str] = ()) -> dict[str, Any]:
    """The original body's fields as `Batch.create` arguments (``currentBatch`` defaults to
    0), checked; ``extra`` names further fields a caller accepts and reads itself."""
    if not isinstance(body, Mapping):
        raise InvalidInput("batch request: expected a JSON object")
    unknown = sorted(set(map(str, body)) - set(_BODY_FIELDS) - set(extra))
    if unknown:
        raise InvalidInput(f"batch request: unknown field {unknown[0]!r:.60}")
    for key in ("batchId", "totalItems", "batchSize", "itemIds"):
        if key not in body:
            raise InvalidInput(f"batch request: missing {key!r}")
    items = body["itemIds"]
    if not isinstance(items, list):
        raise InvalidInput("itemIds: expected a list of item ids")
    total = _int("totalItems", body["totalItems"], 0)
    if total != len(items):
        raise InvalidInput(f"totalItems: is {total} but itemIds holds {len(items)} items")
    fields = {
        "batch_id": body["batchId"],
        "item_ids": items,
        "batch_size": body["batchSize"],
        "current_batch": body.get("currentBatch", 0),
    }
    check_batch(**fields)
    return fields


@define(kw_only=True)
class Batch:
    """An entity: items change only through the ``mark_*`` methods and `retry_failed`."""

    id: str
    item_ids: tuple[str, ...]
    batch_size: int
    pipeline: tuple[str, ...]
    requests: dict[str, Request]
    created_at: datetime
    updated_at: datetime
    current_batch: int = 0
    # Derived from the items, never given, so it cannot disagree with them.
    status: BatchStatus = field(init=False, default=BatchStatus.RUNNING)
    # Kept up to date on every change, so marking an item of a large batch is O(1).
    _tally: Counter[RequestStatus] = field(init=False, factory=Counter, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._tally.update(r.status for r in self.requests.values())
        self._settle()

    @classmethod
    def create(
        cls,
        *,
        batch_id: str,
        item_ids: Sequence[str],
        batch_size: int,
        pipeline: Sequence[str],
        at: datetime,
        current_batch: int = 0,
    ) -> Batch:
        """Validate and assemble a new batch, every item PENDING."""
        check_batch(batch_id, item_ids, batch_size, current_batch)
        tasks = check_pipeline(pipeline)
        return cls(
            id=batch_id,
            item_ids=tuple(item_ids),
            batch_size=batch_size,
            pipeline=tasks,
            requests={item: Request(item_id=item) for item in item_ids},
            created_at=at,
            updated_at=at,
            current_batch=current_batch,
        )

    @classmethod
    def from_request_body(cls, body: object, at: datetime, *, pipeline: Sequence[str]) -> Batch:
        """Accept the original system's request body as is.

        ``totalItems`` must equal the number of ``itemIds``: the original derived its chunk
        count from it, so a mismatch means a truncated or corrupted request, and guessing which
        number is right could silently skip items. ``currentBatch`` (the 0-based chunk the
        original was about to run) defaults to 0.

        >>> from datetime import UTC, datetime
        >>> body = {"batchId": "b1", "totalItems": 3, "batchSize": 2, "currentBatch": 0,
        ...         "itemIds": ["a", "b", "c"]}
        >>> Batch.from_request_body(body, datetime(2026, 1, 1, tzinfo=UTC),
        ...                         pipeline=["fetch", "load"]).chunks()
        (('a', 'b'), ('c',))
        """
        fields = read_request_body(body)
        return cls.create(**fields, pipeline=pipeline, at=at)

    def to_request_body(self) -> dict[str, Any]:
        """The original system's body for this batch (its next chunk to run included)."""
        return {
            "batchId": self.id,
            "totalItems": len(self.item_ids),
            "batchSize": self.batch_size,
            "currentBatch": self.current_batch,
            "itemIds": list(self.item_ids),
        }

    def chunks(self) -> tuple[tuple[str, ...], ...]:
        """The items in submission order, ``batch_size`` at a time (the last may be shorter)."""
        size = self.batch_size
        return tuple(self.item_ids[i : i + size] for i in range(0, len(self.item_ids), size))

    def request(self, item_id: str) -> Request:
        try:
            return self.requests[item_id]
        except KeyError:
            raise NotFound(f"batch {self.id} has no item {item_id!r}") from None

    @property
    def counts(self) -> BatchCounts:
        t = self._tally
        return BatchCounts(
            total=len(self.requests),
            pending=t[RequestStatus.PENDING],
            running=t[RequestStatus.RUNNING],
            succeeded=t[RequestStatus.SUCCEEDED],
            failed=t[RequestStatus.FAILED],
            cancelled=t[RequestStatus.CANCELLED],
        )

    @property
    def finished(self) -> bool:
        return self.status is not BatchStatus.RUNNING

    def mark_running(self, item_id: str, *, at: datetime, attempt: int | None = None) -> bool:
        """Record that an item started; a late start of a finished item changes nothing."""
        return self._move(item_id, RequestStatus.RUNNING, None, at, attempt)

    def mark_succeeded(self, item_id: str, *, at: datetime, attempt: int | None = None) -> bool:
        return self._move(item_id, RequestStatus.SUCCEEDED, None, at, attempt)

    def mark_failed(
        self, item_id: str, error: str, *, at: datetime, attempt: int | None = None
    ) -> bool:
        return self._move(item_id, RequestStatus.FAILED, error, at, attempt)

    def retry_failed(self, *, at: datetime) -> tuple[str, ...]:
        """Move every FAILED item back to PENDING in a new attempt; return their ids.

        Items that succeeded, or are still pending or running, are left alone.
        """
        retried = tuple(i for i in self.item_ids if self.requests[i].status is RequestStatus.FAILED)
        for item_id in retried:
            old = self.requests[item_id]
            self._replace(
                evolve(
                    old,
                    status=RequestStatus.PENDING,
                    error=None,
                    attempt=old.attempt + 1,
                    updated_at=at,
                ),
                at,
            )
        return retried

    def _move(
        self,
        item_id: str,
        status: RequestStatus,
        error: str | None,
        at: datetime,
        attempt: int | None,
    ) -> bool:
        """Apply one outcome if it is news; duplicates and late ones return False."""
        current = self.request(item_id)
        attempt = current.attempt if attempt is None else attempt
        if attempt < current.attempt:
            return False  # an outcome of an attempt that has since been retried
        if attempt > current.attempt:
            raise IllegalTransition(
                f"item {item_id!r} of batch {self.id} is on attempt {current.attempt}, "
                f"not {attempt}"
            )
        if current.status.finished:
            if status in (RequestStatus.RUNNING, current.status):
                return False
            raise IllegalTransition(
                f"item {item_id!r} of batch {self.id} already {current.status}; "
                f"cannot mark it {status}"
            )
        if status is current.status:
            return False
        self._replace(evolve(current, status=status, error=error, updated_at=at), at)
        return True

    def _replace(self, new: Request, at: datetime) -> None:
        self._tally[self.requests[new.item_id].status] -= 1
        self._tally[new.status] += 1
        self.requests[new.item_id] = new
        self.updated_at = max(self.updated_at, at)
        self._settle()

    def _settle(self) -> None:
        c = self.counts
        if c.pending or c.running:
            self.status = BatchStatus.RUNNING
        elif c.cancelled:
            self.status = BatchStatus.CANCELLED
        elif not c.failed:
            self.status = BatchStatus.SUCCEEDED
        elif not c.succeeded:
            self.status = BatchStatus.FAILED
        else:
            self.status = BatchStatus.PARTIALLY_FAILED
