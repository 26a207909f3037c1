"""Buckets and objects: the filesystem locally, S3 on AWS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from overlord.domain.infrastructure import BucketSpec, ObjectInfo


class ObjectStore(Protocol):
    """Keys are validated with `overlord.domain.names.validate_object_key` by every adapter.

    Bucket names are slugs of 3-63 characters (`overlord.domain.names.slug`); anything else
    raises `InvalidName` before a backend is touched, and so does a refused key: nothing is
    written. A store that keeps files may also refuse, with `InvalidName`, a valid key its
    filesystem cannot hold (a path segment over 255 bytes).

    Every object operation on a bucket that does not exist raises `NotFound`; so does reading a
    missing key. Deleting what is already gone (an object, a bucket) is not an error: deletion
    is retried freely.

    A key cannot be both an object and a folder of other objects ('a' beside 'a/b'): a
    filesystem cannot hold both, so the memory and local stores refuse the second with
    `Conflict` and change nothing. S3 may accept it; portable code never relies on either.
    """

    def describe_bucket(self, name: str) -> BucketSpec | None:
        """The bucket as it is (public-read prefixes sorted, without duplicates), or None."""

    def ensure_bucket(self, spec: BucketSpec) -> None:
        """Create the bucket private, or bring its public-read prefixes to ``spec``'s.

        Each prefix ends with '/', holds no '*' or '?' (policy wildcards) and what precedes the
        '/' is a valid key, else `InvalidName`.
        """

    def delete_bucket(self, name: str, *, purge: bool = False) -> None:
        """Delete an empty bucket; with ``purge`` empty it first. `Conflict` if not empty."""

    def put_object(
        self, bucket: str, key: str, data: bytes, *, content_type: str | None = None
    ) -> None:
        """Write the whole object at once: a reader sees the old bytes or the new, never a mix."""

    def get_object(self, bucket: str, key: str) -> bytes: ...

    def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key (code point order,
        which is S3's UTF-8 byte order)."""

    def delete_object(self, bucket: str, key: str) -> None: ...

    def put_many(self, bucket: str, objects: Mapping[str, bytes], *, concurrency: int = 16) -> None:
        """Upload many objects with at most ``concurrency`` requests in flight (at least one).

        Every key is validated before the first upload, so a refused key writes nothing.
        """

    def get_many(
        self, bucket: str, keys: Sequence[str], *, concurrency: int = 16
    ) -> dict[str, bytes]:
        """Download many objects concurrently; `NotFound` if any of them is missing."""
