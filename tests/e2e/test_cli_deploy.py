"""``overlord deploy`` and ``destroy`` against moto's CloudFormation, through the CLI.

Each test deploys a platform of its own namespace as a stack of its own name, then checks with
plain boto3 what an operator would check in the console: the functions exist with their
handlers, and each caller is wired to the function it must call. moto's limits (see
docs/deploy.md, "What the tests prove") are asserted as what they are, never papered over:
the template's side of each (Block Public Access, the TLS-only policy, stack outputs) is checked
in ``tests/unit/test_platform_template.py``.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from overlord.container import Container
from overlord.domain.pipelines import PipelineSpec
from overlord.entrypoints.lambdas import handlers
from overlord.settings import Settings
from tests.e2e.conftest import Outcome, run_in_process
from tests.integration.aws_network import make_batch_network

HANDLERS = sorted(name for name in dir(handlers) if name.endswith("_handler"))


def overlord(*args: str) -> Outcome:
    return run_in_process("-o", "json", *args)


def succeeded(*args: str) -> dict[str, Any]:
    outcome = overlord(*args)
    assert outcome.exit_code == 0, outcome.stderr
    found: dict[str, Any] = json.loads(outcome.stdout)
    return found


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A Lambda zip: moto creates functions from it without running them, so its content
    only has to be a zip."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("overlord_placeholder.py", "")
    path = tmp_path / "overlord-lambda.zip"
    path.write_bytes(data.getvalue())
    return path


@pytest.fixture
def namespace(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"t{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OVERLORD_NAMESPACE", name)
    return name


def functions(namespace: str) -> dict[str, dict[str, Any]]:
    pages = boto3.client("lambda").get_paginator("list_functions").paginate()
    return {
        f["FunctionName"]: f
        for page in pages
        for f in page["Functions"]
        if f["FunctionName"].startswith(f"{namespace}-")
    }


def function_arn(namespace: str, key: str) -> str:
    found = boto3.client("lambda").get_function(FunctionName=f"{namespace}-{key}")
    return str(found["Configuration"]["FunctionArn"])


def invokers(function: str) -> list[dict[str, Any]]:
    policy = json.loads(boto3.client("lambda").get_policy(FunctionName=function)["Policy"])
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def leftovers(namespace: str) -> dict[str, list[str]]:
    """Everything of the namespace's platform that exists, by kind."""
    iam, logs, events = boto3.client("iam"), boto3.client("logs"), boto3.client("events")
    prefix = f"{namespace}-"
    return {
        "functions": sorted(functions(namespace)),
        "roles": sorted(
            r["RoleName"]
            for page in iam.get_paginator("list_roles").paginate()
            for r in page["Roles"]
            if r["RoleName"].startswith(prefix)
        ),
        "rules": sorted(r["Name"] for r in events.list_rules(NamePrefix=prefix)["Rules"]),
        "log_groups": sorted(
            g["logGroupName"]
            for g in logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}")[
                "logGroups"
            ]
        ),
        "buckets": sorted(
            b["Name"]
            for b in boto3.client("s3").list_buckets()["Buckets"]
            if b["Name"].startswith(prefix)
        ),
        "tables": sorted(
            t for t in boto3.client("dynamodb").list_tables()["TableNames"] if namespace in t
        ),
        "queues": sorted(
            boto3.client("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
        ),
        "apis": sorted(
            a["name"]
            for a in boto3.client("apigateway").get_rest_apis()["items"]
            if a["name"].startswith(prefix)
        ),
    }


