"""The DynamoDB calls the document store makes, with SDK errors turned into domain errors.

One place decides what each DynamoDB failure means: a failed condition becomes `Cancelled` (the
store decides whether that is a duplicate or a lost race), a missing table `NotFound`,
throttling that outlived botocore's standard retries `Throttled`. Transactions carry a
ClientRequestToken, so a request retried after a lost response is applied once and never
reported as a lost race.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from overlord.adapters.aws.clients import MAX_RETRIES, backend_error, error_code
from overlord.adapters.aws.dynamodb_items import Item
from overlord.domain.errors import BackendError, Conflict, NotFound, PayloadTooLarge, Throttled

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CHECK_FAILED = "ConditionalCheckFailed"
_TRANSIENT = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
FREE_OR_MINE = "attribute_not_exists(pk) OR #ref = :ref"
ABSENT = "attribute_not_exists(pk)"
AT_VERSION = "#v = :v"


class Cancelled(Exception):
    """A condition failed; ``reasons`` holds one code per transaction item ('None' if fine)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(reasons)
        self.reasons = reasons

    def failed(self, position: int) -> bool:
        return len(self.reasons) > position and self.reasons[position] == CHECK_FAILED


def write(
    kind: str,
    table: str,
    condition: str,
    *,
    version: int | None = None,
    ref: str | None = None,
    **what: Any,
) -> dict[str, Any]:
    """One TransactWriteItems entry (``Put``, ``Delete``, ``ConditionCheck``) with its condition."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    if "#v" in condition:
        names["#v"], values[":v"] = "v", {"N": str(version)}
    if "#ref" in condition:
        names["#ref"], values[":ref"] = "ref", {"S": ref}
    entry = {"TableName": table, "ConditionExpression": condition, **what}
    if names:
        entry |= {"ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
    return {kind: entry}


def pause(attempt: int) -> None:
    """Full-jitter backoff between optimistic retries: up to 50 ms, doubling, at most 1 s."""
    time.sleep(random.random() * min(0.05 * 2**attempt, 1.0))


class DynamoCalls:
    """A DynamoDB client whose every call speaks domain errors.

    Given ``make`` instead of a client, it makes the client on the first call that needs one."""

    def __init__(
        self,
        client: DynamoDBClient | None = None,
        *,
        make: Callable[[], DynamoDBClient] | None = None,
    ) -> None:
        if (client is None) == (make is None):
            raise TypeError("DynamoCalls takes a client or a function making one")
        self._make: Callable[[], DynamoDBClient | None] = make or (lambda: client)

    @cached_property
    def client(self) -> DynamoDBClient:
        made = self._make()
        if made is None:
            raise TypeError("DynamoCalls was given no client")
        return made

    def call(self, doing: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                raise Cancelled([CHECK_FAILED]) from None
            if code == "TransactionCanceledException":
                reasons = getattr(exc, "response", {}).get("CancellationReasons", [])
                raise Cancelled([str(r.get("Code", "None")) for r in reasons]) from None
            if code == "ResourceNotFoundException":
                raise NotFound(f"{doing}: the database's table does not exist") from None
            if code == "ResourceInUseException":
                raise Conflict(f"{doing}: the table is being created or deleted") from None
            if code == "ValidationException" and "size" in str(exc).lower():
                raise PayloadTooLarge(f"{doing}: larger than a 400 KB DynamoDB item") from None
            if code == "ValidationException":
                raise BackendError(f"{doing}: DynamoDB refused the request: {exc}") from None
            raise backend_error(exc, doing) from exc

    # tables

    def table_names(self) -> list[str]:
        pages = self.client.get_paginator("list_tables").paginate()
        names: list[str] = self.call(
            "list tables", lambda: [n for p in pages for n in p["TableNames"]]
        )
        return names

    def table_status(self, table: str) -> str | None:
        try:
            found = self.call(f"describe {table}", self.client.describe_table, TableName=table)
        except NotFound:
            return None
        return str(found["Table"]["TableStatus"])

    def create_table(self, table: str) -> None:
        """A (pk, sk) string-keyed table on on-demand billing; waits until it is ACTIVE."""
        try:
            self.call(
                f"create table {table}",
                self.client.create_table,
                TableName=table,
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
        except Conflict:
            pass  # it exists already, perhaps still CREATING: wait below
        self.wait("table_exists", table)

    def delete_table(self, table: str) -> None:
        """Delete the table and wait until it is gone; no error if it never existed."""
        for _ in range(3):
            try:
                self.call(f"delete table {table}", self.client.delete_table, TableName=table)
                break
            except NotFound:
                return
            except Conflict:  # still CREATING or UPDATING: deletable once ACTIVE
                self.wait("table_exists", table)
        self.wait("table_not_exists", table)

    def wait(self, waiter: str, table: str) -> None:
        try:
            self.client.get_waiter(waiter).wait(  # type: ignore[call-overload]
                TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
            )
        except Exception as exc:
            raise backend_error(exc, f"wait for {table} ({waiter})") from exc

    # items

    def partition(self, table: str, pk: str, *, keys_only: bool = False) -> Iterator[Item]:
        """Every item of one partition, in sort-key order, read consistently."""
        query: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ConsistentRead": True,
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        if keys_only:
            query["ProjectionExpression"] = "pk, sk"
        pages = iter(self.client.get_paginator("query").paginate(**query))
        while (page := self.call(f"read {table}/{pk}", next, pages, None)) is not None:
            yield from page.get("Items", [])

    def get_many(self, table: str, keys: list[Item]) -> list[Item | None]:
        """The items at ``keys`` (None where absent), read consistently in one round trip."""
        found: dict[tuple[str, str], Item] = {}
        pending: Any = {table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(MAX_RETRIES * 3):
            result = self.call(f"read {table}", self.client.batch_get_item, RequestItems=pending)
            for item in result.get("Responses", {}).get(table, []):
                found[item["pk"]["S"], item["sk"]["S"]] = item
            pending = result.get("UnprocessedKeys") or {}
            if not pending:
                return [found.get((k["pk"]["S"], k["sk"]["S"])) for k in keys]
            pause(attempt)
        raise Throttled(f"read {table}: DynamoDB kept leaving keys unprocessed")

    def put_if(self, table: str, item: Item, condition: str, *, version: int | None = None) -> bool:
        """Put ``item`` if ``condition`` holds; False when it does not."""
        entry = write("Put", table, condition, version=version, Item=item)["Put"]
        try:
            self.call(f"write {table}", self.client.put_item, **entry)
        except Cancelled:
            return False
        return True

    def delete_key(self, table: str, key: Item) -> None:
        self.call(f"delete from {table}", self.client.delete_item, TableName=table, Key=key)

    def delete_items(self, table: str, doomed: list[Item]) -> None:
        for start in range(0, len(doomed), 25):
            chunk = doomed[start : start + 25]
            pending: Any = {
                table: [{"DeleteRequest": {"Key": {"pk": i["pk"], "sk": i["sk"]}}} for i in chunk]
            }
            for attempt in range(MAX_RETRIES * 3):
                result = self.call(
                    f"purge {table}", self.client.batch_write_item, RequestItems=pending
                )
                pending = result.get("UnprocessedItems") or {}
                if not pending:
                    break
                pause(attempt)
            else:
                raise Throttled(f"purge {table}: DynamoDB kept leaving deletes unprocessed")

    def transact(self, doing: str, writes: list[dict[str, Any]]) -> None:
        """Apply ``writes`` atomically, retrying transient cancellations; `Cancelled` when a
        condition failed."""
        token = uuid.uuid4().hex  # the same token on every retry: applied at most once
        for attempt in range(MAX_RETRIES):
            try:
                self.call(
                    doing,
                    self.client.transact_write_items,
                    TransactItems=writes,
                    ClientRequestToken=token,
                )
                return
            except Cancelled as cancelled:
                if CHECK_FAILED in cancelled.reasons:
                    raise
                if not _TRANSIENT & set(cancelled.reasons):
                    raise BackendError(
                        f"{doing}: transaction cancelled {cancelled.reasons}"
                    ) from None
            pause(attempt)
        raise Throttled(
            f"{doing}: DynamoDB kept cancelling the transaction (throttled or contended)"
        )
