"""What S3ObjectStore leaves on a bucket, read back with plain boto3 calls against moto.

The contract suite checks behaviour through the port; this checks the security settings the
port cannot see: a new bucket is private four ways, a public prefix becomes exactly one policy
statement, and a purge also removes old versions and delete markers.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from overlord.adapters.aws.object_store import S3ObjectStore
from overlord.domain.infrastructure import BucketSpec

ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@pytest.fixture
def s3(aws_endpoint: str) -> Any:
    return boto3.client("s3")


def new_bucket() -> str:
    return f"policy-{uuid.uuid4().hex[:20]}"


def public_access(s3: Any, bucket: str) -> dict[str, bool]:
    block: dict[str, bool] = s3.get_public_access_block(Bucket=bucket)[
        "PublicAccessBlockConfiguration"
    ]
    return block


def assert_no_policy(s3: Any, bucket: str) -> None:
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=bucket)


def test_a_new_bucket_is_private_encrypted_and_acl_free(s3: Any) -> None:
    bucket = new_bucket()
    S3ObjectStore().ensure_bucket(BucketSpec(bucket))
    assert public_access(s3, bucket) == ALL_BLOCKED
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert ownership == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert_no_policy(s3, bucket)
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert all("URI" not in grant["Grantee"] for grant in grants)  # no AllUsers/AuthUsers


def test_public_prefixes_yield_exactly_one_get_object_statement(s3: Any) -> None:
    bucket = new_bucket()
    store = S3ObjectStore()
    store.ensure_bucket(BucketSpec(bucket, ("reports/", "public/data/")))
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"] == [
        {
            "Sid": "OverlordPublicReadPrefixes",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": [
                f"arn:aws:s3:::{bucket}/public/data/*",
                f"arn:aws:s3:::{bucket}/reports/*",
            ],
        }
    ]
    assert public_access(s3, bucket) == {
        **ALL_BLOCKED,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    store.ensure_bucket(BucketSpec(bucket))
    assert_no_policy(s3, bucket)
    assert public_access(s3, bucket) == ALL_BLOCKED


def test_a_statement_someone_else_added_survives_prefix_changes(s3: Any) -> None:
    bucket = new_bucket()
    store = S3ObjectStore()
    store.ensure_bucket(BucketSpec(bucket))
    audit = {
        "Sid": "AuditRead",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{bucket}",
    }
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [audit]})
    )
    store.ensure_bucket(BucketSpec(bucket, ("public/",)))
    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["AuditRead", "OverlordPublicReadPrefixes"]
    store.ensure_bucket(BucketSpec(bucket))
    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statements == [audit]
    assert store.describe_bucket(bucket) == BucketSpec(bucket)


def test_purge_removes_every_version_and_delete_marker(s3: Any) -> None:
    bucket = new_bucket()
    store = S3ObjectStore()
    store.ensure_bucket(BucketSpec(bucket))
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="data/file.csv", Body=b"v1")
    s3.put_object(Bucket=bucket, Key="data/file.csv", Body=b"v2")
    s3.delete_object(Bucket=bucket, Key="data/file.csv")
    listed = s3.list_object_versions(Bucket=bucket)
    assert len(listed.get("Versions", [])) == 2
    assert len(listed.get("DeleteMarkers", [])) == 1
    assert store.list_objects(bucket) == []  # looks empty, yet S3 would refuse to delete it
    store.delete_bucket(bucket, purge=True)
    assert store.describe_bucket(bucket) is None
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