def test_deploy_creates_every_function_and_wires_each_to_its_caller(
    namespace: str, package: Path
) -> None:
    stack = f"overlord-{namespace}"

    report = succeeded("deploy", "--stack", stack, "--package", str(package))

    assert report["created"]
    assert report["changed"]
    assert report["namespace"] == namespace
    assert report["document_store"] == "dynamodb"
    made = functions(namespace)
    assert sorted(f["Handler"].rsplit(".", 1)[-1] for f in made.values()) == HANDLERS
    assert {f["Runtime"] for f in made.values()} == {"python3.11"}
    # The rule sends the platform's Batch state changes to the tracking function.
    events = boto3.client("events")
    [target] = events.list_targets_by_rule(Rule=f"{namespace}-job-state-change")["Targets"]
    assert target["Arn"] == function_arn(namespace, "job-state-change")
    pattern = json.loads(events.describe_rule(Name=f"{namespace}-job-state-change")["EventPattern"])
    assert pattern["source"] == ["aws.batch"]
    assert pattern["detail-type"] == ["Batch Job State Change"]
    [source] = invokers(f"{namespace}-job-state-change")
    assert source["Principal"] == {"Service": "events.amazonaws.com"}
    rule_arn = events.describe_rule(Name=f"{namespace}-job-state-change")["Arn"]
    assert source["Condition"]["ArnLike"]["AWS:SourceArn"] == rule_arn
    # The maintenance schedule: a sweep and a reconcile, both to the maintenance function.
    for task in ("sweep", "reconcile"):
        [target] = events.list_targets_by_rule(Rule=f"{namespace}-{task}")["Targets"]
        assert target["Arn"] == function_arn(namespace, "maintenance")
        assert json.loads(target["Input"]) == {"task": task}
        assert events.describe_rule(Name=f"{namespace}-{task}")["ScheduleExpression"]
    # The API proxies every path and method to the api function, which only it may invoke.
    apigateway = boto3.client("apigateway")
    [api] = [a for a in apigateway.get_rest_apis()["items"] if a["name"] == f"{namespace}-api"]
    paths = {}
    for resource in apigateway.get_resources(restApiId=api["id"])["items"]:
        integration = apigateway.get_integration(
            restApiId=api["id"], resourceId=resource["id"], httpMethod="ANY"
        )
        paths[resource["path"]] = (integration["type"], integration["uri"])
    uri = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"{function_arn(namespace, 'api')}/invocations"
    )
    assert paths == {"/": ("AWS_PROXY", uri), "/{proxy+}": ("AWS_PROXY", uri)}
    assert [s["stageName"] for s in apigateway.get_stages(restApiId=api["id"])["item"]] == ["v1"]
    [caller] = invokers(f"{namespace}-api")
    assert caller["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert caller["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f":{api['id']}/*")
    # S3 may invoke the object-created function for the platform's buckets only.
    [s3] = invokers(f"{namespace}-object-created")
    assert s3["Principal"] == {"Service": "s3.amazonaws.com"}
    # The platform's table, bucket, queue and log groups.
    table = boto3.client("dynamodb").describe_table(TableName=f"overlord.{namespace}_platform")
    keys = {k["AttributeName"]: k["KeyType"] for k in table["Table"]["KeySchema"]}
    assert keys == {"pk": "HASH", "sk": "RANGE"}
    encryption = boto3.client("s3").get_bucket_encryption(Bucket=f"{namespace}-platform")
    [rule] = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    groups = boto3.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{namespace}-"
    )
    assert {g["retentionInDays"] for g in groups["logGroups"]} == {30}
    assert len(groups["logGroups"]) == len(HANDLERS)


def test_every_function_runs_with_settings_that_point_at_the_stacks_own_resources(
    namespace: str, package: Path
) -> None:
    report = succeeded("deploy", "--stack", f"overlord-{namespace}", "--package", str(package))

    for function in functions(namespace).values():
        variables = function["Environment"]["Variables"]
        # (moto keeps a Number parameter's value as a number; Lambda's are all text)
        assert dict(report["settings"]) == {
            k: str(v) for k, v in variables.items() if k.startswith("OVERLORD_")
        }
    settings = Settings.load({**report["settings"], "OVERLORD_CONFIG": ""})
    assert settings.profile == "aws"
    assert settings.namespace == namespace
    assert settings.scheduler_target_arn == function_arn(namespace, "schedule")
    assert settings.pipeline_step_arn == function_arn(namespace, "pipeline-step")
    iam = boto3.client("iam")
    for arn in (
        settings.scheduler_role_arn,
        settings.pipeline_role_arn,
        settings.batch_execution_role_arn,
        settings.batch_job_role_arn,
    ):
        assert arn is not None
        assert iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]["Arn"] == arn
    queue = boto3.client("sqs").get_queue_url(QueueName=f"{namespace}-dead-letters")["QueueUrl"]
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"]
    )
    assert settings.scheduler_dead_letter_arn == attributes["Attributes"]["QueueArn"]


