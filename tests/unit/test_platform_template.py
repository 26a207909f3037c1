"""The platform's CloudFormation template, checked as a document: it lints clean, it has a
function per handler, its IAM is scoped to the platform, and every setting is wired.

What moto's CloudFormation cannot create or configure (the bucket policy, Block Public Access,
ownership controls, stack outputs) is checked here, on the template, and nowhere faked; the
deploy itself is ``tests/e2e/test_cli_deploy.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from attrs import fields
from cfnlint.api import ManualArgs, lint

from overlord.adapters.aws.batch_settings import BatchSettings
from overlord.adapters.aws.platform.functions import FUNCTIONS
from overlord.adapters.aws.platform.policies import UNSCOPED_READS
from overlord.adapters.aws.platform.template import (
    DOCUMENT_STORES,
    TemplateOptions,
    bootstrap_template,
    platform_template,
)
from overlord.adapters.aws.scheduler import SchedulerTargetSettings
from overlord.adapters.aws.workflow import StepFunctionsSettings
from overlord.domain.errors import InvalidInput
from overlord.domain.names import Namespace
from overlord.entrypoints.lambdas import handlers
from overlord.services.catalog import platform_database
from overlord.settings import DocumentStoreKind, Settings

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "acme"
# Settings no deployed function reads, and why.
NOT_WIRED = {
    "home": "the local profile's state; a function runs on the aws profile",
    "aws_region": "Lambda sets AWS_REGION for every function",
    "connectors_path": "template files on disk; on AWS templates are added to the catalog",
    "max_batch_items": "its default suits; a platform that wants another sets it on the functions",
    "package_cache": "where `overlord package` keeps wheels, on the machine that builds",
    "mongo_uri": "wired on mongo platforms only (see the mongo test)",
}
# Resource ARNs that name no platform prefix, and why they need none.
SHARED_RESOURCES = {
    "job/*": "Batch job ids are random; the queue and definition ARNs carry the prefix",
    "log-group:/aws/batch/job": "where Batch writes every job's output in the account",
    "repository/*": "a connector's image may come from any repository in the account",
    "secret:overlord/": "recipe credentials live under overlord/ (SecretsManagerSecrets)",
    "secret:${MongoUriSecretName}-*": "the secret the operator names in a parameter",
    "role/${BatchInstanceRoleName}": "the instance role the operator names in a parameter",
    '"Ref": "BatchServiceRoleArn"': "the Batch service role the operator names in a parameter",
}
MUTATING = re.compile(r":(?!Describe|List|Get|BatchGet|Query|Scan)")


def template_of(store: DocumentStoreKind = DocumentStoreKind.DYNAMODB) -> dict[str, Any]:
    return platform_template(TemplateOptions(namespace=Namespace(NAMESPACE), document_store=store))


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement of every role the template makes, with its role's logical id."""
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"]["Policies"]:
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical, statement


def actions(template: dict[str, Any], role: str) -> set[str]:
    return {
        action
        for logical, statement in statements(template)
        if logical == role
        for action in statement["Action"]
    }


def resolve(value: Any, template: dict[str, Any]) -> Any:
    """The value of an intrinsic function as CloudFormation would resolve it in account
    123456789012, us-east-1, with the parameters' defaults (enough for settings)."""
    pseudo = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
    defaults = {k: str(v["Default"]) for k, v in template["Parameters"].items()}
    names = {
        logical: r["Properties"].get("RoleName") or r["Properties"].get("QueueName")
        for logical, r in template["Resources"].items()
    }

    def attribute(logical: str) -> str:
        kind = template["Resources"][logical]["Type"]
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::123456789012:role/{names[logical]}"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:us-east-1:123456789012:{names[logical]}"
        raise AssertionError(f"no attribute for {logical}")

    if isinstance(value, dict) and "Ref" in value:
        return pseudo.get(value["Ref"]) or defaults[value["Ref"]]
    if isinstance(value, dict) and "Fn::Sub" in value:
        return re.sub(
            r"\$\{([^}]+)\}", lambda m: pseudo.get(m[1]) or defaults[m[1]], value["Fn::Sub"]
        )
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return attribute(value["Fn::GetAtt"][0])
    if isinstance(value, dict) and "Fn::If" in value:
        return resolve(value["Fn::If"][2], template)  # every optional parameter is empty
    return value


@pytest.mark.parametrize("store", DOCUMENT_STORES)
def test_cfn_lint_finds_nothing_in_any_partition(store: DocumentStoreKind) -> None:
    regions = ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"]
    found = lint(
        json.dumps(template_of(store)),
        config=ManualArgs(regions=regions, include_checks=["I"]),
    )

    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in found] == []


