"""The ObjectStore contract: one suite that every adapter of the port must pass.

Add an adapter to ``FACTORIES`` to run it here. Every test names its own bucket, so a store shared
by many tests (an AWS-API endpoint) needs no clean-up between them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.adapters.aws.object_store import S3ObjectStore
from overlord.adapters.local.object_store import LocalObjectStore
from overlord.adapters.memory.object_store import MemoryObjectStore
from overlord.domain.errors import Conflict, InvalidName, NotFound
from overlord.domain.infrastructure import BucketSpec, ObjectInfo
from overlord.ports.object_store import ObjectStore

FACTORIES: dict[str, Callable[[pytest.FixtureRequest], ObjectStore]] = {
    "memory": lambda request: MemoryObjectStore(),
    "local": lambda request: LocalObjectStore(request.getfixturevalue("tmp_path") / "objects"),
    "s3": lambda request: (request.getfixturevalue("aws_endpoint"), S3ObjectStore())[1],
}

HOSTILE_KEYS = [
    "",
    "../x",
    "..",
    ".",
    "/abs",
    "a//b",
    "a/./b",
    "a/../b",
    "a/",
    "a\\b",
    "a\x00b",
    "a\nb",
    "x" * 1025,
    "é" * 513,  # 1026 bytes in UTF-8
]


def new_bucket_name() -> str:
    return f"ct-{uuid.uuid4().hex[:24]}"


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest) -> ObjectStore:
    return FACTORIES[request.param](request)


@pytest.fixture
def bucket(store: ObjectStore) -> Iterator[str]:
    name = new_bucket_name()
    store.ensure_bucket(BucketSpec(name))
    yield name
    store.delete_bucket(name, purge=True)


def keys_of(store: ObjectStore, bucket: str, prefix: str = "") -> list[str]:
    return [info.key for info in store.list_objects(bucket, prefix)]


# buckets


def test_a_new_bucket_is_private(store: ObjectStore) -> None:
    name = new_bucket_name()
    assert store.describe_bucket(name) is None
    store.ensure_bucket(BucketSpec(name))
    store.ensure_bucket(BucketSpec(name))
    assert store.describe_bucket(name) == BucketSpec(name)
    assert store.list_objects(name) == []
    store.delete_bucket(name)
    assert store.describe_bucket(name) is None


def test_public_read_prefixes_round_trip_sorted_and_deduplicated(store: ObjectStore) -> None:
    name = new_bucket_name()
    store.ensure_bucket(BucketSpec(name, ("reports/", "public/data/", "reports/")))
    assert store.describe_bucket(name) == BucketSpec(name, ("public/data/", "reports/"))
    store.ensure_bucket(BucketSpec(name, ("public/",)))
    assert store.describe_bucket(name) == BucketSpec(name, ("public/",))
    store.ensure_bucket(BucketSpec(name))
    assert store.describe_bucket(name) == BucketSpec(name)
    assert store.list_objects(name) == []
    store.delete_bucket(name)


@pytest.mark.parametrize("prefix", ["public", "", "/", "../", "a//", "pub*/", "a?/", "a\\b/"])
def test_a_prefix_that_is_not_a_folder_is_refused(store: ObjectStore, prefix: str) -> None:
    name = new_bucket_name()
    with pytest.raises(InvalidName):
        store.ensure_bucket(BucketSpec(name, (prefix,)))
    assert store.describe_bucket(name) is None


@pytest.mark.parametrize(
    "name", ["ab", "..", "../etc", "a/b", "Upper-case", "under_score", ".hidden", "-dash", "x" * 64]
)
def test_a_bucket_name_that_is_not_a_slug_is_refused(store: ObjectStore, name: str) -> None:
    with pytest.raises(InvalidName):
        store.ensure_bucket(BucketSpec(name))
    with pytest.raises(InvalidName):
        store.put_object(name, "key", b"x")
    with pytest.raises(InvalidName):
        store.describe_bucket(name)


def test_a_missing_bucket_is_not_found_except_when_deleting_it(store: ObjectStore) -> None:
    name = new_bucket_name()
    store.delete_bucket(name)
    store.delete_bucket(name, purge=True)
    for call in (
        lambda: store.put_object(name, "k", b"x"),
        lambda: store.get_object(name, "k"),
        lambda: store.list_objects(name),
        lambda: store.delete_object(name, "k"),
        lambda: store.put_many(name, {"k": b"x"}),
        lambda: store.get_many(name, ["k"]),
    ):
        with pytest.raises(NotFound):
            call()
    assert store.describe_bucket(name) is None


def test_a_bucket_with_objects_is_deleted_only_with_purge(store: ObjectStore) -> None:
    name = new_bucket_name()
    store.ensure_bucket(BucketSpec(name, ("public/",)))
    store.put_many(name, {"a/b/c.txt": b"1", "d.txt": b"22"})
    with pytest.raises(Conflict):
        store.delete_bucket(name)
    assert store.describe_bucket(name) == BucketSpec(name, ("public/",))
    assert keys_of(store, name) == ["a/b/c.txt", "d.txt"]
    assert store.get_object(name, "a/b/c.txt") == b"1"
    store.delete_bucket(name, purge=True)
    assert store.describe_bucket(name) is None
    store.ensure_bucket(BucketSpec(name))
    assert store.describe_bucket(name) == BucketSpec(name)
    assert store.list_objects(name) == []
    store.delete_bucket(name)


# objects


def test_objects_round_trip_byte_for_byte(store: ObjectStore, bucket: str) -> None:
    payload = bytes(range(256)) * 4
    store.put_object(bucket, "raw/2024/data.bin", payload, content_type="application/octet-stream")
    store.put_object(bucket, "empty", b"")
    assert store.get_object(bucket, "raw/2024/data.bin") == payload
    assert store.get_object(bucket, "empty") == b""
    store.put_object(bucket, "empty", b"now full")
    assert store.get_object(bucket, "empty") == b"now full"


def test_a_missing_key_is_not_found(store: ObjectStore, bucket: str) -> None:
    store.put_object(bucket, "a/b", b"x")
    for key in ("missing", "a", "a/b/c", "a/c"):
        with pytest.raises(NotFound):
            store.get_object(bucket, key)


def test_list_is_sorted_by_key_and_filtered_by_prefix(store: ObjectStore, bucket: str) -> None:
    objects = {
        "b.txt": b"1",
        "a/2.txt": b"22",
        "a/10.txt": b"333",
        "a/1.txt": b"4444",
        "ab": b"",
        "é/x": b"5",
        "z/y/x/w": b"6",
    }
    store.put_many(bucket, objects)
    assert store.list_objects(bucket) == [
        ObjectInfo(key, len(objects[key])) for key in sorted(objects)
    ]
    assert keys_of(store, bucket, "a/") == ["a/1.txt", "a/10.txt", "a/2.txt"]
    assert keys_of(store, bucket, "a/1") == ["a/1.txt", "a/10.txt"]
    assert keys_of(store, bucket, "a") == ["a/1.txt", "a/10.txt", "a/2.txt", "ab"]
    assert keys_of(store, bucket, "z/y/") == ["z/y/x/w"]
    assert keys_of(store, bucket, "é") == ["é/x"]
    for nothing in ("zz", "a/3", "../", "a//", "/a"):
        assert keys_of(store, bucket, nothing) == []


def test_deleting_an_object_is_idempotent_and_spares_its_neighbours(
    store: ObjectStore, bucket: str
) -> None:
    store.put_many(bucket, {"a/b/c": b"1", "a/b/d": b"2", "a/e": b"3"})
    store.delete_object(bucket, "a/b/c")
    store.delete_object(bucket, "a/b/c")
    store.delete_object(bucket, "never/there")
    assert keys_of(store, bucket) == ["a/b/d", "a/e"]
    store.delete_object(bucket, "a/b/d")
    assert keys_of(store, bucket) == ["a/e"]
    store.put_object(bucket, "a/b", b"now an object")
    assert store.get_object(bucket, "a/b") == b"now an object"


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=lambda key: repr(key)[:20])
def test_a_hostile_key_is_refused_and_nothing_is_written(
    store: ObjectStore, bucket: str, key: str
) -> None:
    with pytest.raises(InvalidName):
        store.put_object(bucket, key, b"x")
    with pytest.raises(InvalidName):
        store.put_many(bucket, {"good": b"1", key: b"x"})
    with pytest.raises(InvalidName):
        store.get_object(bucket, key)
    with pytest.raises(InvalidName):
        store.get_many(bucket, [key])
    with pytest.raises(InvalidName):
        store.delete_object(bucket, key)
    assert store.list_objects(bucket) == []


def test_keys_that_look_like_store_internals_are_plain_objects(
    store: ObjectStore, bucket: str
) -> None:
    keys = [".overlord", ".overlord-bucket.json", ".tmp/x", "_SUCCESS", "..a", "a..", "~"]
    store.put_many(bucket, {key: key.encode() for key in keys})
    assert keys_of(store, bucket) == sorted(keys)
    assert store.get_many(bucket, keys) == {key: key.encode() for key in keys}
    assert store.describe_bucket(bucket) == BucketSpec(bucket)


def test_a_key_is_never_both_an_object_and_a_folder_unless_the_store_keeps_both(
    store: ObjectStore, bucket: str
) -> None:
    store.put_object(bucket, "a/b", b"inner")
    try:
        store.put_object(bucket, "a", b"outer")
    except Conflict:
        assert keys_of(store, bucket) == ["a/b"]
    else:
        assert store.get_many(bucket, ["a", "a/b"]) == {"a": b"outer", "a/b": b"inner"}
    store.put_object(bucket, "c", b"file")
    try:
        store.put_object(bucket, "c/d", b"below")
    except Conflict:
        assert store.get_object(bucket, "c") == b"file"
        with pytest.raises(NotFound):
            store.get_object(bucket, "c/d")
    else:
        assert store.get_many(bucket, ["c", "c/d"]) == {"c": b"file", "c/d": b"below"}


def test_many_objects_go_up_and_come_back_concurrently(store: ObjectStore, bucket: str) -> None:
    objects = {f"batch/{i // 50}/item-{i:03d}.json": f'{{"i": {i}}}'.encode() for i in range(200)}
    store.put_many(bucket, objects, concurrency=8)
    assert keys_of(store, bucket) == sorted(objects)
    assert store.get_many(bucket, list(objects), concurrency=8) == objects
    assert store.get_many(bucket, []) == {}
    store.put_many(bucket, {})


def test_get_many_fails_when_one_key_is_missing(store: ObjectStore, bucket: str) -> None:
    store.put_many(bucket, {"a": b"1", "b": b"2"})
    with pytest.raises(NotFound):
        store.get_many(bucket, ["a", "missing", "b"])


_SEGMENT = st.text(alphabet=st.sampled_from("ab./\\\x00\n é~-_%*"), min_size=0, max_size=6)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.one_of(_SEGMENT, st.lists(_SEGMENT, max_size=4).map("/".join), st.text()))
def test_any_key_either_round_trips_or_is_refused(
    store: ObjectStore, bucket: str, key: str
) -> None:
    try:
        store.put_object(bucket, key, key.encode("utf-8", "surrogatepass"))
    except InvalidName:
        assert store.list_objects(bucket) == []
        return
    assert store.get_object(bucket, key) == key.encode("utf-8", "surrogatepass")
    assert keys_of(store, bucket) == [key]
    store.delete_object(bucket, key)
    assert store.list_objects(bucket) == []
