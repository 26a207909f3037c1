"""The DocumentStore contract: one suite that every adapter of the port must pass.

Add an adapter to ``FACTORIES`` to run it here. Every test names its own database, so a store
shared by many tests (a MongoDB server, an AWS-API endpoint) needs no clean-up between them.
"""

from __future__ import annotations

import math
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.adapters.aws.document_store import DynamoDocumentStore
from overlord.adapters.local.document_store import SqliteDocumentStore
from overlord.adapters.memory.document_store import MemoryDocumentStore
from overlord.adapters.mongo.document_store import MongoDocumentStore
from overlord.domain.errors import Conflict, DuplicateKey, InvalidInput, InvalidName, NotFound
from overlord.domain.indexes import IndexSpec
from overlord.ports.document_store import DocumentStore
from tests.serial_mongomock import serial_client

FACTORIES: dict[str, Callable[[pytest.FixtureRequest], DocumentStore]] = {
    "memory": lambda request: MemoryDocumentStore(),
    "local": lambda request: SqliteDocumentStore(request.getfixturevalue("tmp_path") / "docs"),
    "dynamodb": lambda request: (request.getfixturevalue("aws_endpoint"), DynamoDocumentStore())[1],
    "mongo": lambda request: MongoDocumentStore(serial_client()),
}

ITEMS = "items"
BY_STATUS = IndexSpec(("status",))
UNIQUE_EMAIL = IndexSpec(("email",), unique=True)
UNIQUE_PAIR = IndexSpec(("tenant", "name"), unique=True)
HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def new_database_name() -> str:
    return f"ct-{uuid.uuid4().hex[:20]}"


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest) -> DocumentStore:
    return FACTORIES[request.param](request)


@pytest.fixture
def db(store: DocumentStore) -> Iterator[str]:
    """A fresh database holding an empty, index-free ``items`` collection."""
    name = new_database_name()
    store.ensure_collection(name, ITEMS)
    yield name
    store.drop_database(name)


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def ids(documents: list[dict[str, Any]]) -> list[str]:
    return [document["_id"] for document in documents]


# databases and collections


def test_databases_are_ensured_listed_and_dropped_idempotently(store: DocumentStore) -> None:
    first, second = sorted([new_database_name(), new_database_name()])
    assert not store.database_exists(first)
    assert store.list_collections(first) == []
    store.ensure_database(first)
    store.ensure_database(first)
    store.ensure_collection(second, ITEMS)
    assert store.database_exists(first)
    assert store.database_exists(second)
    listed = store.list_databases()
    assert listed == sorted(listed)
    assert {first, second} <= set(listed)
    store.drop_database(first)
    store.drop_database(first)
    assert not store.database_exists(first)
    assert first not in store.list_databases()
    store.drop_database(second)
    assert store.list_collections(second) == []


def test_collections_are_listed_sorted_and_described_with_their_indexes(
    store: DocumentStore,
) -> None:
    database = new_database_name()
    assert store.describe_collection(database, ITEMS) is None
    store.ensure_collection(database, "zeta")
    store.ensure_collection(database, ITEMS, [UNIQUE_PAIR, BY_STATUS])
    store.ensure_collection(database, "alpha.v2", [UNIQUE_EMAIL])
    assert store.list_collections(database) == ["alpha.v2", ITEMS, "zeta"]
    assert store.describe_collection(database, "zeta") == ()
    assert store.describe_collection(database, ITEMS) == (BY_STATUS, UNIQUE_PAIR)
    store.ensure_collection(database, ITEMS, [UNIQUE_EMAIL])
    store.ensure_collection(database, ITEMS)
    assert store.describe_collection(database, ITEMS) == (BY_STATUS, UNIQUE_EMAIL, UNIQUE_PAIR)
    store.drop_collection(database, "zeta")
    store.drop_collection(database, "zeta")
    assert store.list_collections(database) == ["alpha.v2", ITEMS]
    assert store.describe_collection(database, "zeta") is None
    store.drop_database(database)


def test_a_dropped_collection_comes_back_empty_and_without_indexes(
    store: DocumentStore, db: str
) -> None:
    store.ensure_collection(db, ITEMS, [UNIQUE_EMAIL])
    store.insert(db, ITEMS, {"_id": "a", "email": "x@example.com"})
    store.drop_collection(db, ITEMS)
    with pytest.raises(NotFound):
        store.get(db, ITEMS, "a")
    store.ensure_collection(db, ITEMS)
    assert store.describe_collection(db, ITEMS) == ()
    assert store.find(db, ITEMS) == []
    store.insert(db, ITEMS, {"_id": "a", "email": "x@example.com"})
    store.insert(db, ITEMS, {"_id": "b", "email": "x@example.com"})


