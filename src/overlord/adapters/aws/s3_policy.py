"""The S3 bucket-policy document and Block Public Access flags behind public-read prefixes.

Pure functions over the JSON policy, so the one statement Overlord owns can be added, replaced
or removed without touching statements someone else put on the bucket, and so the exact
document is testable without S3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import PublicAccessBlockConfigurationTypeDef

SID = "OverlordPublicReadPrefixes"

PRIVATE: PublicAccessBlockConfigurationTypeDef = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# ACLs stay blocked (and disabled by BucketOwnerEnforced): only our policy may grant reads.
POLICY_ALLOWED: PublicAccessBlockConfigurationTypeDef = {
    **PRIVATE,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": False,
}


def statement(bucket: str, prefixes: Sequence[str]) -> dict[str, Any]:
    """Anyone may GetObject under exactly these prefixes; nothing else (no List, no Put)."""
    return {
        "Sid": SID,
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*" for prefix in prefixes],
    }


def statements(policy: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    found = (policy or {}).get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def public_prefixes(policy: Mapping[str, Any] | None, bucket: str) -> list[str]:
    """The prefixes our statement makes public, read back from the stored policy."""
    arn = f"arn:aws:s3:::{bucket}/"
    prefixes: list[str] = []
    for item in statements(policy):
        if item.get("Sid") != SID:
            continue
        resources = item.get("Resource", [])
        for resource in [resources] if isinstance(resources, str) else resources:
            if resource.startswith(arn) and resource.endswith("*"):
                prefixes.append(resource[len(arn) : -1])
    return prefixes


def with_prefixes(
    policy: Mapping[str, Any] | None, bucket: str, prefixes: Sequence[str]
) -> dict[str, Any] | None:
    """``policy`` with our statement set to ``prefixes``; None when nothing would remain."""
    others = [item for item in statements(policy) if item.get("Sid") != SID]
    kept = [*others, statement(bucket, prefixes)] if prefixes else others
    if not kept:
        return None
    return {**(policy or {"Version": "2012-10-17"}), "Statement": kept}
