"""Batches and their requests as JSON: one shape for ``overlord -o json batches ...`` and the
API, so a script reads the same keys from either."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from overlord.domain.batch_records import BatchRecord, ItemView
    from overlord.services.batches import BatchView


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def batch_json(record: BatchRecord) -> dict[str, Any]:
    counts = record.counts
    return {
        "batch_id": record.id,
        "tenant": record.tenant,
        "connector": record.connector,
        "pipeline": record.pipeline,
        "steps": list(record.steps),
        "status": record.status.value,
        "total_items": record.total_items,
        "batch_size": record.batch_size,
        "chunks": record.chunk_count,
        "counts": {
            "succeeded": counts.get("succeeded", 0),
            "failed": counts.get("failed", 0),
            "pending": counts.get("pending", 0),
            "running": counts.get("running", 0),
            "cancelled": counts.get("cancelled", 0),
        },
        "attempts": [
            {
                "attempt": a.number,
                "kind": a.kind.value,
                "started_at": _iso(a.started_at),
                "chunks": a.chunks,
                "items": a.items,
                "execution_id": a.execution_id,
            }
            for a in record.attempts
        ],
        "cancel_reason": record.cancel_reason,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "finished_at": _iso(record.finished_at),
    }


def request_json(view: ItemView) -> dict[str, Any]:
    return {
        "item_id": view.item_id,
        "status": view.status.value,
        "step": view.step,
        "error": view.error,
        "attempts": view.attempts,
        "started_at": _iso(view.started_at),
        "finished_at": _iso(view.finished_at),
    }


def batch_view_json(view: BatchView) -> dict[str, Any]:
    return {
        **batch_json(view.batch),
        "interrupted": view.interrupted,
        "requests": [request_json(r) for r in view.requests],
        "next_page": view.next_page,
    }