def test_dropping_a_database_drops_its_collections(store: DocumentStore, db: str) -> None:
    store.insert(db, ITEMS, {"_id": "a"})
    store.drop_database(db)
    assert not store.database_exists(db)
    assert store.list_collections(db) == []
    assert store.describe_collection(db, ITEMS) is None
    store.ensure_collection(db, ITEMS)
    assert store.find(db, ITEMS) == []


@pytest.mark.parametrize(
    "database", ["", "../x", "a/b", "Upper", "with.dot", "sp ace", "_lead", "x" * 64, "a\x00"]
)
def test_a_database_name_that_is_not_plain_is_refused(store: DocumentStore, database: str) -> None:
    for call in (
        lambda: store.ensure_database(database),
        lambda: store.ensure_collection(database, ITEMS),
        lambda: store.database_exists(database),
        lambda: store.list_collections(database),
        lambda: store.drop_database(database),
        lambda: store.insert(database, ITEMS, {"_id": "a"}),
        lambda: store.find(database, ITEMS),
    ):
        with pytest.raises(InvalidName):
            call()


@pytest.mark.parametrize(
    "collection", ["", "../x", "a/b", "Items", "$cmd", 'q"uote', "sp ace", ".hidden", "x" * 64]
)
def test_a_collection_name_that_is_not_plain_is_refused(
    store: DocumentStore, db: str, collection: str
) -> None:
    for call in (
        lambda: store.ensure_collection(db, collection),
        lambda: store.describe_collection(db, collection),
        lambda: store.drop_collection(db, collection),
        lambda: store.insert(db, collection, {"_id": "a"}),
        lambda: store.get(db, collection, "a"),
        lambda: store.count(db, collection),
    ):
        with pytest.raises(InvalidName):
            call()
    assert store.list_collections(db) == [ITEMS]


def test_every_document_call_on_a_collection_never_ensured_is_not_found(
    store: DocumentStore, db: str
) -> None:
    def calls(database: str, collection: str) -> list[Callable[[], object]]:
        return [
            lambda: store.insert(database, collection, {"_id": "a"}),
            lambda: store.insert_many(database, collection, [{"_id": "a"}]),
            lambda: store.insert_many(database, collection, []),
            lambda: store.get(database, collection, "a"),
            lambda: store.find(database, collection),
            lambda: store.count(database, collection),
            lambda: store.update(database, collection, "a", {"x": 1}),
            lambda: store.delete(database, collection, "a"),
        ]

    for call in [*calls(db, "never"), *calls(new_database_name(), ITEMS)]:
        with pytest.raises(NotFound):
            call()


# indexes


def test_a_unique_index_refuses_a_clash_and_writes_nothing(store: DocumentStore, db: str) -> None:
    store.ensure_collection(db, ITEMS, [UNIQUE_EMAIL, UNIQUE_PAIR])
    store.insert(db, ITEMS, {"_id": "a", "email": "a@example.com", "tenant": "t", "name": "n"})
    with pytest.raises(DuplicateKey):
        store.insert(db, ITEMS, {"_id": "b", "email": "a@example.com"})
    with pytest.raises(DuplicateKey):
        store.insert(db, ITEMS, {"_id": "c", "tenant": "t", "name": "n"})
    store.insert(db, ITEMS, {"_id": "d", "tenant": "t", "name": "other"})
    assert ids(store.find(db, ITEMS)) == ["a", "d"]
    with pytest.raises(DuplicateKey):
        store.update(db, ITEMS, "d", {"name": "n", "extra": 1})
    assert store.get(db, ITEMS, "d") == {"_id": "d", "tenant": "t", "name": "other"}


