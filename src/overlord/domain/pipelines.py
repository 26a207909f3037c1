"""Batch pipelines as executions: what runs (`PipelineSpec`), one run (`ExecutionRequest`), how a
run stands (`ExecutionState`), and the Amazon States Language that runs it on Step Functions.

Every backend runs a pipeline the same way: the items in chunks, each chunk through the steps in
order, a step receiving one `StepCall`. A step that fails ends its own chunk only (its items are
FAILED with that step's error) and the other chunks carry on, so an execution that got to the end
SUCCEEDED even when some items failed: PARTIALLY_FAILED is the batch's verdict, drawn from the
per-item outcomes, not the execution's. An execution FAILS only when the machinery itself breaks.

The execution name is a digest of (tenant, connector, batch id, attempt), so starting the same
batch twice names the same execution, which every backend turns into "return the first one".
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from attrs import field, frozen

from overlord.domain.batches import Batch, RequestStatus
from overlord.domain.chunk_outcomes import ItemOutcome
from overlord.domain.errors import InvalidInput
from overlord.domain.names import ConnectorName, TenantName, slug
from overlord.domain.state_machines import StepTargetKind, state_machine_definition

__all__ = [
    "ExecutionRequest",
    "ExecutionState",
    "ExecutionStatus",
    "ItemOutcome",
    "PipelineSpec",
    "StepCall",
    "StepTargetKind",
    "execution_name",
    "state_machine_definition",
]

# Step Functions names: 1-80 characters; these are also safe as file names and in every ARN.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
_DIGEST_LENGTH = 16
MAX_NAME_LENGTH = 80
MAX_CONCURRENCY = 1000


def _check_name(kind: str, value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput(
            f"invalid {kind} name {str(value)[:40]!r}: use 1-{MAX_NAME_LENGTH} letters, digits, "
            "'-' or '_', starting with a letter or digit"
        )
    return value


def _positive(kind: str, value: object, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{kind}: expected a positive integer, got {value!r}")
    if high is not None and value > high:
        raise InvalidInput(f"{kind}: at most {high}, got {value}")
    return value


def _pipeline_name(value: object) -> str:
    return _check_name("pipeline", value)


def _chunk_size(value: object) -> int:
    return _positive("chunk size", value)


def _max_concurrency(value: object) -> int:
    return _positive("max concurrency", value, MAX_CONCURRENCY)


def _steps(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise InvalidInput("pipeline steps: expected a non-empty list of task names")
    steps = tuple(slug("task", step) for step in value)
    if len(set(steps)) != len(steps):
        raise InvalidInput(f"pipeline steps: a task appears twice in {list(steps)}")
    return steps


@frozen(kw_only=True)
class PipelineSpec:
    """A pipeline as a backend deploys it (on AWS, one state machine named ``name``).

    ``chunk_size`` is the default when a caller gives bare item ids (a batch brings its own);
    ``max_concurrency`` caps the chunks in flight, so a large batch cannot exhaust the step
    Lambda's concurrency or the local machine.
    """

    name: str = field(converter=_pipeline_name)
    steps: tuple[str, ...] = field(converter=_steps)
    chunk_size: int = field(converter=_chunk_size)
    max_concurrency: int = field(default=10, converter=_max_concurrency)


def execution_name(
    tenant: TenantName, connector: ConnectorName, batch_id: str, attempt: int = 0
) -> str:
    """A Step Functions execution name for this batch attempt: readable, at most 80 characters.

    The digest makes it unique (tenant and connector names both contain hyphens, so the readable
    part alone could collide); the readable part is cut to fit and only helps people.

    >>> execution_name(TenantName("acme"), ConnectorName("orders"), "b.1")[:-17]
    'acme-orders-b_1'
    """
    material = json.dumps([tenant.value, connector.value, batch_id, attempt])
    digest = hashlib.sha256(material.encode("utf-8")).hexdigest()[:_DIGEST_LENGTH]
    readable = f"{tenant}-{connector}-{batch_id}" + (f"-r{attempt}" if attempt else "")
    readable = re.sub(r"[^A-Za-z0-9_-]", "_", readable)[: MAX_NAME_LENGTH - _DIGEST_LENGTH - 1]
    return f"{readable}-{digest}"


@frozen(kw_only=True)
class ExecutionRequest:
    """One run of a pipeline over some items of a batch; build it with `create` or `for_batch`."""

    pipeline: str
    name: str
    tenant: str
    connector: str
    batch_id: str
    attempt: int
    chunks: tuple[tuple[str, ...], ...]

    @classmethod
    def create(
        cls,
        *,
        pipeline: PipelineSpec,
        tenant: TenantName,
        connector: ConnectorName,
        batch_id: str,
        item_ids: Sequence[str],
        attempt: int = 0,
        chunk_size: int | None = None,
    ) -> ExecutionRequest:
        """Split ``item_ids`` into chunks (``pipeline.chunk_size`` unless given).

        >>> spec = PipelineSpec(name="acme-orders", steps=("fetch", "load"), chunk_size=2)
        >>> request = ExecutionRequest.create(pipeline=spec, tenant=TenantName("acme"),
        ...     connector=ConnectorName("orders"), batch_id="b-1", item_ids=["a", "b", "c"])
        >>> request.chunks
        (('a', 'b'), ('c',))
        """
        if isinstance(item_ids, str) or not isinstance(item_ids, Sequence) or not item_ids:
            raise InvalidInput("item ids: expected a non-empty list")
        if any(not isinstance(item, str) or not item for item in item_ids):
            raise InvalidInput("item ids: every item id must be a non-empty string")
        if len(set(item_ids)) != len(item_ids):
            raise InvalidInput("item ids: an item appears twice")
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
            raise InvalidInput(f"attempt: expected an integer >= 0, got {attempt!r}")
        size = _positive("chunk size", pipeline.chunk_size if chunk_size is None else chunk_size)
        items = tuple(item_ids)
        return cls(
            pipeline=pipeline.name,
            name=execution_name(tenant, connector, batch_id, attempt),
            tenant=tenant.value,
            connector=connector.value,
            batch_id=batch_id,
            attempt=attempt,
            chunks=tuple(items[i : i + size] for i in range(0, len(items), size)),
        )

    @classmethod
    def for_batch(
        cls,
        *,
        pipeline: PipelineSpec,
        tenant: TenantName,
        connector: ConnectorName,
        batch: Batch,
    ) -> ExecutionRequest:
        """The batch's PENDING items, in the batch's own chunk size.

        After `Batch.retry_failed` the retried items are the pending ones and their attempt has
        grown, so a retry names a new execution while a repeated start of the same round does
        not.
        """
        if batch.pipeline != pipeline.steps:
            raise InvalidInput(
                f"batch {batch.id} runs {list(batch.pipeline)}, "
                f"but pipeline {pipeline.name} runs {list(pipeline.steps)}"
            )
        pending = [
            batch.requests[item]
            for item in batch.item_ids
            if batch.requests[item].status is RequestStatus.PENDING
        ]
        if not pending:
            raise InvalidInput(f"batch {batch.id} has no pending items to run")
        return cls.create(
            pipeline=pipeline,
            tenant=tenant,
            connector=connector,
            batch_id=batch.id,
            item_ids=[r.item_id for r in pending],
            attempt=max(r.attempt for r in pending),
            chunk_size=batch.batch_size,
        )

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item for chunk in self.chunks for item in chunk)

    def to_input(self) -> dict[str, Any]:
        """The execution's input document (the state machine maps over ``chunks``)."""
        return {
            "pipeline": self.pipeline,
            "tenant": self.tenant,
            "connector": self.connector,
            "batch_id": self.batch_id,
            "attempt": self.attempt,
            "chunks": [list(chunk) for chunk in self.chunks],
        }


