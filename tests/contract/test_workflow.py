"""The Workflow contract: every backend runs each chunk through every step, in order, once.

Add an adapter to ``FACTORIES`` to run it here. Each backend comes with a way to see what its
steps received: the memory and local backends call test step functions that record each
`StepCall`; moto's Step Functions cannot run Lambdas, so its state machine is generated with
SQS ``sendMessage`` steps and the suite reads the calls off the queue. The real definition runs
either way: Map, the Task per step, Catch and the per-chunk outcome states.

A step fails in the same way everywhere: the test queue refuses messages over
``STEP_LIMIT_BYTES``, and the test step functions refuse calls of that size, so a chunk holding
an oversized item id fails at its first step on every backend.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from attrs import define

from overlord.adapters.aws.state_machines import StepTargetKind
from overlord.adapters.aws.workflow import StepFunctionsSettings, StepFunctionsWorkflow
from overlord.adapters.local.workflow import LocalWorkflow
from overlord.adapters.memory.workflow import MemoryWorkflow
from overlord.domain.batches import RequestStatus
from overlord.domain.errors import NotFound
from overlord.domain.names import ConnectorName, TenantName
from overlord.domain.pipelines import (
    BatchRef,
    ExecutionRequest,
    ExecutionState,
    ExecutionStatus,
    PipelineSpec,
    StepCall,
)
from overlord.ports.workflow import Workflow
from tests.integration.aws_network import make_state_machine_role

STEPS = ("fetch", "clean", "load")
STEP_LIMIT_BYTES = 1024  # the smallest MaximumMessageSize SQS allows
WAIT_SECONDS = 20


@define
class Backend:
    workflow: Workflow
    calls: Callable[[], list[StepCall]]  # every step call seen so far, in order
    reopen: Callable[[], Workflow]  # another instance over the same backend


class Recorder:
    """Step functions that record their calls; thread-safe (the local backend uses threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[StepCall] = []
        self.functions = {step: self.step for step in STEPS}

    def step(self, call: StepCall) -> None:
        if len(json.dumps(call.to_payload())) > STEP_LIMIT_BYTES:
            raise ValueError(f"step call over {STEP_LIMIT_BYTES} bytes")
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[StepCall]:
        with self._lock:
            return list(self._calls)


def _memory(request: pytest.FixtureRequest) -> Backend:
    recorder = Recorder()
    workflow = MemoryWorkflow(recorder.functions)
    return Backend(workflow, recorder.calls, lambda: workflow)


def _local(request: pytest.FixtureRequest) -> Backend:
    root: Path = request.getfixturevalue("tmp_path") / "workflows"
    recorder = Recorder()
    workflow = LocalWorkflow(root, recorder.functions, max_workers=2)
    request.addfinalizer(workflow.close)
    return Backend(workflow, recorder.calls, lambda: LocalWorkflow(root, recorder.functions))


def _stepfunctions(request: pytest.FixtureRequest) -> Backend:
    import boto3

    role_arn: str = request.getfixturevalue("state_machine_role")
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(
        QueueName=f"overlord-steps-{uuid.uuid4().hex[:12]}",
        Attributes={"MaximumMessageSize": str(STEP_LIMIT_BYTES)},
    )["QueueUrl"]
    settings = StepFunctionsSettings(
        step_target_arn=queue, role_arn=role_arn, step_target_kind=StepTargetKind.SQS
    )
    seen: list[StepCall] = []

    def calls() -> list[StepCall]:
        while True:
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return list(seen)
            bodies = [json.loads(m["Body"]) for m in messages]
            # A batch pipeline's last state sends its finish call too: not a step.
            seen.extend(StepCall.from_payload(b) for b in bodies if "action" not in b)

    return Backend(StepFunctionsWorkflow(settings), calls, lambda: StepFunctionsWorkflow(settings))


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Backend]] = {
    "memory": _memory,
    "local": _local,
    "stepfunctions": _stepfunctions,
}


@pytest.fixture(scope="module")
def state_machine_role(aws_endpoint: str) -> str:
    return make_state_machine_role()


@pytest.fixture(params=sorted(FACTORIES))
def backend(request: pytest.FixtureRequest) -> Backend:
    return FACTORIES[request.param](request)


@pytest.fixture
def spec() -> PipelineSpec:
    return PipelineSpec(name=f"wf-{uuid.uuid4().hex[:12]}", steps=STEPS, chunk_size=2)


def execution(spec: PipelineSpec, items: list[str], batch_id: str = "batch-1") -> ExecutionRequest:
    return ExecutionRequest.create(
        pipeline=spec,
        tenant=TenantName("acme"),
        connector=ConnectorName("orders"),
        batch_id=batch_id,
        item_ids=items,
    )


