"""What the platform stack tests share: the CLI in JSON, and what a platform left in moto.

Everything is looked up with plain boto3 by the namespace's prefix, as an operator would in
the console; see ``test_cli_deploy.py`` and ``test_cli_destroy.py``.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from overlord.entrypoints.lambdas import handlers
from tests.e2e.conftest import Outcome, run_in_process

HANDLERS = sorted(name for name in dir(handlers) if name.endswith("_handler"))


def overlord(*args: str) -> Outcome:
    return run_in_process("-o", "json", *args)


def succeeded(*args: str) -> dict[str, Any]:
    outcome = overlord(*args)
    assert outcome.exit_code == 0, outcome.stderr
    found: dict[str, Any] = json.loads(outcome.stdout)
    return found


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
