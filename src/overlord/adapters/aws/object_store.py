"""S3 as the ObjectStore: private buckets by construction, public reads only where a template says.

Every bucket is created with ACLs disabled (BucketOwnerEnforced), all four Block Public Access
flags on and default SSE-S3 encryption, so a bucket is never public by accident. Public-read
prefixes become one bucket-policy statement (``s3:GetObject`` on ``bucket/prefix*``), and only
the two policy-related Block Public Access flags are relaxed to let it through. Bulk transfers
use aioboto3 with a semaphore, which keeps many requests in flight on one thread.

Given ``notify_arn`` (the object-created Lambda of a deployed platform), every bucket it makes
or updates notifies that function of each dataset manifest that lands (`s3_notifications`), so
folders are processed as they arrive, whoever uploads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from overlord.adapters.aws import s3_notifications, s3_policy
from overlord.adapters.aws.clients import AwsClients, backend_error, error_code
from overlord.adapters.aws.s3_transfer import AsyncTarget, Call, for_each_key, run
from overlord.adapters.object_rules import check_bucket, check_data, check_prefixes
from overlord.domain.errors import Conflict, Forbidden, InvalidName, NotFound
from overlord.domain.infrastructure import BucketSpec, ObjectInfo
from overlord.domain.names import validate_object_key

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef
    from types_aiobotocore_s3 import S3Client as AsyncS3Client

_MISSING_BUCKET = frozenset({"NoSuchBucket", "404", "NotFound"})
_MISSING_KEY = frozenset({"NoSuchKey", "404", "NotFound"})


class S3ObjectStore:
    """ObjectStore on S3 (or anything speaking its API, through ``AWS_ENDPOINT_URL``).

    >>> store = S3ObjectStore()  # doctest: +SKIP
    >>> store.ensure_bucket(BucketSpec("overlord-acme-weather", ("public/",)))  # doctest: +SKIP
    """

    def __init__(
        self,
        client: S3Client | None = None,
        *,
        session: boto3.session.Session | None = None,
        region: str | None = None,
        clients: AwsClients | None = None,
        notify_arn: str | None = None,
    ) -> None:
        """Without ``client``, the S3 client of ``clients`` (or of ``session``), made on the
        first call. ``notify_arn``: the Lambda function buckets notify of landed manifests."""
        self._given_client = client
        self._clients = clients or AwsClients(session)
        self._injected = client is not None
        self._profile = session.profile_name if session is not None else None
        self._given_region = region
        self._notify_arn = notify_arn

    @cached_property
    def _client(self) -> S3Client:
        if self._given_client is not None:
            return self._given_client
        made: S3Client = self._clients.client("s3", region_name=self._given_region)
        return made

    @cached_property
    def _region(self) -> str | None:
        return self._given_region or self._client.meta.region_name

    # buckets

    def describe_bucket(self, name: str) -> BucketSpec | None:
        check_bucket(name)
        try:
            self._client.head_bucket(Bucket=name)
        except Exception as exc:
            if error_code(exc) in _MISSING_BUCKET:
                return None
            raise self._translate(exc, f"describe bucket {name}") from exc
        return BucketSpec(name, check_prefixes(s3_policy.public_prefixes(self._policy(name), name)))

    def ensure_bucket(self, spec: BucketSpec) -> None:
        wanted = check_prefixes(spec.public_read_prefixes)
        current = self.describe_bucket(spec.name)
        if current is None:
            self._create_private(spec.name)
            current = BucketSpec(spec.name)
        if current.public_read_prefixes != wanted:
            self._apply_prefixes(spec.name, wanted)
        if self._notify_arn is not None:
            try:
                s3_notifications.ensure(self._client, spec.name, self._notify_arn)
            except Exception as exc:
                raise self._translate(exc, f"set the notifications of bucket {spec.name}") from exc

    def delete_bucket(self, name: str, *, purge: bool = False) -> None:
        check_bucket(name)
        for _ in range(5):
            if purge:
                self._purge(name)
            try:
                self._client.delete_bucket(Bucket=name)
                return
            except Exception as exc:
                code = error_code(exc)
                if code in _MISSING_BUCKET:
                    return
                if code != "BucketNotEmpty":
                    raise self._translate(exc, f"delete bucket {name}") from exc
                if not purge:
                    raise Conflict(f"bucket {name} is not empty; purge it to delete it") from None
        raise Conflict(f"bucket {name} kept receiving objects while it was being purged")

    def _create_private(self, name: str) -> None:
        s3 = self._client
        create: dict[str, Any] = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
        if self._region and self._region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        try:
            s3.create_bucket(**create)
        except Exception as exc:
            code = error_code(exc)
            if code == "BucketAlreadyExists":
                raise Conflict(f"bucket name {name} is taken by another AWS account") from None
            if code == "InvalidBucketName":
                raise InvalidName(f"invalid bucket name {name!r}") from None
            if code != "BucketAlreadyOwnedByYou":
                raise self._translate(exc, f"create bucket {name}") from exc
        try:
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration=s3_policy.PRIVATE,
            )
            s3.put_bucket_ownership_controls(
                Bucket=name,
                OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            )
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        except Exception as exc:
            raise self._translate(exc, f"make bucket {name} private") from exc

    def _policy(self, name: str) -> dict[str, Any] | None:
        try:
            text = self._client.get_bucket_policy(Bucket=name)["Policy"]
        except Exception as exc:
            if error_code(exc) == "NoSuchBucketPolicy":
                return None
            raise self._translate(exc, f"read the policy of bucket {name}") from exc
        policy: dict[str, Any] = json.loads(text)
        return policy

    def _apply_prefixes(self, name: str, prefixes: tuple[str, ...]) -> None:
        """Relax Block Public Access before a public policy goes on; restore it after it left."""
        policy = s3_policy.with_prefixes(self._policy(name), name, prefixes)
        s3 = self._client
        try:
            if prefixes:
                s3.put_public_access_block(
                    Bucket=name, PublicAccessBlockConfiguration=s3_policy.POLICY_ALLOWED
                )
            if policy is None:
                s3.delete_bucket_policy(Bucket=name)
            else:
                s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
            if not prefixes:
                s3.put_public_access_block(
                    Bucket=name, PublicAccessBlockConfiguration=s3_policy.PRIVATE
                )
        except Exception as exc:
            raise self._translate(exc, f"set the public prefixes of bucket {name}") from exc

    def _purge(self, name: str) -> None:
        """Delete every object version and delete marker (plain objects are version 'null')."""
        paginator = self._client.get_paginator("list_object_versions")
        errors: list[Any] = []
        try:
            for page in paginator.paginate(Bucket=name):
                doomed: list[ObjectIdentifierTypeDef] = [
                    {"Key": item["Key"], "VersionId": item["VersionId"]}
                    for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                ]
                if doomed:
                    result = self._client.delete_objects(
                        Bucket=name, Delete={"Objects": doomed, "Quiet": True}
                    )
                    errors.extend(result.get("Errors", []))
        except Exception as exc:
            if error_code(exc) in _MISSING_BUCKET:
                return
            raise self._translate(exc, f"purge bucket {name}") from exc
        if errors:
            first = errors[0]
            raise Conflict(f"cannot purge {name}/{first.get('Key')}: {first.get('Code')}")

    # objects

    def put_object(
        self, bucket: str, key: str, data: bytes, *, content_type: str | None = None
    ) -> None:
        validate_object_key(key)
        check_bucket(bucket)
        data = check_data(data)
        try:
            if content_type:
                self._client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
            else:
                self._client.put_object(Bucket=bucket, Key=key, Body=data)
        except Exception as exc:
            raise self._translate(exc, f"put {bucket}/{key}") from exc

    def get_object(self, bucket: str, key: str) -> bytes:
        validate_object_key(key)
        check_bucket(bucket)
        try:
            return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise self._translate(exc, f"get {bucket}/{key}") from exc

    def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        check_bucket(bucket)
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            found = [
                ObjectInfo(item["Key"], item["Size"])
                for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
                for item in page.get("Contents", [])
            ]
        except Exception as exc:
            raise self._translate(exc, f"list {bucket}/{prefix}") from exc
        return sorted(found, key=lambda info: info.key)

    def delete_object(self, bucket: str, key: str) -> None:
        validate_object_key(key)
        check_bucket(bucket)
        try:
            self._client.delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise self._translate(exc, f"delete {bucket}/{key}") from exc

    def put_many(self, bucket: str, objects: Mapping[str, bytes], *, concurrency: int = 16) -> None:
        bodies = {validate_object_key(key): check_data(data) for key, data in objects.items()}

        async def put(s3: AsyncS3Client, key: str) -> None:
            await s3.put_object(Bucket=bucket, Key=key, Body=bodies[key])

        self._bulk(bucket, list(bodies), put, concurrency)

    def get_many(
        self, bucket: str, keys: Sequence[str], *, concurrency: int = 16
    ) -> dict[str, bytes]:
        wanted = [validate_object_key(key) for key in keys]
        found: dict[str, bytes] = {}

        async def get(s3: AsyncS3Client, key: str) -> None:
            response = await s3.get_object(Bucket=bucket, Key=key)
            async with response["Body"] as body:
                found[key] = await body.read()

        self._bulk(bucket, list(dict.fromkeys(wanted)), get, concurrency)
        return {key: found[key] for key in wanted}

    def _bulk(self, bucket: str, keys: list[str], call: Call, concurrency: int) -> None:
        if not keys:  # still NotFound for a missing bucket, like every other call
            if self.describe_bucket(bucket) is None:
                raise NotFound(f"bucket {bucket!r} does not exist")
            return

        def translate(exc: BaseException, doing: str) -> BaseException:
            return self._translate(exc, f"{doing} in {bucket}")

        target = AsyncTarget(
            region=self._region,
            profile=self._profile,
            # An injected client may point anywhere; otherwise both clients read the same
            # standard configuration (AWS_ENDPOINT_URL included) by themselves.
            endpoint_url=self._client.meta.endpoint_url if self._injected else None,
        )
        run(for_each_key(target, keys, call, concurrency=concurrency, translate=translate))

    def _translate(self, exc: BaseException, doing: str) -> BaseException:
        code = error_code(exc)
        if code == "NoSuchBucket":
            return NotFound(f"{doing}: no such bucket")
        if code in _MISSING_KEY:
            return NotFound(f"{doing}: no such object")
        if code in ("AccessDenied", "403", "Forbidden"):
            return Forbidden(f"{doing}: access denied")
        return backend_error(exc, doing)
