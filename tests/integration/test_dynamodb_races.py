"""DynamoDocumentStore under contention and throttling, against a moto server over HTTP.

Uniqueness must hold across processes, so the racing writers use separate store instances (each
with its own client and connection pool). Throttling never happens in moto, so it is injected
on the client through botocore's event system: the adapter's own retry configuration and error
translation are what is exercised, not a mock of them.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from overlord.adapters.aws.clients import MAX_RETRIES, client
from overlord.adapters.aws.document_store import DynamoDocumentStore
from overlord.domain.errors import DuplicateKey, Throttled
from overlord.domain.indexes import IndexSpec

USERS = "users"
UNIQUE_EMAIL = IndexSpec(("email",), unique=True)


@pytest.fixture
def database(aws_endpoint: str) -> Iterator[str]:
    name = f"race-{uuid.uuid4().hex[:16]}"
    DynamoDocumentStore().ensure_collection(name, USERS, [UNIQUE_EMAIL])
    yield name
    DynamoDocumentStore().drop_database(name)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep botocore's retry count and decisions, but without its seconds of sleeping."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.0)
    monkeypatch.setattr("overlord.adapters.aws.dynamodb_table.pause", lambda attempt: None)


def race(writers: int, attempt: Callable[[int], None]) -> list[str]:
    """Run ``attempt(i)`` in ``writers`` threads released together; 'won', 'lost' or an error."""
    start = threading.Barrier(writers)
    outcomes: list[str] = []

    def run(i: int) -> None:
        start.wait()
        try:
            attempt(i)
            outcomes.append("won")
        except DuplicateKey:
            outcomes.append("lost")
        except Exception as exc:
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return sorted(outcomes)


def test_writers_racing_for_one_unique_value_leave_exactly_one_winner(database: str) -> None:
    stores = [DynamoDocumentStore(), DynamoDocumentStore()]

    def insert(i: int) -> None:
        stores[i % 2].insert(database, USERS, {"_id": f"user-{i}", "email": "same@example.com"})

    outcomes = race(12, insert)
    assert outcomes == ["lost"] * 11 + ["won"]
    assert stores[0].count(database, USERS, {"email": "same@example.com"}) == 1
    assert stores[1].count(database, USERS) == 1


def test_writers_racing_for_one_id_leave_exactly_one_winner(database: str) -> None:
    stores = [DynamoDocumentStore(), DynamoDocumentStore()]

    def insert(i: int) -> None:
        stores[i % 2].insert(database, USERS, {"_id": "the-one", "writer": i})

    outcomes = race(12, insert)
    assert outcomes == ["lost"] * 11 + ["won"]
    assert stores[0].count(database, USERS) == 1


def test_updates_racing_into_one_unique_value_leave_exactly_one_winner(database: str) -> None:
    stores = [DynamoDocumentStore(), DynamoDocumentStore()]
    for i in range(8):
        stores[0].insert(database, USERS, {"_id": f"user-{i}", "email": f"{i}@example.com"})

    def update(i: int) -> None:
        assert stores[i % 2].update(database, USERS, f"user-{i}", {"email": "taken@example.com"})

    outcomes = race(8, update)
    assert outcomes == ["lost"] * 7 + ["won"]
    assert stores[1].count(database, USERS, {"email": "taken@example.com"}) == 1
    # the losers kept their own values, still reserved: nobody else can take them
    loser = next(d for d in stores[0].find(database, USERS) if d["email"] != "taken@example.com")
    with pytest.raises(DuplicateKey):
        stores[1].insert(database, USERS, {"_id": "late", "email": loser["email"]})


# throttling


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def fail_requests(
    dynamodb: Any, count: int | None, body: dict[str, Any], operation: str = "*"
) -> Callable[[], int]:
    """Answer the first ``count`` requests (all when None) for ``operation`` with HTTP 400 and
    ``body``, as DynamoDB does; returns how many requests were sent."""
    sent = [0]

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        sent[0] += 1
        if count is not None and sent[0] > count:
            return None
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        headers["x-amzn-RequestId"] = uuid.uuid4().hex
        return AWSResponse(request.url, 400, headers, _Body(json.dumps(body).encode()))

    dynamodb.meta.events.register(f"before-send.dynamodb.{operation}", answer)
    return lambda: sent[0]


def throttling(code: str) -> dict[str, Any]:
    return {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "Rate exceeded"}


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
def test_a_burst_of_throttling_is_survived_by_the_standard_retries(
    database: str, no_backoff: None, code: str
) -> None:
    dynamodb = client("dynamodb")
    store = DynamoDocumentStore(dynamodb)
    sent = fail_requests(dynamodb, MAX_RETRIES - 1, throttling(code))
    store.insert(database, USERS, {"_id": "a", "email": "a@example.com"})
    assert sent() > MAX_RETRIES - 1
    assert store.get(database, USERS, "a") == {"_id": "a", "email": "a@example.com"}


def test_persistent_throttling_raises_throttled_after_the_retries(
    database: str, no_backoff: None
) -> None:
    dynamodb = client("dynamodb")
    store = DynamoDocumentStore(dynamodb)
    sent = fail_requests(dynamodb, None, throttling("ThrottlingException"))
    with pytest.raises(Throttled):
        store.insert(database, USERS, {"_id": "a", "email": "a@example.com"})
    assert sent() == MAX_RETRIES + 1  # the first attempt and every retry, then no more
    assert DynamoDocumentStore().get(database, USERS, "a") is None


def test_a_transaction_cancelled_by_throttling_is_retried(database: str, no_backoff: None) -> None:
    dynamodb = client("dynamodb")
    store = DynamoDocumentStore(dynamodb)
    cancelled = {
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
        "CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}],
    }
    sent = fail_requests(dynamodb, 3, cancelled, "TransactWriteItems")
    store.insert(database, USERS, {"_id": "a", "email": "a@example.com"})
    assert sent() == 4
    with pytest.raises(DuplicateKey):
        store.insert(database, USERS, {"_id": "b", "email": "a@example.com"})
