"""``overlord destroy`` against moto's CloudFormation, through the CLI: what stops it, and what
a purge removes (the tenants provisioning made outside the stack included)."""

from __future__ import annotations

from pathlib import Path

import boto3

from overlord.container import Container
from overlord.domain.pipelines import PipelineSpec
from overlord.settings import Settings
from tests.e2e.platform_stacks import (
    function_arn,
    functions,
    leftovers,
    overlord,
    succeeded,
)
from tests.integration.aws_network import make_batch_network


def test_destroy_refuses_a_platform_with_data_then_purge_leaves_nothing(
    stack_namespace: str, lambda_zip: Path
) -> None:
    stack = f"overlord-{stack_namespace}"
    succeeded("deploy", "--stack", stack, "--package", str(lambda_zip))

    refused = overlord("destroy", "--stack", stack)

    assert refused.exit_code == 2
    assert refused.error_lines == [
        f"error: bucket {stack_namespace}-platform holds 1 object, which CloudFormation cannot "
        "delete: --purge deletes them with the stack"
    ]
    assert functions(stack_namespace)  # nothing was deleted

    destroyed = succeeded("destroy", "--stack", stack, "--purge", "--yes")

    assert destroyed["emptied"] == {f"{stack_namespace}-platform": 1}
    # moto 5.2.5 deletes every resource of the stack but its REST API (its RestAPI model has
    # no CloudFormation delete); on AWS the stack's deletion removes the API too.
    assert leftovers(stack_namespace) == {
        "functions": [],
        "roles": [],
        "rules": [],
        "log_groups": [],
        "buckets": [],
        "tables": [],
        "queues": [],
        "apis": [f"{stack_namespace}-api"],
    }
    gone = overlord("destroy", "--stack", stack)
    assert gone.exit_code == 2
    assert gone.error_lines == [f"error: no stack named {stack}"]


def test_destroy_with_purge_deletes_the_platforms_tenants_first(
    stack_namespace: str, lambda_zip: Path
) -> None:
    """From nothing to a tenant on the deployed platform and back: the stack's settings,
    written by deploy, are what the CLI provisions with."""
    network = make_batch_network()
    stack = f"overlord-{stack_namespace}"
    deployed = succeeded(
        "deploy",
        "--stack",
        stack,
        "--package",
        str(lambda_zip),
        "--config-file",
        "overlord.toml",
        "-p",
        f"BatchSubnets={','.join(network.subnets)}",
        "-p",
        f"BatchSecurityGroups={','.join(network.security_groups)}",
        "-p",
        f"BatchServiceRoleArn={network.service_role_arn}",
    )
    provisioned = succeeded("tenants", "init", "acme", "weather")
    made = {r["kind"]: r["name"] for r in provisioned["resources"]}
    assert made["bucket"] == f"{stack_namespace}-acme-weather"
    # The tenant's bucket notifies the stack's object-created function of landed manifests.
    notifications = boto3.client("s3").get_bucket_notification_configuration(Bucket=made["bucket"])
    [notify] = notifications["LambdaFunctionConfigurations"]
    assert notify["LambdaFunctionArn"] == function_arn(stack_namespace, "object-created")
    # A batch pipeline's state machine, made as the platform makes it when a batch first runs.
    settings = Settings.load({**deployed["settings"], "OVERLORD_CONFIG": ""})
    pipeline = PipelineSpec(
        name=f"{stack_namespace}-acme-orders-default-0123456789", steps=("load",), chunk_size=10
    )
    Container.from_settings(settings).workflow().ensure_pipeline(pipeline)

    refused = overlord("destroy", "--stack", stack, "--yes")

    assert refused.exit_code == 2
    assert refused.error_lines == [
        f"error: the platform in stack {stack} still has tenants (acme): delete them with "
        "`overlord tenants delete`, or pass --purge"
    ]

    destroyed = succeeded("destroy", "--stack", stack, "--purge", "--yes")

    assert destroyed["tenants_deleted"] == ["acme"]
    assert destroyed["state_machines_deleted"] == [pipeline.name]
    machines = boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    assert [m for m in machines if m["name"].startswith(f"{stack_namespace}-")] == []
    remaining = leftovers(stack_namespace)
    assert remaining["buckets"] == []
    assert remaining["tables"] == []
    batch = boto3.client("batch")
    environments = batch.describe_compute_environments(
        computeEnvironments=[made["compute_environment"]]
    )["computeEnvironments"]
    assert environments == []
