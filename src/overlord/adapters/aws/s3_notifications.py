"""The S3 event notification that sends each landed dataset manifest to the object-created
Lambda, kept beside whatever other notifications a bucket's owner configured.

Only manifests (``raw/.../_manifest.json``) notify: a manifest is written last, so its arrival
means its folder is complete, and the thousands of files before it cost no invocation. The
configuration is ours by its ``Id``; anything else on the bucket is left as it is.
"""

from __future__ import annotations

from typing import Any

from overlord.domain.manifests import MANIFEST_NAME, RAW_PREFIX

CONFIGURATION_ID = "overlord-object-created"


def wanted(function_arn: str) -> dict[str, Any]:
    return {
        "Id": CONFIGURATION_ID,
        "LambdaFunctionArn": function_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {
            "Key": {
                "FilterRules": [
                    {"Name": "prefix", "Value": f"{RAW_PREFIX}/"},
                    {"Name": "suffix", "Value": MANIFEST_NAME},
                ]
            }
        },
    }


def _comparable(configuration: dict[str, Any]) -> Any:
    rules = configuration.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    return (
        configuration.get("LambdaFunctionArn"),
        sorted(configuration.get("Events", [])),
        sorted((rule["Name"].lower(), rule["Value"]) for rule in rules),
    )


def ensure(s3: Any, bucket: str, function_arn: str) -> bool:
    """Make the bucket notify ``function_arn`` of landed manifests; True when it changed."""
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    ours = wanted(function_arn)
    lambdas = current.get("LambdaFunctionConfigurations", [])
    mine = [c for c in lambdas if c.get("Id") == CONFIGURATION_ID]
    if len(mine) == 1 and _comparable(mine[0]) == _comparable(ours):
        return False
    current["LambdaFunctionConfigurations"] = [
        *(c for c in lambdas if c.get("Id") != CONFIGURATION_ID),
        ours,
    ]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=current)
    return True
