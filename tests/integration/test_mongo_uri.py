"""The Mongo adapter's edge with a real pymongo client: URI options and an unreachable server.

No MongoDB server can run here, so these tests use what pymongo does without one: parse a URI
into client options, and fail server selection against a port nothing listens on. The point is
that a user who misconfigures OVERLORD_MONGO_URI reads one clear Overlord error, never a pymongo
traceback.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
from pymongo.errors import AutoReconnect, OperationFailure, PyMongoError

from overlord.adapters.mongo.client import call, connect
from overlord.adapters.mongo.document_store import MongoDocumentStore
from overlord.domain.errors import BackendError, ConfigurationError, Forbidden


@pytest.fixture
def closed_port() -> int:
    """A local TCP port that nothing listens on (bound once to pick it, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def unreachable(closed_port: int) -> Iterator[tuple[MongoDocumentStore, str]]:
    address = f"127.0.0.1:{closed_port}"
    store = MongoDocumentStore.from_uri(f"mongodb://{address}/?serverSelectionTimeoutMS=200")
    yield store, address
    store.close()


def test_a_client_from_a_plain_uri_gets_overlords_defaults() -> None:
    client = connect("mongodb://db.example.invalid:27017/")
    try:
        assert client.options.retry_writes is True
        assert client.options.pool_options.metadata["application"] == {"name": "overlord"}
        assert client.options.server_selection_timeout == 10
        assert client.options.codec_options.tz_aware is True
    finally:
        client.close()


def test_options_the_uri_sets_win_over_the_defaults() -> None:
    client = connect(
        "mongodb://db.example.invalid/?retryWrites=false&appName=tenant-sync"
        "&serverSelectionTimeoutMS=1500&replicaSet=rs0"
    )
    try:
        assert client.options.retry_writes is False  # what DocumentDB needs
        assert client.options.pool_options.metadata["application"] == {"name": "tenant-sync"}
        assert client.options.server_selection_timeout == 1.5
        assert client.options.replica_set_name == "rs0"
    finally:
        client.close()


@pytest.mark.parametrize(
    "uri",
    ["http://db.example.invalid", "mongodb://", "mongodb://ops:s3cr@t@h/", "mongodb://h:99999/"],
)
def test_a_uri_that_is_not_mongodb_is_a_misconfiguration_named_without_its_secret(
    uri: str,
) -> None:
    with pytest.raises(ConfigurationError, match="OVERLORD_MONGO_URI") as caught:
        MongoDocumentStore.from_uri(uri)
    assert "s3cr" not in caught.value.message
    assert caught.value.setting == "OVERLORD_MONGO_URI"


def test_an_unreachable_server_is_a_backend_error_that_says_so(
    unreachable: tuple[MongoDocumentStore, str],
) -> None:
    store, address = unreachable
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        store.list_databases()
    assert not isinstance(caught.value, PyMongoError)
    assert "MongoDB is unreachable" in caught.value.message
    assert address in caught.value.message
    assert "OVERLORD_MONGO_URI" in caught.value.message
    assert "Topology Description" not in caught.value.message
    assert time.monotonic() - started < 5, "server selection failures are not retried"


def test_every_kind_of_call_fails_the_same_clear_way(
    unreachable: tuple[MongoDocumentStore, str],
) -> None:
    store, _ = unreachable
    calls: list[Callable[[], object]] = [
        lambda: store.ensure_collection("overlord-acme", "runs"),
        lambda: store.insert("overlord-acme", "runs", {"_id": "r1"}),
        lambda: store.update("overlord-acme", "runs", "r1", {"status": "DONE"}),
        lambda: store.find("overlord-acme", "runs", {"status": "DONE"}),
    ]
    for attempt in calls:
        with pytest.raises(BackendError, match="MongoDB is unreachable"):
            attempt()


def test_a_dropped_connection_is_retried_only_where_repeating_is_safe() -> None:
    failures = iter([AutoReconnect("connection reset"), AutoReconnect("connection reset")])
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return "read"

    assert call(flaky, doing="reading") == "read"
    assert len(attempts) == 3

    attempts.clear()
    failures = iter([AutoReconnect("connection reset")])
    with pytest.raises(BackendError, match="lost the connection to MongoDB"):
        call(flaky, doing="inserting", repeatable=False)
    assert len(attempts) == 1


def test_a_refused_login_is_forbidden_and_other_server_errors_are_backend_errors() -> None:
    def refuse() -> None:
        raise OperationFailure("Authentication failed.", code=18)

    def fail() -> None:
        raise OperationFailure("operation exceeded time limit", code=50)

    with pytest.raises(Forbidden, match="Authentication failed"):
        call(refuse, doing="listing databases")
    with pytest.raises(BackendError, match="exceeded time limit"):
        call(fail, doing="listing databases")