def test_a_second_deploy_of_the_same_package_changes_nothing(namespace: str, package: Path) -> None:
    stack = f"overlord-{namespace}"
    succeeded("deploy", "--stack", stack, "--package", str(package))
    before = {name: f["CodeSha256"] + f["LastModified"] for name, f in functions(namespace).items()}
    cloudformation = boto3.client("cloudformation")
    events = len(cloudformation.describe_stack_events(StackName=stack)["StackEvents"])

    again = succeeded("deploy", "--stack", stack, "--package", str(package))

    assert not again["changed"]
    assert again["changes"] == []
    after = {name: f["CodeSha256"] + f["LastModified"] for name, f in functions(namespace).items()}
    assert after == before
    assert len(cloudformation.describe_stack_events(StackName=stack)["StackEvents"]) == events


def test_a_new_package_updates_the_functions_in_place(
    namespace: str, package: Path, tmp_path: Path
) -> None:
    stack = f"overlord-{namespace}"
    first = succeeded("deploy", "--stack", stack, "--package", str(package))
    code = {name: f["CodeSha256"] for name, f in functions(namespace).items()}
    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(newer, "w") as archive:
        archive.writestr("overlord_placeholder.py", "VERSION = 2\n")

    update = succeeded("deploy", "--stack", stack, "--package", str(newer))

    assert update["changed"]
    assert not update["created"]
    assert update["package"]["key"] != first["package"]["key"]
    assert update["parameters"]["CodeKey"] == update["package"]["key"]
    updated = {name: f["CodeSha256"] for name, f in functions(namespace).items()}
    assert sorted(updated) == sorted(code)
    assert all(updated[name] != code[name] for name in code)
    # What the change set lists is not checked: CloudFormation lists each function as Modify,
    # moto 5.2.5 lists nothing for a change of parameters only (it compares template text).
    assert not [c for c in update["changes"] if c["action"] in ("Add", "Remove")]


def test_destroy_refuses_a_platform_with_data_then_purge_leaves_nothing(
    namespace: str, package: Path
) -> None:
    stack = f"overlord-{namespace}"
    succeeded("deploy", "--stack", stack, "--package", str(package))

    refused = overlord("destroy", "--stack", stack)

    assert refused.exit_code == 2
    assert refused.error_lines == [
        f"error: bucket {namespace}-platform holds 1 object, which CloudFormation cannot "
        "delete: --purge deletes them with the stack"
    ]
    assert functions(namespace)  # nothing was deleted

    destroyed = succeeded("destroy", "--stack", stack, "--purge", "--yes")

    assert destroyed["emptied"] == {f"{namespace}-platform": 1}
    # moto 5.2.5 deletes every resource of the stack but its REST API (its RestAPI model has
    # no CloudFormation delete); on AWS the stack's deletion removes the API too.
    assert leftovers(namespace) == {
        "functions": [],
        "roles": [],
        "rules": [],
        "log_groups": [],
        "buckets": [],
        "tables": [],
        "queues": [],
        "apis": [f"{namespace}-api"],
    }
    gone = overlord("destroy", "--stack", stack)
    assert gone.exit_code == 2
    assert gone.error_lines == [f"error: no stack named {stack}"]


