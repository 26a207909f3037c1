"""Buckets in a dict, behaving exactly like the local filesystem store so unit tests can trust it.

It keeps the local store's one extra rule (a key cannot also be a folder of other keys) so that
code tested here does not break on the embedded default. The bucket and prefix checks are the
ones every store shares (`overlord.adapters.object_rules`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from attrs import define, field

from overlord.adapters.object_rules import check_bucket, check_data, check_prefixes
from overlord.domain.errors import Conflict, NotFound
from overlord.domain.infrastructure import BucketSpec, ObjectInfo
from overlord.domain.names import validate_object_key


def parents(key: str) -> list[str]:
    """The folders a key lives in: 'a/b/c' -> ['a', 'a/b']."""
    parts = key.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


@define
class _Bucket:
    prefixes: tuple[str, ...]
    objects: dict[str, bytes] = field(factory=dict)
    folders: dict[str, int] = field(factory=dict)  # folder -> how many keys live under it


class MemoryObjectStore:
    """ObjectStore in process memory; thread-safe.

    >>> store = MemoryObjectStore()
    >>> store.ensure_bucket(BucketSpec("overlord-acme-weather"))
    >>> store.put_object("overlord-acme-weather", "raw/a.csv", b"x,y")
    >>> store.list_objects("overlord-acme-weather")
    [ObjectInfo(key='raw/a.csv', size=3)]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, name: str) -> _Bucket:
        bucket = self._buckets.get(check_bucket(name))
        if bucket is None:
            raise NotFound(f"bucket {name!r} does not exist")
        return bucket

    def describe_bucket(self, name: str) -> BucketSpec | None:
        check_bucket(name)
        with self._lock:
            bucket = self._buckets.get(name)
            return None if bucket is None else BucketSpec(name, bucket.prefixes)

    def ensure_bucket(self, spec: BucketSpec) -> None:
        name = check_bucket(spec.name)
        prefixes = check_prefixes(spec.public_read_prefixes)
        with self._lock:
            bucket = self._buckets.setdefault(name, _Bucket(prefixes))
            bucket.prefixes = prefixes

    def delete_bucket(self, name: str, *, purge: bool = False) -> None:
        check_bucket(name)
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                return
            if bucket.objects and not purge:
                raise Conflict(f"bucket {name!r} is not empty; purge it to delete it")
            del self._buckets[name]

    def put_object(
        self, bucket: str, key: str, data: bytes, *, content_type: str | None = None
    ) -> None:
        validate_object_key(key)
        body = check_data(data)
        with self._lock:
            self._put(self._bucket(bucket), key, body)

    def _put(self, bucket: _Bucket, key: str, body: bytes) -> None:
        if key in bucket.folders:
            raise Conflict(f"key {key!r} is already a folder of other objects")
        folders = parents(key)
        clash = next((f for f in folders if f in bucket.objects), None)
        if clash is not None:
            raise Conflict(f"key {key!r} would put a folder where object {clash!r} is")
        if key not in bucket.objects:
            for folder in folders:
                bucket.folders[folder] = bucket.folders.get(folder, 0) + 1
        bucket.objects[key] = body

    def get_object(self, bucket: str, key: str) -> bytes:
        validate_object_key(key)
        with self._lock:
            data = self._bucket(bucket).objects.get(key)
        if data is None:
            raise NotFound(f"no object {key!r} in bucket {bucket!r}")
        return data

    def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        with self._lock:
            objects = self._bucket(bucket).objects
            found = [ObjectInfo(k, len(v)) for k, v in objects.items() if k.startswith(prefix)]
        return sorted(found, key=lambda info: info.key)

    def delete_object(self, bucket: str, key: str) -> None:
        validate_object_key(key)
        with self._lock:
            stored = self._bucket(bucket)
            if stored.objects.pop(key, None) is None:
                return
            for folder in parents(key):
                stored.folders[folder] -= 1
                if not stored.folders[folder]:
                    del stored.folders[folder]

    def put_many(self, bucket: str, objects: Mapping[str, bytes], *, concurrency: int = 16) -> None:
        bodies = {validate_object_key(key): check_data(data) for key, data in objects.items()}
        with self._lock:
            stored = self._bucket(bucket)
            for key, body in bodies.items():
                self._put(stored, key, body)

    def get_many(
        self, bucket: str, keys: Sequence[str], *, concurrency: int = 16
    ) -> dict[str, bytes]:
        wanted = [validate_object_key(key) for key in keys]
        with self._lock:
            objects = self._bucket(bucket).objects
            missing = next((key for key in wanted if key not in objects), None)
            if missing is not None:
                raise NotFound(f"no object {missing!r} in bucket {bucket!r}")
            return {key: objects[key] for key in wanted}
