"""The notification a deployed platform's buckets send to the object-created function, read
back with plain boto3 against moto: only manifests under ``raw/`` notify, a second ensure
changes nothing, and notifications the bucket's owner added are kept. (The filter rules are
named ``prefix``/``suffix`` in lower case, as AWS's examples write them: moto 5.2.5 refuses
any other spelling, which AWS accepts.)"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from overlord.adapters.aws.object_store import S3ObjectStore
from overlord.adapters.aws.s3_notifications import CONFIGURATION_ID, ensure
from overlord.domain.infrastructure import BucketSpec

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:t1-object-created"


@pytest.fixture
def s3(aws_endpoint: str) -> Any:
    return boto3.client("s3")


def new_bucket() -> str:
    return f"notify-{uuid.uuid4().hex[:20]}"


def lambdas(s3: Any, bucket: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = s3.get_bucket_notification_configuration(Bucket=bucket).get(
        "LambdaFunctionConfigurations", []
    )
    return found


def test_a_bucket_made_for_a_deployed_platform_notifies_of_manifests_only(s3: Any) -> None:
    bucket = new_bucket()

    S3ObjectStore(notify_arn=FUNCTION).ensure_bucket(BucketSpec(bucket))

    [configuration] = lambdas(s3, bucket)
    assert configuration["Id"] == CONFIGURATION_ID
    assert configuration["LambdaFunctionArn"] == FUNCTION
    assert configuration["Events"] == ["s3:ObjectCreated:*"]
    rules = configuration["Filter"]["Key"]["FilterRules"]
    assert sorted((r["Name"].lower(), r["Value"]) for r in rules) == [
        ("prefix", "raw/"),
        ("suffix", "_manifest.json"),
    ]


def test_without_a_function_no_notification_is_configured(s3: Any) -> None:
    bucket = new_bucket()

    S3ObjectStore().ensure_bucket(BucketSpec(bucket))

    assert lambdas(s3, bucket) == []


def test_a_second_ensure_changes_nothing_and_other_notifications_are_kept(s3: Any) -> None:
    bucket = new_bucket()
    s3.create_bucket(Bucket=bucket)
    queue = boto3.client("sqs").create_queue(QueueName=f"theirs-{uuid.uuid4().hex[:8]}")
    queue_arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    theirs = {"Id": "theirs", "QueueArn": queue_arn, "Events": ["s3:ObjectRemoved:*"]}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [theirs]}
    )

    assert ensure(s3, bucket, FUNCTION) is True
    assert ensure(s3, bucket, FUNCTION) is False

    configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["Id"] for c in configuration["QueueConfigurations"]] == ["theirs"]
    assert [c["Id"] for c in configuration["LambdaFunctionConfigurations"]] == [CONFIGURATION_ID]
