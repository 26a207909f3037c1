"""How the in-process backends (memory, local) run a pipeline and record an execution.

Both call the step functions themselves, so they share one loop (`run_chunk`) and one record:
a plain JSON-able dict that the memory backend keeps in a dict and the local backend keeps in a
file. Chunks end with the same documents the Step Functions state machine writes
(`overlord.domain.chunk_outcomes`), so every backend's outcomes are read by the same code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from overlord.domain.chunk_outcomes import (
    chunk_failed,
    chunk_outcomes,
    chunk_succeeded,
    item_outcomes,
)
from overlord.domain.errors import InvalidInput
from overlord.domain.pipelines import (
    ExecutionRequest,
    ExecutionState,
    ExecutionStatus,
    PipelineSpec,
)
from overlord.ports.workflow import StepFunction

_ID = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]{0,79})/([A-Za-z0-9][A-Za-z0-9_-]{0,79})")


def execution_id(pipeline: str, name: str) -> str:
    """Pipeline and execution name: unique, as a Step Functions execution ARN is."""
    return f"{pipeline}/{name}"


def parse_execution_id(value: str) -> tuple[str, str] | None:
    """(pipeline, name), or None for anything these backends never gave out (which also keeps
    a crafted id from naming a file outside the local home)."""
    found = _ID.fullmatch(value) if isinstance(value, str) else None
    return None if found is None else (found.group(1), found.group(2))


def check_steps(spec: PipelineSpec, steps: Mapping[str, StepFunction]) -> None:
    """Refuse a pipeline whose steps cannot all run here, before any execution depends on it."""
    missing = [step for step in spec.steps if step not in steps]
    if missing:
        raise InvalidInput(
            f"pipeline {spec.name}: no step function registered for {', '.join(missing)} "
            f"(registered: {', '.join(sorted(steps)) or 'none'})"
        )


def run_chunk(
    request: ExecutionRequest,
    steps: tuple[str, ...],
    index: int,
    functions: Mapping[str, StepFunction],
    keep_going: Callable[[], bool],
) -> dict[str, Any] | None:
    """Run one chunk through ``steps`` in order; its outcome document, or None when the
    execution was stopped before the chunk finished (``keep_going`` is asked before each step).

    A step's exception fails the chunk, recorded as a Lambda error would be (the exception type
    as the error, its message as the cause); the other chunks are not affected. The document
    names the chunk as its calls do: by position, or by its number in the batch."""
    chunk = index
    for step in steps:
        if not keep_going():
            return None
        call = request.step_call(step, index)
        chunk = call.chunk
        try:
            functions[step](call)
        except Exception as exc:
            return chunk_failed(chunk, step, type(exc).__name__, str(exc))
    return chunk_succeeded(chunk)


def new_record(request: ExecutionRequest, spec: PipelineSpec, at: datetime) -> dict[str, Any]:
    """A RUNNING execution. The steps are copied in: a pipeline updated meanwhile does not
    change an execution that has started, as on Step Functions."""
    return {
        "name": request.name,
        "pipeline": request.pipeline,
        "steps": list(spec.steps),
        "input": request.to_input(),
        "refs": list(request.chunk_refs),
        "status": ExecutionStatus.RUNNING.value,
        "started_at": at.isoformat(),
        "stopped_at": None,
        "error": None,
        "outcomes": {},
    }


def request_of(record: Mapping[str, Any]) -> ExecutionRequest:
    document = record["input"]
    return ExecutionRequest(
        pipeline=record["pipeline"],
        name=record["name"],
        tenant=document["tenant"],
        connector=document["connector"],
        batch_id=document["batch_id"],
        attempt=document["attempt"],
        chunks=() if record.get("refs") else tuple(tuple(c) for c in document["chunks"]),
        chunk_refs=tuple(record.get("refs") or ()),
    )


def chunk_count(record: Mapping[str, Any]) -> int:
    refs = record.get("refs")
    return len(refs) if refs else len(record["input"]["chunks"])


def is_running(record: Mapping[str, Any]) -> bool:
    return bool(record.get("status") == ExecutionStatus.RUNNING.value)


def record_outcome(record: dict[str, Any], document: Mapping[str, Any], at: datetime) -> None:
    """Keep a chunk's outcome; the last chunk to finish ends a running execution SUCCEEDED.

    A chunk that finishes after a stop is still recorded: its work was done."""
    record["outcomes"][str(document["chunk"])] = dict(document)
    if is_running(record) and len(record["outcomes"]) == chunk_count(record):
        record.update(status=ExecutionStatus.SUCCEEDED.value, stopped_at=at.isoformat())


def end(record: dict[str, Any], status: ExecutionStatus, error: str, at: datetime) -> None:
    """ABORTED (a stop) or FAILED (the runner broke); only a running execution ends."""
    if is_running(record):
        record.update(status=status.value, error=error, stopped_at=at.isoformat())


def state_of(execution_id: str, record: Mapping[str, Any]) -> ExecutionState:
    outcomes = record["outcomes"]
    documents = [outcomes[key] for key in sorted(outcomes, key=int)]
    stopped = record.get("stopped_at")
    return ExecutionState(
        execution_id=execution_id,
        name=record["name"],
        pipeline=record["pipeline"],
        status=ExecutionStatus(record["status"]),
        started_at=datetime.fromisoformat(record["started_at"]),
        stopped_at=None if stopped is None else datetime.fromisoformat(stopped),
        error=record.get("error"),
        outcomes=() if record.get("refs") else item_outcomes(record["input"]["chunks"], documents),
        chunks=chunk_outcomes(documents),
    )


def spec_document(spec: PipelineSpec) -> dict[str, Any]:
    return {
        "steps": list(spec.steps),
        "chunk_size": spec.chunk_size,
        "max_concurrency": spec.max_concurrency,
    }


def spec_of(name: str, document: Mapping[str, Any]) -> PipelineSpec:
    return PipelineSpec(
        name=name,
        steps=tuple(document["steps"]),
        chunk_size=document["chunk_size"],
        max_concurrency=document["max_concurrency"],
    )
