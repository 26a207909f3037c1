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
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from attrs import field, frozen

from overlord.domain.batches import Batch, RequestStatus
from overlord.domain.chunk_outcomes import ChunkOutcome, ItemOutcome
from overlord.domain.errors import InvalidInput
from overlord.domain.names import ConnectorName, TenantName, slug
from overlord.domain.step_calls import BatchRef, StepCall

__all__ = [
    "BatchRef",
    "ChunkOutcome",
    "ExecutionRequest",
    "ExecutionState",
    "ExecutionStatus",
    "ItemOutcome",
    "PipelineSpec",
    "StepCall",
    "execution_name",
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


def _optional_positive(value: object) -> int | None:
    return None if value is None else _positive("distributed from chunks", value)


def _percentage(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InvalidInput(f"tolerated failure percentage: expected 0-100, got {value!r:.40}")
    return float(value)


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
    # Batch pipelines: chunks go by reference (`StepCall.batch`) and, on Step Functions, a
    # last state settles the batch; from ``distributed_from_chunks`` chunks on, a Distributed
    # Map reads the chunk list from S3 and tolerates that share of failed chunks.
    by_reference: bool = False
    distributed_from_chunks: int | None = field(default=None, converter=_optional_positive)
    tolerated_failure_percentage: float = field(default=0.0, converter=_percentage)


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
    # By reference (see `by_reference`): the chunk numbers to run, and on Step Functions,
    # optionally, where the same list is stored in S3 as a JSON array of ``{"chunk": n}``.
    chunk_refs: tuple[int, ...] = ()
    chunk_list: tuple[str, str] | None = None

    @classmethod
    def by_reference(
        cls,
        *,
        pipeline: PipelineSpec,
        batch: BatchRef,
        chunks: Sequence[int],
        chunk_list: tuple[str, str] | None = None,
    ) -> ExecutionRequest:
        """Run chunks of a batch whose items its records hold: each step is called with the
        batch and a chunk number (`StepCall.batch`), never with item ids.

        >>> spec = PipelineSpec(name="p", steps=("fetch",), chunk_size=5, by_reference=True)
        >>> ref = BatchRef(tenant="acme", connector="orders", batch_id="b-1", attempt=1)
        >>> ExecutionRequest.by_reference(pipeline=spec, batch=ref, chunks=[2, 0]).to_input()
        ... # doctest: +NORMALIZE_WHITESPACE
        {'pipeline': 'p', 'tenant': 'acme', 'connector': 'orders', 'batch_id': 'b-1',
         'attempt': 1, 'chunks': [{'chunk': 2}, {'chunk': 0}]}
        """
        if not pipeline.by_reference:
            raise InvalidInput(f"pipeline {pipeline.name} takes its chunks inline")
        refs = tuple(chunks)
        if not refs or len(set(refs)) != len(refs):
            raise InvalidInput("chunks: expected distinct chunk numbers")
        return cls(
            pipeline=pipeline.name,
            name=execution_name(
                TenantName(batch.tenant),
                ConnectorName(batch.connector),
                batch.batch_id,
                batch.attempt,
            ),
            tenant=batch.tenant,
            connector=batch.connector,
            batch_id=batch.batch_id,
            attempt=batch.attempt,
            chunks=(),
            chunk_refs=refs,
            chunk_list=chunk_list,
        )

    @property
    def batch(self) -> BatchRef:
        return BatchRef(
            tenant=self.tenant,
            connector=self.connector,
            batch_id=self.batch_id,
            attempt=self.attempt,
        )

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_refs) if self.chunk_refs else len(self.chunks)

    def step_call(self, step: str, index: int) -> StepCall:
        """The call for the ``index``-th chunk of this execution (by reference: its number)."""
        if self.chunk_refs:
            return StepCall(
                pipeline=self.pipeline,
                step=step,
                execution=self.name,
                chunk=self.chunk_refs[index],
                item_ids=(),
                batch=self.batch,
            )
        return StepCall(
            pipeline=self.pipeline,
            step=step,
            execution=self.name,
            chunk=index,
            item_ids=self.chunks[index],
        )

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
        """The execution's input document: the state machine maps over ``chunks``, or over
        the S3 object ``chunk_list`` names."""
        document: dict[str, Any] = {
            "pipeline": self.pipeline,
            "tenant": self.tenant,
            "connector": self.connector,
            "batch_id": self.batch_id,
            "attempt": self.attempt,
        }
        if self.chunk_list is not None:
            bucket, key = self.chunk_list
            document["chunk_list"] = {"bucket": bucket, "key": key}
        elif self.chunk_refs:
            document["chunks"] = [{"chunk": n} for n in self.chunk_refs]
        else:
            document["chunks"] = [list(chunk) for chunk in self.chunks]
        return document


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
    # Every chunk that finished, as far as the backend knows; for chunks by reference, the
    # only outcomes there are (their items are in the batch's records).
    chunks: tuple[ChunkOutcome, ...] = ()

    @property
    def failed_items(self) -> tuple[str, ...]:
        return tuple(o.item_id for o in self.outcomes if o.status is RequestStatus.FAILED)