def test_a_unique_index_ignores_null_missing_and_structured_values(
    store: DocumentStore, db: str
) -> None:
    store.ensure_collection(db, ITEMS, [UNIQUE_EMAIL, UNIQUE_PAIR])
    documents: list[dict[str, Any]] = [
        {"_id": "1"},
        {"_id": "2"},
        {"_id": "3", "email": None, "tenant": "t"},
        {"_id": "4", "email": None, "tenant": "t"},
        {"_id": "5", "email": {"a": 1}, "tenant": "t", "name": None},
        {"_id": "6", "email": {"a": 1}, "tenant": "t", "name": None},
    ]
    for document in documents:
        store.insert(db, ITEMS, document)
    assert store.count(db, ITEMS) == len(documents)


def test_a_unique_index_compares_like_find(store: DocumentStore, db: str) -> None:
    store.ensure_collection(db, ITEMS, [UNIQUE_EMAIL])
    for i, email in enumerate([1, "1", 0.5]):
        store.insert(db, ITEMS, {"_id": str(i), "email": email})
    for email in (1.0, 1, "1", 0.5):
        with pytest.raises(DuplicateKey):
            store.insert(db, ITEMS, {"_id": "clash", "email": email})
    store.insert(db, ITEMS, {"_id": "other", "email": 2})
    assert store.get(db, ITEMS, "clash") is None


# mongomock compares index keys with Python's ``==`` (``True == 1``) where a MongoDB server keeps
# booleans and numbers apart; the mongo adapter's behaviour here needs a server (docs/mongo.md).
@pytest.mark.parametrize("name", sorted(set(FACTORIES) - {"mongo"}))
def test_a_unique_index_never_clashes_booleans_with_numbers(
    request: pytest.FixtureRequest, name: str
) -> None:
    store = FACTORIES[name](request)
    database = new_database_name()
    store.ensure_collection(database, ITEMS, [UNIQUE_EMAIL])
    for i, email in enumerate([1, True, False, 0]):
        store.insert(database, ITEMS, {"_id": str(i), "email": email})
    with pytest.raises(DuplicateKey):
        store.insert(database, ITEMS, {"_id": "clash", "email": True})
    assert store.count(database, ITEMS) == 4
    store.drop_database(database)


def test_a_unique_index_that_documents_violate_is_not_created(
    store: DocumentStore, db: str
) -> None:
    store.insert(db, ITEMS, {"_id": "a", "email": "same"})
    store.insert(db, ITEMS, {"_id": "b", "email": "same"})
    with pytest.raises(Conflict):
        store.ensure_collection(db, ITEMS, [BY_STATUS, UNIQUE_EMAIL])
    assert store.describe_collection(db, ITEMS) == ()
    store.insert(db, ITEMS, {"_id": "c", "email": "same"})
    store.delete(db, ITEMS, "b")
    store.delete(db, ITEMS, "c")
    store.ensure_collection(db, ITEMS, [UNIQUE_EMAIL])
    assert store.describe_collection(db, ITEMS) == (UNIQUE_EMAIL,)


def test_an_index_name_means_one_spec(store: DocumentStore, db: str) -> None:
    store.ensure_collection(db, ITEMS, [IndexSpec(("a__b",))])
    with pytest.raises(Conflict):
        store.ensure_collection(db, ITEMS, [IndexSpec(("a", "b"))])
    assert store.describe_collection(db, ITEMS) == (IndexSpec(("a__b",)),)


@pytest.mark.parametrize("fields", [(), ("a", "a"), ("a.b",), ("$a",), ("",), ("1a",)])
def test_an_index_on_fields_that_are_not_plain_is_refused(
    store: DocumentStore, db: str, fields: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidInput):
        store.ensure_collection(db, ITEMS, [IndexSpec(fields)])
    assert store.describe_collection(db, ITEMS) == ()


# documents


def test_documents_round_trip_and_ids_are_unique(store: DocumentStore, db: str) -> None:
    document = {"_id": "a", "n": 1, "x": 1.5, "ok": True, "none": None, "tags": ["x", {"y": []}]}
    store.insert(db, ITEMS, document)
    assert store.get(db, ITEMS, "a") == document
    assert store.get(db, ITEMS, "missing") is None
    with pytest.raises(DuplicateKey):
        store.insert(db, ITEMS, {"_id": "a", "n": 2})
    assert store.get(db, ITEMS, "a") == document


def test_tuples_come_back_as_lists(store: DocumentStore, db: str) -> None:
    store.insert(db, ITEMS, {"_id": "a", "pair": (1, (2, 3))})
    assert store.get(db, ITEMS, "a") == {"_id": "a", "pair": [1, [2, 3]]}


