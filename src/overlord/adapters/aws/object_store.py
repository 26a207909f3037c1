"""S3 as the ObjectStore: private buckets by construction, public reads only where a template says.

Every bucket is created with ACLs disabled (BucketOwnerEnforced), all four Block Public Access
flags on and default SSE-S3 encryption, so a bucket is never public by accident. Public-read
prefixes become one bucket-policy statement (``s3:GetObject`` on ``bucket/prefix*``), and only
the two policy-related Block Public Access flags are relaxed to let it through. Bulk transfers
use aioboto3 with a semaphore, which keeps many requests in flight on one thread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from overlord.adapters.aws.clients import backend_error, error_code
from overlord.adapters.aws.clients import client as build_client
from overlord.domain.errors import Conflict, Forbidden, InvalidName, NotFound
from overlord.domain.infrastructure import BucketSpec, ObjectInfo
from overlord.domain.names import validate_object_key

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_s3 import S3Client
    from types_aiobotocore_s3 import S3Client as AsyncS3Client

T = TypeVar("T")

POLICY_SID = "OverlordPublicReadPrefixes"
_PRIVATE = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# ACLs stay blocked; only a bucket policy may grant public reads.
_POLICY_ALLOWED = {**_PRIVATE, "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
_MISSING_BUCKET = frozenset({"NoSuchBucket", "404", "NotFound"})
_MISSING_KEY = frozenset({"NoSuchKey", "404", "NotFound"})


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion, in a worker thread when a loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def check_prefix(prefix: str) -> str:
    """A public prefix is a folder: a valid key ending in '/', with no policy wildcard in it."""
    if not isinstance(prefix, str) or not prefix.endswith("/") or any(c in prefix for c in "*?"):
        raise InvalidName(f"invalid public prefix {prefix!r}: a folder such as 'public/'")
    validate_object_key(prefix[:-1])
    return prefix


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
    ) -> None:
        self._client: S3Client = client or build_client("s3", session, region_name=region)
        self._injected = client is not None
        self._profile = session.profile_name if session is not None else None
        self._region = region or self._client.meta.region_name

    # buckets

    def describe_bucket(self, name: str) -> BucketSpec | None:
        try:
            self._client.head_bucket(Bucket=name)
        except Exception as exc:
            if error_code(exc) in _MISSING_BUCKET:
                return None
            raise self._translate(exc, f"describe bucket {name}") from exc
        return BucketSpec(name, tuple(sorted(self._public_prefixes(name))))

    def ensure_bucket(self, spec: BucketSpec) -> None:
        wanted = sorted({check_prefix(p) for p in spec.public_read_prefixes})
        current = self.describe_bucket(spec.name)
        if current is None:
            self._create_private(spec.name)
            current = BucketSpec(spec.name)
        if list(current.public_read_prefixes) != wanted:
            self._apply_prefixes(spec.name, wanted)

    def delete_bucket(self, name: str, *, purge: bool = False) -> None:
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
            if code != "BucketAlreadyOwnedByYou":
                raise self._translate(exc, f"create bucket {name}") from exc
        try:
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration=_PRIVATE,  # type: ignore[arg-type]
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

    def _public_prefixes(self, name: str) -> list[str]:
        policy = self._policy(name) or {}
        arn = f"arn:aws:s3:::{name}/"
        prefixes: list[str] = []
        for statement in _statements(policy):
            if statement.get("Sid") != POLICY_SID:
                continue
            resources = statement.get("Resource", [])
            for resource in [resources] if isinstance(resources, str) else resources:
                if resource.startswith(arn) and resource.endswith("*"):
                    prefixes.append(resource[len(arn) : -1])
        return prefixes

    def _apply_prefixes(self, name: str, prefixes: list[str]) -> None:
        policy = self._policy(name) or {"Version": "2012-10-17", "Statement": []}
        others = [s for s in _statements(policy) if s.get("Sid") != POLICY_SID]
        s3 = self._client
        try:
            if prefixes:
                statement = {
                    "Sid": POLICY_SID,
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": [f"arn:aws:s3:::{name}/{prefix}*" for prefix in prefixes],
                }
                policy["Statement"] = [*others, statement]
                s3.put_public_access_block(
                    Bucket=name,
                    PublicAccessBlockConfiguration=_POLICY_ALLOWED,  # type: ignore[arg-type]
                )
                s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
                return
            if others:
                policy["Statement"] = others
                s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
            else:
                s3.delete_bucket_policy(Bucket=name)
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration=_PRIVATE,  # type: ignore[arg-type]
            )
        except Exception as exc:
            raise self._translate(exc, f"set the public prefixes of bucket {name}") from exc

    def _purge(self, name: str) -> None:
        """Delete every object version and delete marker (plain objects are version 'null')."""
        paginator = self._client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=name):
                doomed = [
                    {"Key": item["Key"], "VersionId": item["VersionId"]}
                    for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                ]
                if not doomed:
                    continue
                result = self._client.delete_objects(
                    Bucket=name,
                    Delete={"Objects": doomed, "Quiet": True},  # type: ignore[typeddict-item]
                )
                errors = result.get("Errors", [])
                if errors:
                    first = errors[0]
                    raise Conflict(
                        f"cannot purge {name}/{first.get('Key')}: {first.get('Code')}"
                    )
        except Exception as exc:
            if error_code(exc) in _MISSING_BUCKET:
                return
            raise self._translate(exc, f"purge bucket {name}") from exc

    # objects

    def put_object(
        self, bucket: str, key: str, data: bytes, *, content_type: str | None = None
    ) -> None:
        validate_object_key(key)
        extra = {"ContentType": content_type} if content_type else {}
        try:
            self._client.put_object(Bucket=bucket, Key=key, Body=data, **extra)
        except Exception as exc:
            raise self._translate(exc, f"put {bucket}/{key}") from exc

    def get_object(self, bucket: str, key: str) -> bytes:
        validate_object_key(key)
        try:
            return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise self._translate(exc, f"get {bucket}/{key}") from exc

    def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
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
        try:
            self._client.delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise self._translate(exc, f"delete {bucket}/{key}") from exc

    def put_many(self, bucket: str, objects: Mapping[str, bytes], *, concurrency: int = 16) -> None:
        for key in objects:
            validate_object_key(key)

        async def put(s3: AsyncS3Client, key: str) -> None:
            await s3.put_object(Bucket=bucket, Key=key, Body=objects[key])

        _run(self._bulk(bucket, list(objects), put, concurrency))

    def get_many(
        self, bucket: str, keys: Sequence[str], *, concurrency: int = 16
    ) -> dict[str, bytes]:
        for key in keys:
            validate_object_key(key)
        found: dict[str, bytes] = {}

        async def get(s3: AsyncS3Client, key: str) -> None:
            response = await s3.get_object(Bucket=bucket, Key=key)
            async with response["Body"] as body:
                found[key] = await body.read()

        _run(self._bulk(bucket, list(dict.fromkeys(keys)), get, concurrency))
        return {key: found[key] for key in keys}

    async def _bulk(
        self,
        bucket: str,
        keys: list[str],
        call: Callable[[AsyncS3Client, str], Awaitable[None]],
        concurrency: int,
    ) -> None:
        """Apply ``call`` to every key with at most ``concurrency`` requests in flight."""
        if not keys:
            return
        import aioboto3
        from aiobotocore.config import AioConfig

        from overlord.adapters.aws.clients import MAX_ATTEMPTS

        limit = max(1, concurrency)
        session = aioboto3.Session(profile_name=self._profile)
        config = AioConfig(
            retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
            max_pool_connections=limit,
        )
        endpoint = self._client.meta.endpoint_url if self._injected else None
        semaphore = asyncio.Semaphore(limit)

        async def one(s3: AsyncS3Client, key: str) -> None:
            async with semaphore:
                try:
                    await call(s3, key)
                except Exception as exc:
                    raise self._translate(exc, f"transfer {bucket}/{key}") from exc

        async with session.client(
            "s3", region_name=self._region, endpoint_url=endpoint, config=config
        ) as s3:
            results = await asyncio.gather(
                *(one(s3, key) for key in keys), return_exceptions=True
            )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _translate(self, exc: BaseException, doing: str) -> BaseException:
        code = error_code(exc)
        if code == "NoSuchBucket":
            return NotFound(f"{doing}: no such bucket")
        if code in _MISSING_KEY:
            return NotFound(f"{doing}: no such object")
        if code in ("AccessDenied", "403", "Forbidden"):
            return Forbidden(f"{doing}: access denied")
        return backend_error(exc, doing)


def _statements(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)