@frozen(kw_only=True)
class StepCall:
    """What one step receives for one chunk: the same document on every backend (the step
    Lambda's event on AWS), so a step function runs unchanged locally and in the cloud."""

    pipeline: str
    step: str
    execution: str
    chunk: int
    item_ids: tuple[str, ...]

    def to_payload(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "step": self.step,
            "execution": self.execution,
            "chunk": self.chunk,
            "items": list(self.item_ids),
        }

    @classmethod
    def from_payload(cls, payload: object) -> StepCall:
        """Parse the document a state machine sends; `InvalidInput` for anything else."""
        if not isinstance(payload, Mapping):
            raise InvalidInput("step call: expected a JSON object")
        try:
            pipeline, step, execution = payload["pipeline"], payload["step"], payload["execution"]
            chunk, items = payload["chunk"], payload["items"]
        except KeyError as exc:
            raise InvalidInput(f"step call: missing {exc.args[0]!r}") from None
        texts = (pipeline, step, execution)
        if not all(isinstance(v, str) for v in texts) or not isinstance(items, list):
            raise InvalidInput("step call: malformed pipeline, step, execution or items")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 0:
            raise InvalidInput(f"step call: chunk must be an integer >= 0, got {chunk!r}")
        if not all(isinstance(item, str) for item in items):
            raise InvalidInput("step call: every item id must be a string")
        return cls(
            pipeline=pipeline, step=step, execution=execution, chunk=chunk, item_ids=tuple(items)
        )


class ExecutionStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"

    @property
    def finished(self) -> bool:
        return self is not ExecutionStatus.RUNNING


@frozen(kw_only=True)
class ExecutionState:
    """An execution as its backend reports it. ``outcomes`` holds the items whose chunk has
    finished, as far as the backend knows (Step Functions tells them only at the end)."""

    execution_id: str
    name: str
    pipeline: str
    status: ExecutionStatus
    started_at: datetime
    stopped_at: datetime | None = None
    error: str | None = None
    outcomes: tuple[ItemOutcome, ...] = ()

    @property
    def failed_items(self) -> tuple[str, ...]:
        return tuple(o.item_id for o in self.outcomes if o.status is RequestStatus.FAILED)
