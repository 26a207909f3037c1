"""Pipelines: specs, deterministic execution names, step calls, chunk outcomes and the ASL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.adapters.aws.state_machines import StepTargetKind, state_machine_definition
from overlord.domain.batches import Batch, RequestStatus
from overlord.domain.chunk_outcomes import (
    ItemOutcome,
    chunk_failed,
    chunk_succeeded,
    failure_text,
    item_outcomes,
)
from overlord.domain.errors import InvalidInput
from overlord.domain.names import ConnectorName, TenantName
from overlord.domain.pipelines import (
    ExecutionRequest,
    PipelineSpec,
    StepCall,
    execution_name,
)

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
ACME, ORDERS = TenantName("acme"), ConnectorName("orders")
LAMBDA = "arn:aws:lambda:eu-west-1:123456789012:function:overlord-step"
QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/steps"
SPEC = PipelineSpec(name="acme-orders", steps=("fetch", "clean", "load"), chunk_size=2)


def request(items: list[str] | None = None, **changes: Any) -> ExecutionRequest:
    arguments: dict[str, Any] = {
        "pipeline": SPEC,
        "tenant": ACME,
        "connector": ORDERS,
        "batch_id": "batch-1",
        "item_ids": items or ["a", "b", "c"],
    }
    arguments.update(changes)
    return ExecutionRequest.create(**arguments)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "has space"},
        {"name": "x" * 81},
        {"steps": ()},
        {"steps": ("fetch", "fetch")},
        {"steps": ("Fetch",)},
        {"steps": "fetch"},
        {"chunk_size": 0},
        {"chunk_size": True},
        {"max_concurrency": 1001},
    ],
)
def test_a_spec_that_no_backend_could_deploy_is_refused(changes: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"name": "p", "steps": ("fetch",), "chunk_size": 1, **changes}
    with pytest.raises(InvalidInput):
        PipelineSpec(**arguments)


def test_the_same_batch_always_names_the_same_execution() -> None:
    assert request().name == request().name
    assert request().name == execution_name(ACME, ORDERS, "batch-1")
    assert request(attempt=1).name != request().name
    assert request(batch_id="batch-2").name != request().name


def test_names_that_read_alike_do_not_collide() -> None:
    one = execution_name(TenantName("abc-de"), ConnectorName("fgh"), "b")
    two = execution_name(TenantName("abc"), ConnectorName("de-fgh"), "b")
    assert one != two


@given(
    st.from_regex(r"[a-z][a-z0-9]{2,31}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9]{2,17}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}", fullmatch=True),
    st.integers(min_value=0, max_value=10_000),
)
def test_an_execution_name_is_always_one_step_functions_accepts(
    tenant: str, connector: str, batch_id: str, attempt: int
) -> None:
    name = execution_name(TenantName(tenant), ConnectorName(connector), batch_id, attempt)
    assert len(name) <= 80
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in name)


def test_items_are_chunked_in_order_by_the_spec_unless_told_otherwise() -> None:
    assert request(["a", "b", "c", "d", "e"]).chunks == (("a", "b"), ("c", "d"), ("e",))
    assert request(["a", "b", "c"], chunk_size=5).chunks == (("a", "b", "c"),)
    assert request().to_input()["chunks"] == [["a", "b"], ["c"]]


@pytest.mark.parametrize("items", [[], ["a", "a"], ["a", ""]])
def test_bad_item_lists_are_refused(items: list[str]) -> None:
    with pytest.raises(InvalidInput):
        ExecutionRequest.create(
            pipeline=SPEC, tenant=ACME, connector=ORDERS, batch_id="b", item_ids=items
        )


def batch() -> Batch:
    return Batch.create(
        batch_id="batch-1",
        item_ids=["a", "b", "c", "d", "e"],
        batch_size=2,
        pipeline=["fetch", "clean", "load"],
        at=AT,
    )


def test_a_batch_runs_in_its_own_chunk_size() -> None:
    run = ExecutionRequest.for_batch(pipeline=SPEC, tenant=ACME, connector=ORDERS, batch=batch())
    assert run.chunks == (("a", "b"), ("c", "d"), ("e",))
    assert run.name == execution_name(ACME, ORDERS, "batch-1")


def test_retrying_a_batch_names_a_new_execution_over_the_failed_items_only() -> None:
    b = batch()
    first = ExecutionRequest.for_batch(pipeline=SPEC, tenant=ACME, connector=ORDERS, batch=b)
    for item in b.item_ids:
        if item in ("b", "e"):
            b.mark_failed(item, "boom", at=AT)
        else:
            b.mark_succeeded(item, at=AT)
    b.retry_failed(at=AT)
    retry = ExecutionRequest.for_batch(pipeline=SPEC, tenant=ACME, connector=ORDERS, batch=b)
    assert retry.item_ids == ("b", "e")
    assert retry.name != first.name
    assert (
        retry.name
        == ExecutionRequest.for_batch(pipeline=SPEC, tenant=ACME, connector=ORDERS, batch=b).name
    )


def test_a_batch_of_another_pipeline_or_with_nothing_pending_is_refused() -> None:
    other = PipelineSpec(name="p", steps=("fetch",), chunk_size=1)
    with pytest.raises(InvalidInput, match="runs"):
        ExecutionRequest.for_batch(pipeline=other, tenant=ACME, connector=ORDERS, batch=batch())
    done = batch()
    for item in done.item_ids:
        done.mark_succeeded(item, at=AT)
    with pytest.raises(InvalidInput, match="no pending"):
        ExecutionRequest.for_batch(pipeline=SPEC, tenant=ACME, connector=ORDERS, batch=done)


def test_a_step_call_round_trips_through_its_payload() -> None:
    call = StepCall(pipeline="p", step="fetch", execution="e", chunk=3, item_ids=("a", "b"))
    assert StepCall.from_payload(json.loads(json.dumps(call.to_payload()))) == call


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"pipeline": "p", "step": "s", "execution": "e", "chunk": 0},
        {"pipeline": "p", "step": "s", "execution": "e", "chunk": -1, "items": []},
        {"pipeline": "p", "step": "s", "execution": "e", "chunk": 0, "items": [1]},
        {"pipeline": 1, "step": "s", "execution": "e", "chunk": 0, "items": []},
    ],
)
def test_a_malformed_step_call_is_refused(payload: object) -> None:
    with pytest.raises(InvalidInput):
        StepCall.from_payload(payload)


def test_chunk_documents_become_item_outcomes_and_junk_is_skipped() -> None:
    chunks = [["a", "b"], ["c"], ["d"]]
    documents = [chunk_succeeded(0), chunk_failed(1, "load", "KeyError", "'x'"), {"chunk": 9}, 7]
    assert item_outcomes(chunks, documents) == (
        ItemOutcome(item_id="a", status=RequestStatus.SUCCEEDED),
        ItemOutcome(item_id="b", status=RequestStatus.SUCCEEDED),
        ItemOutcome(item_id="c", status=RequestStatus.FAILED, step="load", error="KeyError: 'x'"),
    )


@pytest.mark.parametrize(
    ("failure", "text"),
    [
        ({"Error": "States.Timeout"}, "States.Timeout"),
        ({"Error": "E", "Cause": '{"errorMessage": "bad row", "errorType": "E"}'}, "E: bad row"),
        ({"Error": "X", "Cause": "{not json"}, "X: {not json"),
        (None, "unknown error"),
    ],
)
def test_a_failure_reads_as_one_line(failure: object, text: str) -> None:
    assert failure_text(failure) == text


def inner(definition: dict[str, Any]) -> dict[str, Any]:
    states: dict[str, Any] = definition["States"]["Chunks"]["ItemProcessor"]["States"]
    return states


def test_the_state_machine_maps_over_chunks_and_runs_the_steps_in_order() -> None:
    definition = state_machine_definition(SPEC, LAMBDA)
    chunks = definition["States"][definition["StartAt"]]
    assert chunks["Type"] == "Map"
    assert chunks["ItemsPath"] == "$.chunks"
    assert chunks["MaxConcurrency"] == SPEC.max_concurrency
    states = inner(definition)
    order, name = [], chunks["ItemProcessor"]["StartAt"]
    while states[name]["Type"] == "Task":
        order.append(name)
        name = states[name]["Next"]
    assert order == list(SPEC.steps)
    assert states[name]["Type"] == "Pass"
    assert states[name]["End"] is True


def test_each_step_invokes_the_step_lambda_with_its_name_and_chunk_and_retries_lambda() -> None:
    for step in SPEC.steps:
        task = inner(state_machine_definition(SPEC, LAMBDA))[step]
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        assert task["Parameters"]["FunctionName"] == LAMBDA
        payload = task["Parameters"]["Payload"]
        assert payload["step"] == step
        assert payload["pipeline"] == SPEC.name
        assert payload["items.$"] == "$.items"
        assert payload["chunk.$"] == "$.chunk"
        (retry,) = task["Retry"]
        assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"]
        assert "Lambda.ServiceException" in retry["ErrorEquals"]
        assert retry["BackoffRate"] > 1
        assert retry["MaxAttempts"] >= 3


def test_a_failing_step_ends_only_its_own_chunk_with_a_record_of_where() -> None:
    states = inner(state_machine_definition(SPEC, LAMBDA))
    for step in SPEC.steps:
        (catch,) = states[step]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        failed = states[catch["Next"]]
        assert failed["Type"] == "Pass"
        assert failed["End"] is True
        assert failed["Parameters"]["step"] == step
        assert failed["Parameters"]["status"] == "FAILED"


def test_the_sqs_target_sends_each_step_call_to_the_queue() -> None:
    states = inner(state_machine_definition(SPEC, QUEUE, StepTargetKind.SQS))
    task = states["fetch"]
    assert task["Resource"] == "arn:aws:states:::sqs:sendMessage"
    assert task["Parameters"]["QueueUrl"] == QUEUE
    assert task["Parameters"]["MessageBody"]["step"] == "fetch"


def test_the_lambda_integration_follows_the_functions_partition() -> None:
    china = "arn:aws-cn:lambda:cn-north-1:123456789012:function:step"
    task = inner(state_machine_definition(SPEC, china))["fetch"]
    assert task["Resource"] == "arn:aws-cn:states:::lambda:invoke"


specs = st.builds(
    PipelineSpec,
    name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}", fullmatch=True),
    steps=st.lists(
        st.from_regex(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,30}[a-z0-9]", fullmatch=True),
        min_size=1,
        max_size=12,
        unique=True,
    ),
    chunk_size=st.integers(min_value=1, max_value=10_000),
    max_concurrency=st.integers(min_value=1, max_value=1000),
)


def all_states(states: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, state, its scope) for every state, nested ones included."""
    found = []
    for name, state in states.items():
        found.append((name, state, states))
        processor = state.get("ItemProcessor")
        if processor:
            found.extend(all_states(processor["States"]))
    return found


