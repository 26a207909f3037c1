"""``overlord deploy`` against moto's CloudFormation, through the CLI.

Each test deploys a platform of its own namespace as a stack of its own name, then checks with
plain boto3 what an operator would check in the console: the functions exist with their
handlers, and each caller is wired to the function it must call. moto's limits (see
docs/deploy.md, "What the tests prove") are asserted as what they are, never papered over:
the template's side of each (Block Public Access, the TLS-only policy, stack outputs) is checked
in ``tests/unit/test_platform_template.py``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import boto3
import pytest

from overlord.settings import Settings
from tests.e2e.platform_stacks import (
    HANDLERS,
    function_arn,
    functions,
    invokers,
    leftovers,
    overlord,
    succeeded,
)
from tests.lambda_zip import LambdaBuild


def test_deploy_creates_every_function_and_wires_each_to_its_caller(
    stack_namespace: str, lambda_zip: Path
) -> None:
    stack = f"overlord-{stack_namespace}"

    report = succeeded("deploy", "--stack", stack, "--package", str(lambda_zip))

    assert report["created"]
    assert report["changed"]
    assert report["namespace"] == stack_namespace
    assert report["document_store"] == "dynamodb"
    made = functions(stack_namespace)
    assert sorted(f["Handler"].rsplit(".", 1)[-1] for f in made.values()) == HANDLERS
    assert {f["Runtime"] for f in made.values()} == {"python3.11"}
    # The rule sends the platform's Batch state changes to the tracking function.
    events = boto3.client("events")
    [target] = events.list_targets_by_rule(Rule=f"{stack_namespace}-job-state-change")["Targets"]
    assert target["Arn"] == function_arn(stack_namespace, "job-state-change")
    pattern = json.loads(
        events.describe_rule(Name=f"{stack_namespace}-job-state-change")["EventPattern"]
    )
    assert pattern["source"] == ["aws.batch"]
    assert pattern["detail-type"] == ["Batch Job State Change"]
    [source] = invokers(f"{stack_namespace}-job-state-change")
    assert source["Principal"] == {"Service": "events.amazonaws.com"}
    rule_arn = events.describe_rule(Name=f"{stack_namespace}-job-state-change")["Arn"]
    assert source["Condition"]["ArnLike"]["AWS:SourceArn"] == rule_arn
    # The maintenance schedule: a sweep and a reconcile, both to the maintenance function.
    for task in ("sweep", "reconcile"):
        [target] = events.list_targets_by_rule(Rule=f"{stack_namespace}-{task}")["Targets"]
        assert target["Arn"] == function_arn(stack_namespace, "maintenance")
        assert json.loads(target["Input"]) == {"task": task}
        assert events.describe_rule(Name=f"{stack_namespace}-{task}")["ScheduleExpression"]
    # The API proxies every path and method to the api function, which only it may invoke.
    apigateway = boto3.client("apigateway")
    [api] = [
        a for a in apigateway.get_rest_apis()["items"] if a["name"] == f"{stack_namespace}-api"
    ]
    paths = {}
    for resource in apigateway.get_resources(restApiId=api["id"])["items"]:
        integration = apigateway.get_integration(
            restApiId=api["id"], resourceId=resource["id"], httpMethod="ANY"
        )
        paths[resource["path"]] = (integration["type"], integration["uri"])
    uri = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"{function_arn(stack_namespace, 'api')}/invocations"
    )
    assert paths == {"/": ("AWS_PROXY", uri), "/{proxy+}": ("AWS_PROXY", uri)}
    assert [s["stageName"] for s in apigateway.get_stages(restApiId=api["id"])["item"]] == ["v1"]
    [caller] = invokers(f"{stack_namespace}-api")
    assert caller["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert caller["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f":{api['id']}/*")
    # S3 may invoke the object-created function for the platform's buckets only.
    [s3] = invokers(f"{stack_namespace}-object-created")
    assert s3["Principal"] == {"Service": "s3.amazonaws.com"}
    # The platform's table, bucket, queue and log groups.
    table = boto3.client("dynamodb").describe_table(
        TableName=f"overlord.{stack_namespace}_platform"
    )
    keys = {k["AttributeName"]: k["KeyType"] for k in table["Table"]["KeySchema"]}
    assert keys == {"pk": "HASH", "sk": "RANGE"}
    encryption = boto3.client("s3").get_bucket_encryption(Bucket=f"{stack_namespace}-platform")
    [rule] = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    groups = boto3.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{stack_namespace}-"
    )
    assert {g["retentionInDays"] for g in groups["logGroups"]} == {30}
    assert len(groups["logGroups"]) == len(HANDLERS)


def test_every_function_runs_with_settings_that_point_at_the_stacks_own_resources(
    stack_namespace: str, lambda_zip: Path
) -> None:
    report = succeeded(
        "deploy", "--stack", f"overlord-{stack_namespace}", "--package", str(lambda_zip)
    )

    for function in functions(stack_namespace).values():
        variables = function["Environment"]["Variables"]
        # (moto keeps a Number parameter's value as a number; Lambda's are all text)
        assert dict(report["settings"]) == {
            k: str(v) for k, v in variables.items() if k.startswith("OVERLORD_")
        }
    settings = Settings.load({**report["settings"], "OVERLORD_CONFIG": ""})
    assert settings.profile == "aws"
    assert settings.namespace == stack_namespace
    assert settings.scheduler_target_arn == function_arn(stack_namespace, "schedule")
    assert settings.pipeline_step_arn == function_arn(stack_namespace, "pipeline-step")
    iam = boto3.client("iam")
    for arn in (
        settings.scheduler_role_arn,
        settings.pipeline_role_arn,
        settings.batch_execution_role_arn,
        settings.batch_job_role_arn,
    ):
        assert arn is not None
        assert iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]["Arn"] == arn
    queue = boto3.client("sqs").get_queue_url(QueueName=f"{stack_namespace}-dead-letters")[
        "QueueUrl"
    ]
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"]
    )
    assert settings.scheduler_dead_letter_arn == attributes["Attributes"]["QueueArn"]


def test_a_second_deploy_of_the_same_package_changes_nothing(
    stack_namespace: str, lambda_zip: Path
) -> None:
    stack = f"overlord-{stack_namespace}"
    succeeded("deploy", "--stack", stack, "--package", str(lambda_zip))
    before = {
        name: f["CodeSha256"] + f["LastModified"] for name, f in functions(stack_namespace).items()
    }
    cloudformation = boto3.client("cloudformation")
    events = len(cloudformation.describe_stack_events(StackName=stack)["StackEvents"])

    again = succeeded("deploy", "--stack", stack, "--package", str(lambda_zip))

    assert not again["changed"]
    assert again["changes"] == []
    after = {
        name: f["CodeSha256"] + f["LastModified"] for name, f in functions(stack_namespace).items()
    }
    assert after == before
    assert len(cloudformation.describe_stack_events(StackName=stack)["StackEvents"]) == events


def test_a_new_package_updates_the_functions_in_place(
    stack_namespace: str, lambda_zip: Path, tmp_path: Path
) -> None:
    stack = f"overlord-{stack_namespace}"
    first = succeeded("deploy", "--stack", stack, "--package", str(lambda_zip))
    code = {name: f["CodeSha256"] for name, f in functions(stack_namespace).items()}
    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(newer, "w") as archive:
        archive.writestr("overlord_placeholder.py", "VERSION = 2\n")

    update = succeeded("deploy", "--stack", stack, "--package", str(newer))

    assert update["changed"]
    assert not update["created"]
    assert update["package"]["key"] != first["package"]["key"]
    assert update["parameters"]["CodeKey"] == update["package"]["key"]
    updated = {name: f["CodeSha256"] for name, f in functions(stack_namespace).items()}
    assert sorted(updated) == sorted(code)
    assert all(updated[name] != code[name] for name in code)
    # What the change set lists is not checked: CloudFormation lists each function as Modify,
    # moto 5.2.5 lists nothing for a change of parameters only (it compares template text).
    assert not [c for c in update["changes"] if c["action"] in ("Add", "Remove")]


def test_a_parameter_given_is_applied_and_those_not_given_keep_their_values(
    stack_namespace: str, lambda_zip: Path
) -> None:
    stack = f"overlord-{stack_namespace}"
    succeeded("deploy", "--stack", stack, "--package", str(lambda_zip), "-p", "LogLevel=DEBUG")

    update = succeeded(
        "deploy", "--stack", stack, "--package", str(lambda_zip), "--runtime", "python3.12"
    )

    assert update["changed"]
    assert update["parameters"]["LambdaRuntime"] == "python3.12"
    assert update["parameters"]["LogLevel"] == "DEBUG"
    made = functions(stack_namespace).values()
    assert {f["Runtime"] for f in made} == {"python3.12"}
    assert {f["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] for f in made} == {"DEBUG"}


def test_a_mongo_platform_reads_its_uri_from_secrets_manager_and_has_no_table(
    stack_namespace: str, lambda_zip: Path
) -> None:
    report = succeeded(
        "deploy",
        "--stack",
        f"overlord-{stack_namespace}",
        "--package",
        str(lambda_zip),
        "--document-store",
        "mongo",
        "-p",
        "MongoUriSecretName=overlord/test-mongo",
    )

    assert report["document_store"] == "mongo"
    assert report["settings"]["OVERLORD_MONGO_URI"] == "secretsmanager:overlord/test-mongo"
    assert leftovers(stack_namespace)["tables"] == []


def test_code_goes_to_the_bucket_given_and_the_stack_is_made_in_one_step(
    stack_namespace: str, lambda_zip: Path
) -> None:
    bucket = f"{stack_namespace}-artifacts"
    boto3.client("s3").create_bucket(Bucket=bucket)

    report = succeeded(
        "deploy",
        "--stack",
        f"overlord-{stack_namespace}",
        "--package",
        str(lambda_zip),
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
            ("--stack", "ok", "-p", "LambdaRuntime=python3.12"),
            "error: give the runtime as --runtime, which the package is built for",
        ),
        (("--stack", "ok", "--runtime", "python2.7"), "error: runtime 'python2.7': choose one of"),
        (
            ("--stack", "ok", "--document-store", "sqlite"),
            "error: --document-store must be dynamodb or mongo, not 'sqlite'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_anything_is_made(
    stack_namespace: str, lambda_zip: Path, args: tuple[str, ...], error: str
) -> None:
    outcome = overlord("deploy", "--package", str(lambda_zip), *args)

    assert outcome.exit_code == 2
    [line] = outcome.error_lines
    assert line.startswith(error)
    assert leftovers(stack_namespace) == {key: [] for key in leftovers(stack_namespace)}


def test_a_stack_of_another_namespace_is_never_updated(
    stack_namespace: str, lambda_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = f"overlord-{stack_namespace}"
    succeeded("deploy", "--stack", stack, "--package", str(lambda_zip))
    monkeypatch.setenv("OVERLORD_NAMESPACE", "other")

    outcome = overlord("deploy", "--stack", stack, "--package", str(lambda_zip))

    assert outcome.exit_code == 2
    assert outcome.error_lines == [
        f"error: stack {stack} holds namespace {stack_namespace}, not other: "
        "set OVERLORD_NAMESPACE to its namespace, or deploy another stack"
    ]


def test_without_a_package_deploy_builds_the_one_overlord_package_builds(
    stack_namespace: str, lambda_build: LambdaBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same sources build the same bytes: the deploy's package is the session's build,
    found under the same digest."""
    monkeypatch.setenv("OVERLORD_PACKAGE_CACHE", str(lambda_build.cache))

    report = succeeded(
        "deploy", "--stack", f"overlord-{stack_namespace}", "--with", str(lambda_build.plugin)
    )

    assert report["package"]["key"] == f"lambda/{lambda_build.package.sha256[:32]}.zip"
    assert report["package"]["bytes"] == lambda_build.package.zipped_bytes
    assert report["parameters"]["LambdaRuntime"] == lambda_build.package.runtime