NOT_JSON: dict[str, dict[Any, Any]] = {
    "no-id": {"n": 1},
    "int-id": {"_id": 1},
    "empty-id": {"_id": ""},
    "nan": {"_id": "a", "x": math.nan},
    "infinity": {"_id": "a", "x": math.inf},
    "set": {"_id": "a", "x": {1, 2}},
    "bytes": {"_id": "a", "x": b"bytes"},
    "object": {"_id": "a", "x": object()},
    "int-over-64-bits": {"_id": "a", "x": 2**63},
    "int-key": {"_id": "a", "x": {1: "int key"}},
    "dollar-key": {"_id": "a", "$set": 1},
    "nul-in-key": {"_id": "a", "x": {"nul\x00": 1}},
    "nul-in-string": {"_id": "a", "x": ["nul\x00"]},
    "nul-in-id": {"_id": "nul\x00"},
    "lone-surrogate": {"_id": "a", "x": "\ud800"},
    "too-deep": {"_id": "a", "deep": nested(101)},
}


@pytest.mark.parametrize("document", list(NOT_JSON.values()), ids=list(NOT_JSON))
def test_a_document_that_is_not_json_is_refused(
    store: DocumentStore, db: str, document: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput):
        store.insert(db, ITEMS, document)
    assert store.count(db, ITEMS) == 0
    store.insert(db, ITEMS, {"_id": "a", "ok": 1})
    changes = {key: value for key, value in document.items() if key != "_id"}
    if changes and changes != {"n": 1}:
        with pytest.raises(InvalidInput):
            store.update(db, ITEMS, "a", changes)
    assert store.get(db, ITEMS, "a") == {"_id": "a", "ok": 1}


def test_insert_many_inserts_each_document_and_names_the_ones_a_clash_refused(
    store: DocumentStore, db: str
) -> None:
    store.ensure_collection(db, ITEMS, [UNIQUE_EMAIL])
    store.insert(db, ITEMS, {"_id": "a", "n": 0})
    refused = store.insert_many(
        db,
        ITEMS,
        [
            {"_id": "a", "n": 1},  # its _id is stored
            {"_id": "b", "email": "x@example.com", "pair": (1, 2)},
            {"_id": "c", "email": "x@example.com"},  # the unique index: clashes with b
            {"_id": "b", "n": 2},  # its _id is earlier in the list
            {"_id": "d", "n": 3},
        ],
    )
    assert refused == ["a", "c", "b"]
    assert store.find(db, ITEMS) == [
        {"_id": "a", "n": 0},
        {"_id": "b", "email": "x@example.com", "pair": [1, 2]},
        {"_id": "d", "n": 3},
    ]
    assert store.insert_many(db, ITEMS, []) == []
    assert store.insert_many(db, ITEMS, ({"_id": "e"},)) == []
    assert store.insert_many(db, ITEMS, [{"_id": "a"}, {"_id": "d"}]) == ["a", "d"]
    assert store.count(db, ITEMS) == 4


@pytest.mark.parametrize("document", list(NOT_JSON.values()), ids=list(NOT_JSON))
def test_insert_many_checks_every_document_before_it_writes_any(
    store: DocumentStore, db: str, document: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput):
        store.insert_many(db, ITEMS, [{"_id": "first", "ok": 1}, document])
    assert store.count(db, ITEMS) == 0


@pytest.mark.parametrize("documents", [{"_id": "a"}, "a", None], ids=["mapping", "str", "none"])
def test_insert_many_takes_a_list_of_documents(
    store: DocumentStore, db: str, documents: Any
) -> None:
    with pytest.raises(InvalidInput):
        store.insert_many(db, ITEMS, documents)
    assert store.count(db, ITEMS) == 0


def test_documents_are_copied_in_and_out(store: DocumentStore, db: str) -> None:
    document: dict[str, Any] = {"_id": "a", "tags": ["x"], "meta": {"k": "v"}}
    store.insert(db, ITEMS, document)
    document["tags"].append("mutated")
    document["meta"]["k"] = "mutated"
    fetched = store.get(db, ITEMS, "a")
    assert fetched == {"_id": "a", "tags": ["x"], "meta": {"k": "v"}}
    fetched["tags"].append("mutated")
    store.find(db, ITEMS)[0]["meta"]["k"] = "mutated"
    changes: dict[str, Any] = {"more": {"list": [1]}}
    store.update(db, ITEMS, "a", changes)
    changes["more"]["list"].append(2)
    assert store.get(db, ITEMS, "a") == {
        "_id": "a",
        "tags": ["x"],
        "meta": {"k": "v"},
        "more": {"list": [1]},
    }
    many: list[dict[str, Any]] = [{"_id": "b", "tags": ["y"]}]
    store.insert_many(db, ITEMS, many)
    many[0]["tags"].append("mutated")
    many.append({"_id": "c"})
    assert store.get(db, ITEMS, "b") == {"_id": "b", "tags": ["y"]}
    assert store.get(db, ITEMS, "c") is None