def finished(workflow: Workflow, execution_id: str) -> ExecutionState:
    """Poll until the execution ends (backends run asynchronously), for a bounded time."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        state = workflow.describe(execution_id)
        assert state is not None
        if state.status.finished:
            return state
        assert time.monotonic() < deadline, f"still {state.status} after {WAIT_SECONDS}s"
        time.sleep(0.05)


def by_chunk(calls: list[StepCall]) -> dict[int, list[str]]:
    steps: dict[int, list[str]] = {}
    for call in calls:
        steps.setdefault(call.chunk, []).append(call.step)
    return steps


ITEMS = ["a", "b", "c", "d", "e"]


@pytest.fixture
def started(backend: Backend, spec: PipelineSpec) -> tuple[ExecutionRequest, str]:
    backend.workflow.ensure_pipeline(spec)
    request = execution(spec, ITEMS)
    return request, backend.workflow.start(request)


def test_a_started_execution_runs_every_step_over_every_chunk_in_order(
    backend: Backend, spec: PipelineSpec, started: tuple[ExecutionRequest, str]
) -> None:
    request, execution_id = started
    state = finished(backend.workflow, execution_id)
    assert state.status is ExecutionStatus.SUCCEEDED
    assert (state.name, state.pipeline, state.error) == (request.name, spec.name, None)
    assert state.stopped_at is not None
    assert state.started_at <= state.stopped_at
    assert sorted(o.item_id for o in state.outcomes) == ITEMS
    assert {o.status for o in state.outcomes} == {RequestStatus.SUCCEEDED}
    calls = backend.calls()
    assert by_chunk(calls) == {0: list(STEPS), 1: list(STEPS), 2: list(STEPS)}
    assert {(c.chunk, c.item_ids) for c in calls} == {(0, ("a", "b")), (1, ("c", "d")), (2, ("e",))}
    assert {(c.pipeline, c.execution) for c in calls} == {(spec.name, request.name)}


def test_another_instance_describes_the_same_execution(
    backend: Backend, started: tuple[ExecutionRequest, str]
) -> None:
    _, execution_id = started
    here = finished(backend.workflow, execution_id)
    there = backend.reopen().describe(execution_id)
    assert there == here


def test_starting_the_same_execution_twice_runs_it_once(
    backend: Backend, spec: PipelineSpec, started: tuple[ExecutionRequest, str]
) -> None:
    request, execution_id = started
    assert backend.workflow.start(request) == execution_id  # maybe still running
    finished(backend.workflow, execution_id)
    assert backend.workflow.start(request) == execution_id  # certainly finished
    assert backend.reopen().start(request) == execution_id
    assert len(backend.calls()) == len(STEPS) * 3


def test_a_failing_step_fails_only_its_own_chunk(backend: Backend, spec: PipelineSpec) -> None:
    backend.workflow.ensure_pipeline(spec)
    oversized = "x" * (STEP_LIMIT_BYTES + 100)
    execution_id = backend.workflow.start(execution(spec, ["a", "b", oversized, "d"]))
    state = finished(backend.workflow, execution_id)
    assert state.status is ExecutionStatus.SUCCEEDED  # PARTIALLY_FAILED is the batch's verdict
    outcomes = {o.item_id: o for o in state.outcomes}
    assert {i: outcomes[i].status for i in ("a", "b")} == {
        "a": RequestStatus.SUCCEEDED,
        "b": RequestStatus.SUCCEEDED,
    }
    assert set(state.failed_items) == {oversized, "d"}
    assert {outcomes[i].step for i in state.failed_items} == {"fetch"}
    assert all(outcomes[i].error for i in state.failed_items)
    assert by_chunk(backend.calls()) == {0: list(STEPS)}


def test_ensuring_a_pipeline_again_is_harmless_and_a_changed_one_runs_its_new_steps(
    backend: Backend, spec: PipelineSpec
) -> None:
    backend.workflow.ensure_pipeline(spec)
    backend.workflow.ensure_pipeline(spec)
    changed = PipelineSpec(name=spec.name, steps=("load", "fetch"), chunk_size=2)
    backend.workflow.ensure_pipeline(changed)
    backend.workflow.ensure_pipeline(changed)
    state = finished(backend.workflow, backend.workflow.start(execution(changed, ["a"])))
    assert state.status is ExecutionStatus.SUCCEEDED
    assert by_chunk(backend.calls()) == {0: ["load", "fetch"]}


def test_an_execution_of_a_pipeline_never_ensured_is_refused(
    backend: Backend, spec: PipelineSpec
) -> None:
    with pytest.raises(NotFound):
        backend.workflow.start(execution(spec, ["a"]))


def test_an_unknown_execution_is_described_as_none(
    backend: Backend, spec: PipelineSpec, started: tuple[ExecutionRequest, str]
) -> None:
    request, execution_id = started
    never_started = execution(spec, ["a"], batch_id="never-started").name
    other = execution_id.replace(request.name, never_started)
    assert other != execution_id
    for unknown in (other, "not-an-execution-id", "../../etc/passwd", ""):
        assert backend.workflow.describe(unknown) is None


def test_stopping_a_finished_or_unknown_execution_changes_nothing(
    backend: Backend, started: tuple[ExecutionRequest, str]
) -> None:
    _, execution_id = started
    before = finished(backend.workflow, execution_id)
    backend.workflow.stop(execution_id, "no longer needed")
    backend.workflow.stop("not-an-execution-id", "no longer needed")
    assert backend.workflow.describe(execution_id) == before


def test_chunks_by_reference_reach_every_step_as_their_batch_and_number(
    backend: Backend,
) -> None:
    spec = PipelineSpec(
        name=f"wf-{uuid.uuid4().hex[:12]}", steps=STEPS, chunk_size=2, by_reference=True
    )
    backend.workflow.ensure_pipeline(spec)
    ref = BatchRef(tenant="acme", connector="orders", batch_id="batch-9", attempt=2)
    request = ExecutionRequest.by_reference(pipeline=spec, batch=ref, chunks=[4, 1])
    state = finished(backend.workflow, backend.workflow.start(request))
    assert state.status is ExecutionStatus.SUCCEEDED
    assert sorted((c.chunk, c.status) for c in state.chunks) == [
        (1, RequestStatus.SUCCEEDED),
        (4, RequestStatus.SUCCEEDED),
    ]
    calls = backend.calls()
    assert by_chunk(calls) == {1: list(STEPS), 4: list(STEPS)}
    assert {(c.batch, c.item_ids, c.execution) for c in calls} == {(ref, (), request.name)}
