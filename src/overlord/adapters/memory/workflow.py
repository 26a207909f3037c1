"""Pipelines run in the caller's thread, for service tests and simulations.

`start` runs every chunk through every step before it returns, so a test sees the finished
execution at once, with no waiting and no threads. A step that calls `stop` on its own execution
is how a test plays a stop that arrives mid-run.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from overlord.adapters import pipeline_runs as runs
from overlord.domain.errors import NotFound
from overlord.domain.pipelines import (
    ExecutionRequest,
    ExecutionState,
    ExecutionStatus,
    PipelineSpec,
)
from overlord.ports.clock import Clock
from overlord.ports.workflow import StepFunction


class MemoryWorkflow:
    """Step functions by task name; ``ensure_pipeline`` refuses a pipeline with a step missing.

    >>> from overlord.domain.names import ConnectorName, TenantName
    >>> seen = []
    >>> workflow = MemoryWorkflow({"fetch": seen.append, "load": seen.append})
    >>> spec = PipelineSpec(name="acme-orders", steps=("fetch", "load"), chunk_size=2)
    >>> workflow.ensure_pipeline(spec)
    >>> request = ExecutionRequest.create(pipeline=spec, tenant=TenantName("acme"),
    ...     connector=ConnectorName("orders"), batch_id="b-1", item_ids=["a", "b", "c"])
    >>> state = workflow.describe(workflow.start(request))
    >>> state.status.value, [(call.step, call.chunk) for call in seen]
    ('SUCCEEDED', [('fetch', 0), ('load', 0), ('fetch', 1), ('load', 1)])
    """

    def __init__(self, steps: Mapping[str, StepFunction], clock: Clock | None = None) -> None:
        if clock is None:
            from overlord.adapters.system import SystemClock

            clock = SystemClock()
        self._steps = steps  # looked up at each call: steps registered later are found
        self._clock = clock
        self._lock = threading.Lock()
        self._pipelines: dict[str, PipelineSpec] = {}
        self._executions: dict[str, dict[str, Any]] = {}

    def ensure_pipeline(self, spec: PipelineSpec) -> None:
        runs.check_steps(spec, self._steps)
        with self._lock:
            self._pipelines[spec.name] = spec

    def start(self, request: ExecutionRequest) -> str:
        execution_id = runs.execution_id(request.pipeline, request.name)
        with self._lock:
            spec = self._pipelines.get(request.pipeline)
            if spec is None:
                raise NotFound(f"pipeline {request.pipeline} does not exist; ensure it first")
            if execution_id in self._executions:
                return execution_id
            record = runs.new_record(request, spec, self._clock.now())
            self._executions[execution_id] = record
        # Steps run without the lock held, so one may describe or stop its own execution.
        for index in range(request.chunk_count):
            document = runs.run_chunk(
                request, spec.steps, index, self._steps, lambda: self._running(record)
            )
            if document is not None:
                with self._lock:
                    runs.record_outcome(record, document, self._clock.now())
        return execution_id

    def describe(self, execution_id: str) -> ExecutionState | None:
        with self._lock:
            record = self._executions.get(execution_id)
            return None if record is None else runs.state_of(execution_id, record)

    def stop(self, execution_id: str, reason: str) -> None:
        with self._lock:
            record = self._executions.get(execution_id)
            if record is not None:
                runs.end(record, ExecutionStatus.ABORTED, reason, self._clock.now())

    def _running(self, record: dict[str, Any]) -> bool:
        with self._lock:
            return runs.is_running(record)