def test_find_and_count_match_equality_like_mongodb(store: DocumentStore, db: str) -> None:
    documents: list[dict[str, Any]] = [
        {"_id": "int-1", "v": 1},
        {"_id": "float-1", "v": 1.0},
        {"_id": "true", "v": True},
        {"_id": "false", "v": False},
        {"_id": "int-0", "v": 0},
        {"_id": "str-1", "v": "1"},
        {"_id": "null", "v": None},
        {"_id": "missing"},
        {"_id": "object", "v": {"a": 1}},
        {"_id": "list", "v": [1]},
        {"_id": "str-empty", "v": ""},
    ]
    for document in reversed(documents):
        store.insert(db, ITEMS, document)
    cases: list[tuple[Any, list[str]]] = [
        (1, ["float-1", "int-1"]),
        (1.0, ["float-1", "int-1"]),
        (True, ["true"]),
        (False, ["false"]),
        (0, ["int-0"]),
        ("1", ["str-1"]),
        ("", ["str-empty"]),
        (None, ["missing", "null"]),
        ('{"a":1}', []),
        ("[1]", []),
    ]
    for value, expected in cases:
        assert ids(store.find(db, ITEMS, {"v": value})) == expected, value
        assert store.count(db, ITEMS, {"v": value}) == len(expected), value
    assert ids(store.find(db, ITEMS)) == sorted(d["_id"] for d in documents)
    assert store.count(db, ITEMS) == store.count(db, ITEMS, {}) == len(documents)


def test_find_combines_fields_sorts_by_id_and_limits(store: DocumentStore, db: str) -> None:
    store.ensure_collection(db, ITEMS, [BY_STATUS])
    for i in (3, 1, 10, 2):
        status = "RUNNING" if i % 2 else "DONE"
        store.insert(db, ITEMS, {"_id": f"job-{i}", "status": status, "tenant": "acme"})
    store.insert(db, ITEMS, {"_id": "job-0", "status": "RUNNING", "tenant": "other"})
    running = {"status": "RUNNING", "tenant": "acme"}
    assert ids(store.find(db, ITEMS, running)) == ["job-1", "job-3"]
    assert ids(store.find(db, ITEMS, {"_id": "job-10"})) == ["job-10"]
    assert ids(store.find(db, ITEMS, limit=3)) == ["job-0", "job-1", "job-10"]
    assert ids(store.find(db, ITEMS, running, limit=1)) == ["job-1"]
    assert store.find(db, ITEMS, limit=0) == []
    assert store.count(db, ITEMS, {"tenant": "acme"}) == 4


def test_find_can_return_only_some_fields_of_each_document(store: DocumentStore, db: str) -> None:
    store.ensure_collection(db, ITEMS, [BY_STATUS])
    store.insert(db, ITEMS, {"_id": "b", "status": "DONE", "n": 1.5, "big": "x" * 2000})
    store.insert(db, ITEMS, {"_id": "a", "status": "DONE", "n": None, "tags": [1, {"k": True}]})
    store.insert(db, ITEMS, {"_id": "c", "status": "RUNNING", "n": 0.1, "flag": False})
    done = store.find(db, ITEMS, {"status": "DONE"}, fields=["n", "tags", "absent"])
    assert done == [{"_id": "a", "n": None, "tags": [1, {"k": True}]}, {"_id": "b", "n": 1.5}]
    assert store.find(db, ITEMS, fields=("flag", "_id", "flag"), limit=2) == [
        {"_id": "a"},
        {"_id": "b"},
    ]
    assert store.find(db, ITEMS, fields=[]) == [{"_id": "a"}, {"_id": "b"}, {"_id": "c"}]
    assert store.find(db, ITEMS, {"status": "RUNNING"}, fields=["n", "flag"]) == [
        {"_id": "c", "n": 0.1, "flag": False}
    ]
    store.find(db, ITEMS, fields=["tags"])[0]["tags"][1]["k"] = "mutated"
    assert store.get(db, ITEMS, "a") == {
        "_id": "a",
        "status": "DONE",
        "n": None,
        "tags": [1, {"k": True}],
    }