def test_destroy_with_purge_deletes_the_platforms_tenants_first(
    namespace: str, package: Path
) -> None:
    """From nothing to a tenant on the deployed platform and back: the stack's settings,
    written by deploy, are what the CLI provisions with."""
    network = make_batch_network()
    stack = f"overlord-{namespace}"
    deployed = succeeded(
        "deploy",
        "--stack",
        stack,
        "--package",
        str(package),
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
    assert made["bucket"] == f"{namespace}-acme-weather"
    # The tenant's bucket notifies the stack's object-created function of landed manifests.
    notifications = boto3.client("s3").get_bucket_notification_configuration(Bucket=made["bucket"])
    [notify] = notifications["LambdaFunctionConfigurations"]
    assert notify["LambdaFunctionArn"] == function_arn(namespace, "object-created")
    # A batch pipeline's state machine, made as the platform makes it when a batch first runs.
    settings = Settings.load({**deployed["settings"], "OVERLORD_CONFIG": ""})
    pipeline = PipelineSpec(
        name=f"{namespace}-acme-orders-default-0123456789", steps=("load",), chunk_size=10
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
    assert [m for m in machines if m["name"].startswith(f"{namespace}-")] == []
    remaining = leftovers(namespace)
    assert remaining["buckets"] == []
    assert remaining["tables"] == []
    batch = boto3.client("batch")
    environments = batch.describe_compute_environments(
        computeEnvironments=[made["compute_environment"]]
    )["computeEnvironments"]
    assert environments == []


def test_a_mongo_platform_reads_its_uri_from_secrets_manager_and_has_no_table(
    namespace: str, package: Path
) -> None:
    report = succeeded(
        "deploy",
        "--stack",
        f"overlord-{namespace}",
        "--package",
        str(package),
        "--document-store",
        "mongo",
        "-p",
        "MongoUriSecretName=overlord/test-mongo",
    )

    assert report["document_store"] == "mongo"
    assert report["settings"]["OVERLORD_MONGO_URI"] == "secretsmanager:overlord/test-mongo"
    assert leftovers(namespace)["tables"] == []


def test_code_goes_to_the_bucket_given_and_the_stack_is_made_in_one_step(
    namespace: str, package: Path
) -> None:
    bucket = f"{namespace}-artifacts"
    boto3.client("s3").create_bucket(Bucket=bucket)

    report = succeeded(
        "deploy",
        "--stack",
        f"overlord-{namespace}",
        "--package",
        str(package),
        "--code-bucket",
        bucket,
    )

    assert report["package"]["bucket"] == bucket
    assert report["parameters"]["CodeBucket"] == bucket
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [report["package"]["key"]]
    assert {c["resource"] for c in report["changes"]} >= {"PlatformBucket", "ApiFunction"}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("--stack", "9lives"),
            "error: invalid stack name '9lives': use up to 128 letters, "
            "digits and hyphens, starting with a letter",
        ),
        (("--stack", "ok", "-p", "Nope=1"), "error: unknown parameter 'Nope'; the template takes "),
        (("--stack", "ok", "-p", "Nope"), "error: --parameter 'Nope': expected KEY=VALUE"),
        (
            ("--stack", "ok", "--document-store", "sqlite"),
            "error: --document-store must be dynamodb or mongo, not 'sqlite'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_anything_is_made(
    namespace: str, package: Path, args: tuple[str, ...], error: str
) -> None:
    outcome = overlord("deploy", "--package", str(package), *args)

    assert outcome.exit_code == 2
    [line] = outcome.error_lines
    assert line.startswith(error)
    assert leftovers(namespace) == {key: [] for key in leftovers(namespace)}


def test_a_stack_of_another_namespace_is_never_updated(
    namespace: str, package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = f"overlord-{namespace}"
    succeeded("deploy", "--stack", stack, "--package", str(package))
    monkeypatch.setenv("OVERLORD_NAMESPACE", "other")

    outcome = overlord("deploy", "--stack", stack, "--package", str(package))

    assert outcome.exit_code == 2
    assert outcome.error_lines == [
        f"error: stack {stack} holds namespace {namespace}, not other: set OVERLORD_NAMESPACE "
        "to its namespace, or deploy another stack"
    ]
