"""StepFunctionsWorkflow against a Step Functions API (moto over HTTP), read with boto3.

The contract suite runs executions; these tests look at the state machines themselves: the
production definition (Lambda steps) deployed as generated, updates made only when the pipeline
changed (moto keeps no revision to compare, so the client's calls are recorded), and inputs that
Step Functions would refuse stopped before the call.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from overlord.adapters.aws.state_machines import state_machine_definition
from overlord.adapters.aws.workflow import StepFunctionsSettings, StepFunctionsWorkflow
from overlord.domain.errors import ConfigurationError, PayloadTooLarge
from overlord.domain.names import ConnectorName, TenantName
from overlord.domain.pipelines import ExecutionRequest, PipelineSpec
from tests.integration.aws_network import make_state_machine_role
from tests.integration.botocore_events import recorded_calls

STEP_LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:overlord-pipeline-step"


@pytest.fixture(scope="module")
def role_arn(aws_endpoint: str) -> str:
    return make_state_machine_role()


@pytest.fixture
def client(aws_endpoint: str) -> Any:
    return boto3.client("stepfunctions")


@pytest.fixture
def workflow(role_arn: str, client: Any) -> StepFunctionsWorkflow:
    return StepFunctionsWorkflow(
        StepFunctionsSettings.require(STEP_LAMBDA, role_arn), client=client
    )


def spec(steps: tuple[str, ...] = ("fetch", "load")) -> PipelineSpec:
    return PipelineSpec(name=f"wf-{uuid.uuid4().hex[:12]}", steps=steps, chunk_size=10)


def arn_of(client: Any, name: str) -> str:
    for page in client.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    raise AssertionError(f"no state machine {name}")


def test_the_deployed_state_machine_is_the_generated_lambda_definition(
    workflow: StepFunctionsWorkflow, client: Any, role_arn: str
) -> None:
    pipeline = spec()
    workflow.ensure_pipeline(pipeline)
    deployed = client.describe_state_machine(stateMachineArn=arn_of(client, pipeline.name))
    assert json.loads(deployed["definition"]) == state_machine_definition(pipeline, STEP_LAMBDA)
    assert (deployed["roleArn"], deployed["type"]) == (role_arn, "STANDARD")


def test_a_state_machine_is_updated_only_when_its_pipeline_changed(
    workflow: StepFunctionsWorkflow, client: Any
) -> None:
    calls = recorded_calls(client)
    pipeline = spec()
    workflow.ensure_pipeline(pipeline)
    workflow.ensure_pipeline(pipeline)
    changed = PipelineSpec(name=pipeline.name, steps=("fetch", "clean", "load"), chunk_size=10)
    workflow.ensure_pipeline(changed)
    workflow.ensure_pipeline(changed)
    writes = [name for name, _ in calls if not name.startswith("Describe")]
    assert writes == ["CreateStateMachine", "UpdateStateMachine"]
    deployed = client.describe_state_machine(stateMachineArn=arn_of(client, pipeline.name))
    assert json.loads(deployed["definition"]) == state_machine_definition(changed, STEP_LAMBDA)


def test_an_input_step_functions_would_refuse_is_refused_before_starting(
    workflow: StepFunctionsWorkflow, client: Any
) -> None:
    pipeline = spec()
    workflow.ensure_pipeline(pipeline)
    items = [f"item-{i:06d}-{'x' * 40}" for i in range(6000)]  # about 300 KiB of ids
    request = ExecutionRequest.create(
        pipeline=pipeline,
        tenant=TenantName("acme"),
        connector=ConnectorName("orders"),
        batch_id="huge",
        item_ids=items,
    )
    with pytest.raises(PayloadTooLarge):
        workflow.start(request)
    executions = client.list_executions(stateMachineArn=arn_of(client, pipeline.name))
    assert executions["executions"] == []


@pytest.mark.parametrize(
    ("step_arn", "role"), [(None, "arn:aws:iam::1:role/r"), ("arn:x", None), ("arn:x", "role")]
)
def test_settings_without_a_step_target_or_a_role_arn_are_refused(
    step_arn: str | None, role: str | None, client: Any
) -> None:
    with pytest.raises(ConfigurationError):
        StepFunctionsWorkflow(StepFunctionsSettings.require(step_arn, role), client=client)