@pytest.mark.parametrize(
    ("fields", "error"),
    [("n", InvalidInput), ({"n": 1}, InvalidInput), (["a.b"], InvalidName), ([""], InvalidName)],
    ids=repr,
)
def test_fields_that_are_not_plain_field_names_are_refused(
    store: DocumentStore, db: str, fields: Any, error: type[Exception]
) -> None:
    store.insert(db, ITEMS, {"_id": "a", "n": 1})
    with pytest.raises(error):
        store.find(db, ITEMS, fields=fields)


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ({"v": [1]}, InvalidInput),
        ({"v": {"a": 1}}, InvalidInput),
        ({"v": math.nan}, InvalidInput),
        ({"v": b"x"}, InvalidInput),
        ({"v": "a\x00"}, InvalidInput),
        ({"a.b": 1}, InvalidName),
        ({"$where": 1}, InvalidName),
        ({"": 1}, InvalidName),
    ],
    ids=repr,
)
def test_a_filter_that_is_not_a_plain_equality_is_refused(
    store: DocumentStore, db: str, where: dict[str, Any], error: type[Exception]
) -> None:
    store.insert(db, ITEMS, {"_id": "a", "v": 1})
    with pytest.raises(error):
        store.find(db, ITEMS, where)
    with pytest.raises(error):
        store.count(db, ITEMS, where)
    with pytest.raises(error):
        store.update(db, ITEMS, "a", {"v": 2}, expected=where)
    with pytest.raises(InvalidInput):
        store.find(db, ITEMS, limit=-1)
    assert store.get(db, ITEMS, "a") == {"_id": "a", "v": 1}


# compare-and-set


def test_update_is_a_compare_and_set(store: DocumentStore, db: str) -> None:
    store.insert(db, ITEMS, {"_id": "job", "status": "RUNNING", "attempt": 1, "log": ["a"]})
    assert not store.update(db, ITEMS, "missing", {"status": "DONE"})
    assert store.get(db, ITEMS, "missing") is None
    assert not store.update(db, ITEMS, "job", {"status": "DONE"}, expected={"status": "PENDING"})
    assert not store.update(db, ITEMS, "job", {"status": "DONE"}, expected={"attempt": True})
    assert not store.update(db, ITEMS, "job", {"status": "DONE"}, expected={"finished": "x"})
    assert store.get(db, ITEMS, "job") == {
        "_id": "job",
        "status": "RUNNING",
        "attempt": 1,
        "log": ["a"],
    }
    expected = {"status": "RUNNING", "attempt": 1.0, "finished": None}
    assert store.update(db, ITEMS, "job", {"status": "DONE", "exit": 0}, expected=expected)
    assert store.update(db, ITEMS, "job", {"_id": "job", "log": ["a", "b"]})
    assert store.get(db, ITEMS, "job") == {
        "_id": "job",
        "status": "DONE",
        "attempt": 1,
        "log": ["a", "b"],
        "exit": 0,
    }
    with pytest.raises(InvalidInput):
        store.update(db, ITEMS, "job", {"_id": "other"})
    assert store.delete(db, ITEMS, "job")
    assert not store.delete(db, ITEMS, "job")
    assert not store.update(db, ITEMS, "job", {"status": "DONE"})


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    """Switch threads every 100 µs instead of every 5 ms, so a race that a store leaves open
    between checking and writing is hit in every run rather than in some."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("eager_thread_switches")
def test_racing_threads_lose_no_compare_and_set(store: DocumentStore, db: str) -> None:
    threads, increments = 6, 15
    store.insert(db, ITEMS, {"_id": "counter", "n": 0})
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            done = 0
            while done < increments:
                current = store.get(db, ITEMS, "counter")
                assert current is not None
                n = current["n"]
                if store.update(db, ITEMS, "counter", {"n": n + 1}, expected={"n": n}):
                    done += 1
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    assert store.get(db, ITEMS, "counter") == {"_id": "counter", "n": threads * increments}


# generated


_TEXT = st.characters(codec="utf-8", exclude_characters="\x00")
_KEYS = st.text(_TEXT, max_size=8).filter(lambda key: not key.startswith("$"))
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_TEXT, max_size=20)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@HYPOTHESIS
@given(body=st.dictionaries(_KEYS.filter(lambda key: key != "_id"), _JSON, max_size=6))
def test_any_json_document_round_trips_unchanged(
    store: DocumentStore, db: str, body: dict[str, Any]
) -> None:
    document = {"_id": uuid.uuid4().hex, **body}
    store.insert(db, ITEMS, document)
    assert store.get(db, ITEMS, document["_id"]) == document
    assert store.find(db, ITEMS, {"_id": document["_id"]}) == [document]


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True).filter(lambda n: n != "_id")


@HYPOTHESIS
@given(body=st.dictionaries(_NAMES, _JSON, max_size=6), data=st.data())
def test_any_fields_of_any_document_read_back_as_the_document_has_them(
    store: DocumentStore, db: str, body: dict[str, Any], data: st.DataObject
) -> None:
    document = {"_id": uuid.uuid4().hex, **body}
    store.insert(db, ITEMS, document)
    names = data.draw(st.lists(st.sampled_from([*body, "absent"]), max_size=4))
    picked = {key: value for key, value in document.items() if key in ("_id", *names)}
    assert store.find(db, ITEMS, {"_id": document["_id"]}, fields=names) == [picked]


def _oracle_equal(value: Any, wanted: Any) -> bool:
    """The port's equality, stated independently of any adapter."""
    if wanted is None:
        return value is None
    if isinstance(wanted, bool) or isinstance(value, bool):
        return type(value) is type(wanted) and value == wanted
    if isinstance(wanted, int | float):
        return isinstance(value, int | float) and value == wanted
    return isinstance(value, str) and value == wanted