def test_the_bootstrap_step_lints_clean_and_makes_the_bucket_exactly_as_the_full_stack() -> None:
    options = TemplateOptions(namespace=Namespace(NAMESPACE))
    bootstrap, full = bootstrap_template(options), platform_template(options)

    assert lint(json.dumps(bootstrap), config=ManualArgs(regions=["us-east-1"])) == []
    for logical, resource in bootstrap["Resources"].items():
        assert full["Resources"][logical] == resource


def test_there_is_one_function_per_lambda_handler() -> None:
    handler_names = sorted(name for name in dir(handlers) if name.endswith("_handler"))
    template = template_of()
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]

    assert sorted(f["Properties"]["Handler"].rsplit(".", 1)[-1] for f in functions) == handler_names
    for function in functions:
        module, _, name = function["Properties"]["Handler"].rpartition(".")
        assert module == "overlord.entrypoints.lambdas"
        assert callable(getattr(handlers, name))


def test_every_function_writes_to_a_log_group_of_its_own_with_a_retention() -> None:
    resources = template_of()["Resources"]
    for spec in FUNCTIONS:
        group = resources[f"{spec.logical}LogGroup"]["Properties"]
        name = resources[f"{spec.logical}Function"]["Properties"]["FunctionName"]
        assert group["LogGroupName"] == f"/aws/lambda/{name}"
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_platform_bucket_is_private_four_ways() -> None:
    resources = template_of()["Resources"]
    bucket = resources["PlatformBucket"]["Properties"]

    assert bucket["BucketName"] == f"{NAMESPACE}-platform"
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    [deny] = resources["PlatformBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_platform_table_is_the_one_the_document_store_reads() -> None:
    table = template_of()["Resources"]["PlatformTable"]["Properties"]

    assert table["TableName"] == "overlord." + platform_database(Namespace(NAMESPACE))
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert "PlatformTable" not in template_of(DocumentStoreKind.MONGO)["Resources"]


def test_no_statement_lets_anything_change_every_resource() -> None:
    unscoped = {
        action
        for store in DOCUMENT_STORES
        for _, statement in statements(template_of(store))
        if "*" in statement["Resource"]
        for action in statement["Action"]
    }

    assert sorted(unscoped) == sorted(UNSCOPED_READS)
    assert [action for action in unscoped if MUTATING.search(action)] == []
    # docs/deploy.md gives the reason for each.
    documented = re.findall(
        r"^\| `([a-z0-9]+:[A-Za-z]+)` \|", (ROOT / "docs/deploy.md").read_text(), re.M
    )
    assert sorted(documented) == sorted(UNSCOPED_READS)


def test_every_other_resource_is_named_by_the_platforms_prefix() -> None:
    for store in DOCUMENT_STORES:
        for role, statement in statements(template_of(store)):
            for resource in statement["Resource"]:
                if resource == "*":
                    continue
                text = json.dumps(resource)
                scoped = f":{NAMESPACE}-" in text or f"/{NAMESPACE}-" in text
                scoped = scoped or f"overlord.{NAMESPACE}" in text
                shared = any(part in text for part in SHARED_RESOURCES)
                assert scoped or shared, f"{role} {statement['Sid']}: {text}"


def test_only_the_api_provisions_and_every_function_does_less_than_it() -> None:
    template = template_of()
    api = actions(template, "ApiRole")
    provisioning = {
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "dynamodb:CreateTable",
        "dynamodb:DeleteTable",
        "batch:CreateComputeEnvironment",
        "batch:RegisterJobDefinition",
        "scheduler:CreateSchedule",
        "scheduler:DeleteScheduleGroup",
    }
    assert provisioning <= api
    for spec in FUNCTIONS:
        mine = actions(template, f"{spec.logical}Role") - {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "sqs:SendMessage",
        }
        assert mine <= api, spec.key
        if spec.key != "api":
            assert not mine & provisioning, spec.key


def _operations() -> Iterator[tuple[str, str]]:
    """(service, operation) of every AWS call the adapters make, read from their source."""
    services = {
        "batch_submission": "batch",
        "compute": "batch",
        "job_runner": "batch",
        "cloudwatch_logs": "logs",
        "dynamodb_table": "dynamodb",
        "object_store": "s3",
        "s3_notifications": "s3",
        "scheduler": "scheduler",
        "secrets": "secretsmanager",
        "workflow": "states",
    }
    for module, service in services.items():
        source = (ROOT / "src/overlord/adapters/aws" / f"{module}.py").read_text()
        calls = re.findall(r"(?:\b_client|\bclient|\bs3)\.([a-z][a-z0-9_]+)\b", source)
        calls += re.findall(r'get_paginator\("([a-z0-9_]+)"\)', source)
        for call in set(calls) - {"get_paginator", "get_waiter", "meta", "exceptions"}:
            yield service, call


# Operations whose IAM action is named otherwise (AWS's service authorisation reference).
_ACTIONS = {
    ("s3", "head_bucket"): ("s3:ListBucket",),
    ("s3", "list_objects_v2"): ("s3:ListBucket",),
    ("s3", "list_object_versions"): ("s3:ListBucketVersions",),
    ("s3", "delete_objects"): ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("s3", "put_public_access_block"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "put_bucket_encryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "get_bucket_notification_configuration"): ("s3:GetBucketNotification",),
    ("s3", "put_bucket_notification_configuration"): ("s3:PutBucketNotification",),
    ("dynamodb", "transact_write_items"): (
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    ),
}


def test_the_api_function_may_make_every_call_the_aws_adapters_make() -> None:
    api = actions(template_of(), "ApiRole")
    wanted = set()
    for service, operation in _operations():
        camel = "".join(part.capitalize() for part in operation.split("_"))
        wanted.update(_ACTIONS.get((service, operation), (f"{service}:{camel}",)))

    assert sorted(wanted - api) == []


def test_every_setting_a_function_reads_is_wired() -> None:
    environment = template_of()["Resources"]["ApiFunction"]["Properties"]["Environment"]
    wired = {key.removeprefix("OVERLORD_").lower() for key in environment["Variables"]}
    settable = {f.name for f in fields(Settings)}

    assert sorted(settable - wired - set(NOT_WIRED)) == []
    assert sorted(wired - settable - {"powertools_service_name", "powertools_log_level"}) == []
    mongo = template_of(DocumentStoreKind.MONGO)["Resources"]["ApiFunction"]["Properties"]
    assert mongo["Environment"]["Variables"]["OVERLORD_MONGO_URI"] == {
        "Fn::Sub": "secretsmanager:${MongoUriSecretName}"
    }


def test_the_settings_load_and_make_every_aws_adapters_settings_once_batch_has_a_network() -> None:
    template = template_of()
    environment = template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    values = {key: str(resolve(value, template)) for key, value in environment.items()}
    values.update(OVERLORD_BATCH_SUBNETS="subnet-1", OVERLORD_BATCH_SECURITY_GROUPS="sg-1")

    settings = Settings.load({**values, "OVERLORD_CONFIG": ""})

    assert settings.profile == "aws"
    assert settings.namespace == NAMESPACE
    assert settings.documents is DocumentStoreKind.DYNAMODB
    batch = BatchSettings.from_settings(settings)
    assert batch.job_role_arn == "arn:aws:iam::123456789012:role/acme-batch-job"
    assert batch.service_role_arn == ""
    assert batch.instance_role_arn == ""
    scheduler = SchedulerTargetSettings.from_settings(settings)
    assert scheduler.target_arn == "arn:aws:lambda:us-east-1:123456789012:function:acme-schedule"
    assert scheduler.dead_letter_arn == "arn:aws:sqs:us-east-1:123456789012:acme-dead-letters"
    pipelines = StepFunctionsSettings.from_settings(settings)
    assert pipelines.step_target_arn.endswith(":function:acme-pipeline-step")
    assert settings.object_created_arn is not None
    assert settings.object_created_arn.endswith(":function:acme-object-created")
    assert settings.default_tenant == ""


def test_the_rule_follows_the_platforms_queues_only() -> None:
    rule = template_of()["Resources"]["JobStateChangeRule"]["Properties"]

    assert rule["EventPattern"]["source"] == ["aws.batch"]
    assert rule["EventPattern"]["detail-type"] == ["Batch Job State Change"]
    [queues] = rule["EventPattern"]["detail"]["jobQueue"]
    assert resolve(queues["prefix"], template_of()) == (
        "arn:aws:batch:us-east-1:123456789012:job-queue/acme-"
    )


def test_a_deployed_platform_keeps_documents_in_dynamodb_or_mongo_only() -> None:
    with pytest.raises(InvalidInput, match="dynamodb or mongo"):
        TemplateOptions(namespace=Namespace(NAMESPACE), document_store=DocumentStoreKind.SQLITE)


def test_every_parameter_has_a_default_and_a_description() -> None:
    for store in DOCUMENT_STORES:
        for name, parameter in template_of(store)["Parameters"].items():
            assert "Default" in parameter, name
            assert parameter["Description"], name
