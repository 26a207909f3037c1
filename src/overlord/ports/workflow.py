"""Running batch pipelines: a synchronous loop in memory, threads locally, Step Functions on AWS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from overlord.domain.pipelines import ExecutionRequest, ExecutionState, PipelineSpec, StepCall

# A pipeline step as the memory and local backends run it: it returns when the chunk is done and
# raises to fail the chunk. On AWS the same code runs inside the step Lambda, which receives
# `StepCall.to_payload()` as its event.
StepFunction = Callable[[StepCall], None]


class Workflow(Protocol):
    """Executions are named by their request (`ExecutionRequest.name`), so a retried or repeated
    start never runs a batch twice; ids are opaque to callers (an ARN on AWS)."""

    def ensure_pipeline(self, spec: PipelineSpec) -> None:
        """Deploy the pipeline, or bring it up to date; nothing changes when it already matches.

        Executions already running keep the pipeline they started with."""

    def start(self, request: ExecutionRequest) -> str:
        """Start the execution and return its id without waiting for it to finish (the memory
        backend, having no one to hand the work to, runs it to the end first).

        When an execution of that name was already started on this pipeline, running or
        finished, its id is returned and nothing new runs. `NotFound` if the pipeline was never
        ensured; `BackendError`/`Throttled` when the backend fails."""

    def describe(self, execution_id: str) -> ExecutionState | None:
        """The execution as it stands; None for an id this backend never gave out."""

    def stop(self, execution_id: str, reason: str) -> None:
        """Abort the execution if it is still running: it ends ABORTED with ``reason`` as its
        error, and chunks not yet finished stop after their current step (the step in flight is
        not interrupted). No error when it has already finished or is unknown."""