_TRICKY = st.sampled_from(
    [0, 1, -1, 1.0, 0.0, -0.0, True, False, "", "0", "1", "true", "null", None,
     2**53, 2**53 + 1, float(2**53), 2**63 - 1, -(2**63), float(2**63), 1e300, "a", "é"]
)  # fmt: skip


@HYPOTHESIS
@given(
    body=st.dictionaries(
        # (not "version": the update below expects the version the document starts with)
        _KEYS.filter(lambda key: key not in ("_id", "version")) | st.sampled_from(["a", "status"]),
        _JSON,
        max_size=4,
    ),
    changes=st.dictionaries(
        # (MongoDB's $set cannot name a field that is empty or holds a dot: refused there)
        _KEYS.filter(lambda key: key not in ("_id", "") and "." not in key)
        | st.sampled_from(["a", "status", "x-1"]),
        _JSON | _TRICKY,
        max_size=4,
    ),
)
def test_any_update_reads_back_as_the_merged_document(
    store: DocumentStore, db: str, body: dict[str, Any], changes: dict[str, Any]
) -> None:
    """An update sets exactly the fields it names, to exactly the values given (numbers
    keeping every digit), and leaves every other field as it was."""
    document = {"_id": uuid.uuid4().hex, "version": 1, **body}
    store.insert(db, ITEMS, document)
    assert store.update(db, ITEMS, document["_id"], changes, expected={"version": 1})
    merged = {**document, **changes}
    stored = store.get(db, ITEMS, document["_id"])
    assert stored == merged
    assert stored is not None
    assert [type(stored[key]) for key in merged] == [type(value) for value in merged.values()]


@HYPOTHESIS
@given(
    values=st.lists(st.none() | _TRICKY | _SCALARS | _JSON, min_size=1, max_size=8),
    wanted=_TRICKY | _SCALARS,
)
def test_equality_filters_agree_with_the_port_definition(
    store: DocumentStore, db: str, values: list[Any], wanted: Any
) -> None:
    group = uuid.uuid4().hex
    for i, value in enumerate(values):
        document = {"_id": f"{group}-{i}", "group": group, "v": value}
        if i % 3 == 2 and value is None:
            del document["v"]
        store.insert(db, ITEMS, document)
    expected = [f"{group}-{i}" for i, value in enumerate(values) if _oracle_equal(value, wanted)]
    assert ids(store.find(db, ITEMS, {"group": group, "v": wanted})) == sorted(expected)
    assert store.count(db, ITEMS, {"group": group, "v": wanted}) == len(expected)
