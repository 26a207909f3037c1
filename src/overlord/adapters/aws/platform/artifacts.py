"""The calls around a stack: the code it runs, the objects its buckets hold, the settings its
functions run with, and the state machines its platform made for batches."""

from __future__ import annotations

from typing import Any

from overlord.adapters.aws.clients import AwsClients, backend_error, error_code
from overlord.adapters.aws.platform.cloudformation import boundary
from overlord.domain.errors import Conflict

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class Artifacts:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def _s3(self) -> Any:
        return self._clients.client("s3")

    def upload(self, bucket: str, key: str, data: bytes, content_type: str) -> str:
        """Put ``data`` at ``key`` unless an object of that size is there already (keys are
        digests of their content); the object's URL, as CloudFormation reads templates."""
        from botocore.exceptions import ClientError

        try:
            head = self._s3.head_object(Bucket=bucket, Key=key)
            present = int(head.get("ContentLength", -1)) == len(data)
        except ClientError as exc:
            if error_code(exc) not in _MISSING:
                raise backend_error(exc, f"look for {bucket}/{key}") from exc
            present = False
        if not present:
            with boundary(f"upload {bucket}/{key}"):
                self._s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        region = self._s3.meta.region_name
        suffix = ".cn" if region.startswith("cn-") else ""
        return f"https://s3.{region}.amazonaws.com{suffix}/{bucket}/{key}"

    def _versions(self, bucket: str) -> list[dict[str, str]]:
        """Every object version and delete marker; none when the bucket is gone."""
        from botocore.exceptions import ClientError

        pages = self._s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        try:
            return [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for page in pages
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
        except ClientError as exc:
            if error_code(exc) == "NoSuchBucket":
                return []
            raise backend_error(exc, f"list the objects of bucket {bucket}") from exc

    def count(self, bucket: str) -> int:
        """Objects, versions and delete markers in the bucket (0 when it is gone)."""
        return len(self._versions(bucket))

    def empty(self, bucket: str) -> int:
        """Delete everything the bucket holds, every version included; how much that was."""
        doomed = self._versions(bucket)
        for start in range(0, len(doomed), 1000):
            with boundary(f"empty bucket {bucket}"):
                result = self._s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
                )
            errors = result.get("Errors", [])
            if errors:
                first = errors[0]
                raise Conflict(f"cannot empty {bucket}: {first.get('Key')}: {first.get('Code')}")
        return len(doomed)

    def function_environment(self, function: str) -> dict[str, str]:
        with boundary(f"read the settings of function {function}"):
            found = self._clients.client("lambda").get_function_configuration(FunctionName=function)
        variables = found.get("Environment", {}).get("Variables", {})
        return {str(k): str(v) for k, v in variables.items()}

    def delete_state_machines(self, prefix: str) -> list[str]:
        """Delete every state machine named ``prefix...``: the batch pipelines the platform
        made as batches ran (`StepFunctionsWorkflow.ensure_pipeline`), which no stack holds."""
        states = self._clients.client("stepfunctions")
        with boundary("list state machines"):
            pages = states.get_paginator("list_state_machines").paginate()
            doomed = [
                (m["name"], m["stateMachineArn"])
                for page in pages
                for m in page["stateMachines"]
                if m["name"].startswith(prefix)
            ]
        for name, arn in doomed:
            with boundary(f"delete state machine {name}"):
                states.delete_state_machine(stateMachineArn=arn)
        return sorted(name for name, _ in doomed)
