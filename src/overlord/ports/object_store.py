"""Buckets and objects: the filesystem locally, S3 on AWS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from overlord.domain.infrastructure import BucketSpec, ObjectInfo


class ObjectStore(Protocol):
    """Keys are validated with `overlord.domain.names.validate_object_key` by every adapter.

    Writing to or reading from a bucket that does not exist raises `NotFound`; so does reading a
    missing key. Deleting what is already gone is not an error: deletion is retried freely.
    """

    def describe_bucket(self, name: str) -> BucketSpec | None:
        """The bucket as it is, or None when it does not exist."""

    def ensure_bucket(self, spec: BucketSpec) -> None:
        """Create the bucket private, or bring its public-read prefixes to ``spec``'s."""

    def delete_bucket(self, name: str, *, purge: bool = False) -> None:
        """Delete an empty bucket; with ``purge`` empty it first. `Conflict` if not empty."""

    def put_object(
        self, bucket: str, key: str, data: bytes, *, content_type: str | None = None
    ) -> None: ...

    def get_object(self, bucket: str, key: str) -> bytes: ...

    def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        """Every object under ``prefix``, sorted by key."""

    def delete_object(self, bucket: str, key: str) -> None: ...

    def put_many(self, bucket: str, objects: Mapping[str, bytes], *, concurrency: int = 16) -> None:
        """Upload many objects with at most ``concurrency`` requests in flight."""

    def get_many(
        self, bucket: str, keys: Sequence[str], *, concurrency: int = 16
    ) -> dict[str, bytes]: ...
