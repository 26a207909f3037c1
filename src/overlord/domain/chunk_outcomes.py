"""The document each chunk of a pipeline execution ends with, and the item outcomes read from it.

A Step Functions execution reports its chunks only as its output (one document per chunk, written
by the state machine's last states); the local runner stores the very same documents as chunks
finish. One shape and one reader keep the backends from drifting apart, and the output stays
small: a document names its chunk by index, never repeating the item ids the input already holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

from overlord.domain.batches import RequestStatus


@frozen(kw_only=True)
class ItemOutcome:
    """How one item ended; ``step`` and ``error`` say where and why it failed."""

    item_id: str
    status: RequestStatus
    step: str | None = None
    error: str | None = None


@frozen(kw_only=True)
class ChunkOutcome:
    """How one chunk ended as the machinery saw it: every step ran (SUCCEEDED), or ``step``
    failed for the chunk as a whole with ``error`` (FAILED). For a chunk that goes by
    reference, ``chunk`` is its number in the batch."""

    chunk: int
    status: RequestStatus
    step: str | None = None
    error: str | None = None


def chunk_outcomes(documents: Iterable[object]) -> tuple[ChunkOutcome, ...]:
    """The chunk documents that can be read, in order; junk is skipped, as in `item_outcomes`.

    >>> chunk_outcomes([chunk_succeeded(4), {"chunk": "x"}])
    (ChunkOutcome(chunk=4, status=<RequestStatus.SUCCEEDED: 'SUCCEEDED'>, step=None, error=None),)
    """
    found: list[ChunkOutcome] = []
    for document in documents:
        if not isinstance(document, Mapping):
            continue
        index = document.get("chunk")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            continue
        status = document.get("status")
        if status == RequestStatus.SUCCEEDED.value:
            found.append(ChunkOutcome(chunk=index, status=RequestStatus.SUCCEEDED))
        elif status == RequestStatus.FAILED.value:
            step = document.get("step")
            found.append(
                ChunkOutcome(
                    chunk=index,
                    status=RequestStatus.FAILED,
                    step=step if isinstance(step, str) else None,
                    error=failure_text(document.get("failure")),
                )
            )
    return tuple(found)


def chunk_succeeded(chunk: int) -> dict[str, Any]:
    """The document of a chunk that went through every step."""
    return {"chunk": chunk, "status": RequestStatus.SUCCEEDED.value}


def chunk_failed(chunk: int, step: str, error: str, cause: str = "") -> dict[str, Any]:
    """The document of a chunk that ``step`` failed, in Step Functions' ``{"Error", "Cause"}``."""
    return {
        "chunk": chunk,
        "status": RequestStatus.FAILED.value,
        "step": step,
        "failure": {"Error": error, "Cause": cause},
    }


def item_outcomes(
    chunks: Sequence[Sequence[str]], documents: Iterable[object]
) -> tuple[ItemOutcome, ...]:
    """Per-item outcomes, in document order; unreadable documents are skipped, since an
    execution's output is data from outside and describing it must not fail on it.

    >>> item_outcomes([["a", "b"], ["c"]], [chunk_failed(1, "load", "ValueError", "bad")])
    (ItemOutcome(item_id='c', status=<RequestStatus.FAILED: 'FAILED'>, step='load', \
error='ValueError: bad'),)
    """
    found: list[ItemOutcome] = []
    for document in documents:
        if not isinstance(document, Mapping):
            continue
        index = document.get("chunk")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(chunks):
            continue
        status = document.get("status")
        if status == RequestStatus.SUCCEEDED.value:
            found.extend(
                ItemOutcome(item_id=item, status=RequestStatus.SUCCEEDED) for item in chunks[index]
            )
        elif status == RequestStatus.FAILED.value:
            step = document.get("step")
            error = failure_text(document.get("failure"))
            found.extend(
                ItemOutcome(
                    item_id=item,
                    status=RequestStatus.FAILED,
                    step=step if isinstance(step, str) else None,
                    error=error,
                )
                for item in chunks[index]
            )
    return tuple(found)


def failure_text(failure: object) -> str:
    """One line from ``{"Error", "Cause"}``. A Lambda's cause is itself JSON carrying
    ``errorMessage``, which is the part a person wants to read.

    >>> failure_text({"Error": "KeyError", "Cause": '{"errorMessage": "no id", "trace": []}'})
    'KeyError: no id'
    """
    if not isinstance(failure, Mapping):
        return "unknown error"
    error = str(failure.get("Error") or "unknown error")
    cause = failure.get("Cause") or ""
    if isinstance(cause, str) and cause.startswith("{"):
        try:
            message = json.loads(cause).get("errorMessage")
        except (ValueError, AttributeError):
            message = None
        if isinstance(message, str):
            cause = message
    return f"{error}: {cause}" if cause else error