@given(specs, st.sampled_from(list(StepTargetKind)))
def test_any_valid_spec_gives_a_well_formed_definition(
    spec: PipelineSpec, kind: StepTargetKind
) -> None:
    target = LAMBDA if kind is StepTargetKind.LAMBDA else QUEUE
    definition = state_machine_definition(spec, target, kind)
    assert json.loads(json.dumps(definition)) == definition
    found = all_states(definition["States"])
    names = [name for name, _, _ in found]
    assert len(names) == len(set(names))  # unique across the whole machine
    assert all(1 <= len(name) <= 80 for name in names)
    assert definition["StartAt"] in definition["States"]
    for _, state, scope in found:
        if "ItemProcessor" in state:
            assert state["ItemProcessor"]["StartAt"] in state["ItemProcessor"]["States"]
        targets = [state.get("Next"), *(c["Next"] for c in state.get("Catch", []))]
        assert all(t in scope for t in targets if t is not None)
        assert ("Next" in state) != bool(state.get("End"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.sampled_from(list(StepTargetKind)))
def test_an_asl_parser_accepts_every_generated_definition(
    spec: PipelineSpec, kind: StepTargetKind
) -> None:
    # moto's parser is LocalStack's ASL grammar: it catches misspelled fields and wrong types
    # that a structural check cannot; no network involved.
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    target = LAMBDA if kind is StepTargetKind.LAMBDA else QUEUE
    AmazonStateLanguageParser.parse(json.dumps(state_machine_definition(spec, target, kind)))
