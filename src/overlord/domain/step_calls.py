"""What one pipeline step receives for one chunk, on every backend alike.

On AWS the step Lambda's event is `StepCall.to_payload()`, so a step function runs unchanged
locally and in the cloud. A chunk travels in one of two ways: *inline*, its item ids in the call
(fine for a few small items), or *by reference*, as a `BatchRef` and a chunk number whose items
the batch's records hold; a batch's chunks always go by reference, since Step Functions limits
an execution's input and every state's data to 256 KiB and a batch may hold a million ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

from overlord.domain.errors import InvalidInput


@frozen(kw_only=True)
class BatchRef:
    """Whose batch, and which attempt of it (a retry or resume is a new attempt)."""

    tenant: str
    connector: str
    batch_id: str
    attempt: int

    def to_payload(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "connector": self.connector,
            "batch_id": self.batch_id,
            "attempt": self.attempt,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], what: str) -> BatchRef:
        try:
            tenant, connector = payload["tenant"], payload["connector"]
            batch_id, attempt = payload["batch_id"], payload["attempt"]
        except KeyError as exc:
            raise InvalidInput(f"{what}: missing {exc.args[0]!r}") from None
        if not all(isinstance(v, str) and v for v in (tenant, connector, batch_id)):
            raise InvalidInput(f"{what}: tenant, connector and batch_id must be strings")
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
            raise InvalidInput(f"{what}: attempt must be an integer >= 0, got {attempt!r:.40}")
        return cls(tenant=tenant, connector=connector, batch_id=batch_id, attempt=attempt)


@frozen(kw_only=True)
class StepCall:
    """One step over one chunk. ``item_ids`` is empty when the chunk goes by reference
    (``batch`` set): the step reads chunk ``chunk`` of that batch attempt from the records."""

    pipeline: str
    step: str
    execution: str
    chunk: int
    item_ids: tuple[str, ...]
    batch: BatchRef | None = None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "pipeline": self.pipeline,
            "step": self.step,
            "execution": self.execution,
            "chunk": self.chunk,
        }
        if self.batch is None:
            payload["items"] = list(self.item_ids)
        else:
            payload.update(self.batch.to_payload())
        return payload

    @classmethod
    def from_payload(cls, payload: object) -> StepCall:
        """Parse the document a state machine sends; `InvalidInput` for anything else."""
        if not isinstance(payload, Mapping):
            raise InvalidInput("step call: expected a JSON object")
        try:
            pipeline, step, execution = payload["pipeline"], payload["step"], payload["execution"]
            chunk = payload["chunk"]
        except KeyError as exc:
            raise InvalidInput(f"step call: missing {exc.args[0]!r}") from None
        batch = BatchRef.from_payload(payload, "step call") if "batch_id" in payload else None
        items = payload.get("items", [] if batch is not None else None)
        if items is None:
            raise InvalidInput("step call: missing 'items'")
        texts = (pipeline, step, execution)
        if not all(isinstance(v, str) for v in texts) or not isinstance(items, list):
            raise InvalidInput("step call: malformed pipeline, step, execution or items")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 0:
            raise InvalidInput(f"step call: chunk must be an integer >= 0, got {chunk!r:.40}")
        if not all(isinstance(item, str) for item in items):
            raise InvalidInput("step call: every item id must be a string")
        return cls(
            pipeline=pipeline,
            step=step,
            execution=execution,
            chunk=chunk,
            item_ids=tuple(items),
            batch=batch,
        )


FINISH_ACTION = "finish"


@frozen(kw_only=True)
class FinishCall:
    """Sent once by a batch's state machine after its chunks, as the original system's last
    Lambda was: fold what the machinery knows (chunks whose step Lambda failed for good) into
    the records and settle the batch. ``outcomes`` are chunk outcome documents
    (`overlord.domain.chunk_outcomes`); ``failure`` (``{"Error", "Cause"}``) is there when the
    map over the chunks failed as a whole."""

    pipeline: str
    execution: str
    batch: BatchRef
    outcomes: tuple[Mapping[str, Any], ...] = ()
    failure: Mapping[str, Any] | None = None

    def to_payload(self) -> dict[str, Any]:
        payload = {
            "action": FINISH_ACTION,
            "pipeline": self.pipeline,
            "execution": self.execution,
            **self.batch.to_payload(),
            "outcomes": [dict(o) for o in self.outcomes],
        }
        if self.failure is not None:
            payload["failure"] = dict(self.failure)
        return payload

    @classmethod
    def from_payload(cls, payload: object) -> FinishCall:
        if not isinstance(payload, Mapping) or payload.get("action") != FINISH_ACTION:
            raise InvalidInput(f"finish call: expected a JSON object with action {FINISH_ACTION}")
        pipeline, execution = payload.get("pipeline"), payload.get("execution")
        if not isinstance(pipeline, str) or not isinstance(execution, str):
            raise InvalidInput("finish call: pipeline and execution must be strings")
        outcomes = payload.get("outcomes", [])
        failure = payload.get("failure")
        if not isinstance(outcomes, list) or not isinstance(failure, Mapping | None):
            raise InvalidInput("finish call: outcomes must be a list and failure an object")
        return cls(
            pipeline=pipeline,
            execution=execution,
            batch=BatchRef.from_payload(payload, "finish call"),
            outcomes=tuple(o for o in outcomes if isinstance(o, Mapping)),
            failure=failure,
        )
