"""The memory and local Workflow backends where they go beyond the contract: they call the step
functions themselves, so they refuse a pipeline with a step they cannot run, a stop lands
between steps, and (local) an execution whose process died is not left RUNNING forever."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from overlord.adapters import pipeline_runs
from overlord.adapters.local.workflow import LocalWorkflow
from overlord.adapters.memory.workflow import MemoryWorkflow
from overlord.domain.errors import InvalidInput
from overlord.domain.names import ConnectorName, TenantName
from overlord.domain.pipelines import (
    ExecutionRequest,
    ExecutionStatus,
    PipelineSpec,
    StepCall,
)
from overlord.ports.workflow import Workflow
from tests.contract.test_workflow import finished

STEPS = ("fetch", "clean", "load")


def spec() -> PipelineSpec:
    return PipelineSpec(name=f"wf-{uuid.uuid4().hex[:12]}", steps=STEPS, chunk_size=1)


def execution(pipeline: PipelineSpec, items: list[str]) -> ExecutionRequest:
    return ExecutionRequest.create(
        pipeline=pipeline,
        tenant=TenantName("acme"),
        connector=ConnectorName("orders"),
        batch_id="batch-1",
        item_ids=items,
    )


@pytest.mark.parametrize("kind", ["memory", "local"])
def test_a_pipeline_with_a_step_nothing_can_run_is_refused(kind: str, tmp_path: Path) -> None:
    functions = {"fetch": lambda call: None}
    workflow: Workflow = (
        MemoryWorkflow(functions) if kind == "memory" else LocalWorkflow(tmp_path, functions)
    )
    with pytest.raises(InvalidInput, match="clean, load"):
        workflow.ensure_pipeline(spec())


def test_memory_a_stop_during_a_step_ends_the_execution_before_the_next_step() -> None:
    calls: list[StepCall] = []
    workflow: MemoryWorkflow

    def clean(call: StepCall) -> None:
        calls.append(call)
        workflow.stop(pipeline_runs.execution_id(call.pipeline, call.execution), "operator")

    functions = {"fetch": calls.append, "clean": clean, "load": calls.append}
    workflow = MemoryWorkflow(functions)
    pipeline = spec()
    workflow.ensure_pipeline(pipeline)
    state = workflow.describe(workflow.start(execution(pipeline, ["a", "b"])))
    assert state is not None
    assert (state.status, state.error) == (ExecutionStatus.ABORTED, "operator")
    assert [(c.chunk, c.step) for c in calls] == [(0, "fetch"), (0, "clean")]
    assert state.outcomes == ()


def test_local_a_stop_from_another_instance_lands_between_steps(tmp_path: Path) -> None:
    release = threading.Event()
    calls: list[StepCall] = []
    lock = threading.Lock()

    def record(call: StepCall) -> None:
        with lock:
            calls.append(call)

    def fetch(call: StepCall) -> None:
        record(call)
        assert release.wait(10)

    functions = {"fetch": fetch, "clean": record, "load": record}
    workflow = LocalWorkflow(tmp_path, functions, max_workers=2)
    pipeline = spec()
    workflow.ensure_pipeline(pipeline)
    try:
        execution_id = workflow.start(execution(pipeline, ["a", "b"]))
        LocalWorkflow(tmp_path, {}).stop(execution_id, "operator")
    finally:
        release.set()
        workflow.close()
    state = workflow.describe(execution_id)
    assert state is not None
    assert (state.status, state.error) == (ExecutionStatus.ABORTED, "operator")
    assert state.stopped_at is not None
    assert {c.step for c in calls} <= {"fetch"}


_DYING = """
import os, sys
from pathlib import Path
from overlord.adapters.local.workflow import LocalWorkflow
from overlord.domain.names import ConnectorName, TenantName
from overlord.domain.pipelines import ExecutionRequest, PipelineSpec

def fetch(call):
    sys.stdin.readline()  # the test has read the id: die in the middle of the step
    os._exit(3)

workflow = LocalWorkflow(Path(sys.argv[1]), {"fetch": fetch})
spec = PipelineSpec(name="dying", steps=("fetch",), chunk_size=1)
workflow.ensure_pipeline(spec)
request = ExecutionRequest.create(pipeline=spec, tenant=TenantName("acme"),
    connector=ConnectorName("orders"), batch_id="b", item_ids=["a"])
print(workflow.start(request), flush=True)
"""


def test_local_an_execution_whose_process_died_is_reported_failed(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_DYING), str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    execution_id = process.stdout.readline().strip()
    workflow = LocalWorkflow(tmp_path, {})
    running = workflow.describe(execution_id)
    assert running is not None
    assert running.status is ExecutionStatus.RUNNING
    process.stdin.write("die\n")
    process.stdin.flush()
    assert process.wait(30) == 3
    state = finished(workflow, execution_id)
    assert state.status is ExecutionStatus.FAILED
    assert state.error is not None
    assert f"pid {process.pid}" in state.error
