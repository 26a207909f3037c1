"""DynamoDB as the DocumentStore: one table per database, collections as partitions in it.

Why one table per database rather than one per collection: a database is a tenant, so this is
DynamoDB's table-per-tenant ("silo") model. A tenant's IAM policy can name its one table, the
account's table quota (2,500 per Region by default) counts tenants rather than tenants x
collections, and collections, which provisioning adds and drops often, cost one item instead of
a table created and deleted asynchronously. Within the table (keys ``pk``/``sk``, both strings):

- a document is ``pk=collection, sk=_id`` with its exact JSON text and a version ``v``;
- a collection's record (indexes, version) is ``pk="#collections", sk=collection``; the table
  itself is the database's marker, found by the ``table_prefix`` its name starts with;
- a unique index value is reserved by a guard item ``pk="#unique#collection",
  sk=index#sha256(values)`` written in the same TransactWriteItems as the document, so two
  writers racing for one value cannot both win, whichever process they run in.

``find`` reads one partition in ``_id`` order and filters in Python with the memory adapter's
equality (a FilterExpression would not save read capacity anyway), so results and types match
every other adapter exactly. ``update`` is an optimistic compare-and-set on ``v``. Every write
is a transaction with a ClientRequestToken, so a retried request is never mistaken for a lost
race. Non-unique indexes are recorded for `describe_collection` but create no GSI: ``find``
reads the whole collection partition.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from overlord.adapters.aws import dynamodb_items as items
from overlord.adapters.aws.clients import MAX_ATTEMPTS, backend_error, error_code
from overlord.adapters.aws.clients import client as build_client
from overlord.adapters.aws.dynamodb_items import Document, Item, Meta
from overlord.domain.connectors import IndexSpec
from overlord.domain.errors import (
    BackendError,
    Conflict,
    DuplicateKey,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Throttled,
)

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb import DynamoDBClient

_CHECK_FAILED = "ConditionalCheckFailed"
_TRANSIENT = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
_FREE_OR_MINE = "attribute_not_exists(pk) OR #ref = :id"


class _Cancelled(Exception):
    """A condition failed; ``reasons`` holds one code per transaction item ('None' if fine)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(reasons)
        self.reasons = reasons

    def failed(self, position: int) -> bool:
        return len(self.reasons) > position and self.reasons[position] == _CHECK_FAILED


class DynamoDocumentStore:
    """DocumentStore on DynamoDB (tables named ``table_prefix + database``, on demand billing).

    >>> store = DynamoDocumentStore()  # doctest: +SKIP
    >>> store.ensure_collection("overlord-acme", "weather_jobs")  # doctest: +SKIP
    """

    def __init__(
        self,
        client: DynamoDBClient | None = None,
        *,
        session: boto3.session.Session | None = None,
        table_prefix: str = "overlord.",
    ) -> None:
        self._client: DynamoDBClient = client or build_client("dynamodb", session)
        self._prefix = table_prefix

    # databases

    def list_databases(self) -> list[str]:
        pages = self._client.get_paginator("list_tables").paginate()
        names = self._call("list tables", lambda: [n for p in pages for n in p["TableNames"]])
        return sorted(n[len(self._prefix) :] for n in names if n.startswith(self._prefix))

    def database_exists(self, database: str) -> bool:
        table = items.table_name(self._prefix, database)
        try:
            found = self._call(table, self._client.describe_table, TableName=table)
        except NotFound:
            return False
        return bool(found["Table"]["TableStatus"] != "DELETING")

    def ensure_database(self, database: str) -> None:
        table = items.table_name(self._prefix, database)
        try:
            self._call(
                f"create table {table}",
                self._client.create_table,
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
        self._wait("table_exists", table)

    def drop_database(self, database: str) -> None:
        table = items.table_name(self._prefix, database)
        for _ in range(3):
            try:
                self._call(f"delete table {table}", self._client.delete_table, TableName=table)
                break
            except NotFound:
                return
            except Conflict:  # still CREATING or UPDATING: it can be deleted once ACTIVE
                self._wait("table_exists", table)
        self._wait("table_not_exists", table)

    def _wait(self, waiter: str, table: str) -> None:
        try:
            self._client.get_waiter(waiter).wait(  # type: ignore[call-overload]
                TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
            )
        except Exception as exc:
            raise backend_error(exc, f"wait for {table} ({waiter})") from exc

    # collections

    def list_collections(self, database: str) -> list[str]:
        table = items.table_name(self._prefix, database)
        try:
            return sorted(item["sk"]["S"] for item in self._partition(table, items.META_PK))
        except NotFound:
            return []

    def describe_collection(self, database: str, name: str) -> tuple[IndexSpec, ...] | None:
        table = items.table_name(self._prefix, database)
        try:
            meta = self._meta(table, items.check_collection(name))
        except NotFound:
            return None
        return None if meta is None else tuple(sorted(meta.indexes, key=lambda i: i.name))

    def ensure_collection(
        self, database: str, name: str, indexes: Sequence[IndexSpec] = ()
    ) -> None:
        table = items.table_name(self._prefix, database)
        items.check_collection(name)
        while True:
            try:
                meta = self._meta(table, name)
            except NotFound:
                self.ensure_database(database)
                continue
            if meta is None:
                self._purge(table, name)  # leftovers of a drop that did not finish
                meta = Meta(1)
                if not self._put_meta(table, name, meta, replacing=None):
                    continue
            missing = tuple(i for i in dict.fromkeys(indexes) if i not in meta.indexes)
            if not missing:
                return
            if self._put_meta(table, name, Meta(meta.version + 1, meta.indexes + missing), meta):
                break
        unique = [index for index in missing if index.unique]
        if unique:
            self._build_guards(table, name, unique)

    def drop_collection(self, database: str, name: str) -> None:
        table = items.table_name(self._prefix, database)
        key = items.meta_key(items.check_collection(name))
        try:
            self._call(f"drop {name}", self._client.delete_item, TableName=table, Key=key)
        except NotFound:
            return
        self._purge(table, name)

    # documents

    def insert(self, database: str, collection: str, document: Mapping[str, Any]) -> None:
        table = items.table_name(self._prefix, database)
        item = items.encode_document(items.check_collection(collection), document, 1)
        document_id = item["sk"]["S"]
        meta = self._required_meta(table, collection)
        guards = items.guard_keys(collection, meta.unique, document)
        writes = [self._put(table, item, "attribute_not_exists(pk)")]
        writes += [
            self._put(table, self._guard(k, document_id), "attribute_not_exists(pk)")
            for k in guards.values()
        ]
        try:
            self._transact(f"insert into {collection}", writes)
        except _Cancelled as cancelled:
            if cancelled.failed(0) or not guards:
                raise DuplicateKey(f"{collection} already has a document {document_id!r}") from None
            names = [n for i, n in enumerate(guards, 1) if cancelled.failed(i)] or list(guards)
            raise DuplicateKey(
                f"{collection}: unique index {names[0]} already holds the values of {document_id!r}"
            ) from None

    def get(self, database: str, collection: str, document_id: str) -> Document | None:
        table = items.table_name(self._prefix, database)
        found = self._read(table, items.check_collection(collection), document_id)
        return None if found is None else found[0]

    def find(
        self,
        database: str,
        collection: str,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> list[Document]:
        table = items.table_name(self._prefix, database)
        found: list[Document] = []
        if limit is not None and limit <= 0:
            return found
        for item in self._partition(table, items.check_collection(collection)):
            document, _ = items.decode_document(item)
            if items.matches(document, where):
                found.append(document)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def count(self, database: str, collection: str, where: Mapping[str, Any] | None = None) -> int:
        if where:
            return len(self.find(database, collection, where))
        table = items.table_name(self._prefix, database)
        return sum(1 for _ in self._partition(table, items.check_collection(collection), True))

    def update(
        self,
        database: str,
        collection: str,
        document_id: str,
        changes: Mapping[str, Any],
        *,
        expected: Mapping[str, Any] | None = None,
    ) -> bool:
        table = items.table_name(self._prefix, database)
        items.check_collection(collection)
        if "_id" in changes and changes["_id"] != document_id:
            raise InvalidInput("a document's _id cannot be changed")
        for attempt in range(50):
            meta = self._required_meta(table, collection)
            found = self._read(table, collection, document_id)
            if found is None or not items.matches(found[0], expected):
                return False
            old, version = found
            new = {**old, **changes, "_id": document_id}
            writes = [
                self._put(
                    table,
                    items.encode_document(collection, new, version + 1),
                    "#v = :v",
                    version=version,
                )
            ]
            moved = self._moved_guards(collection, meta, old, new)
            for before, after in moved.values():
                writes.append(self._delete(table, before, _FREE_OR_MINE, document_id))
                writes.append(
                    self._put(
                        table,
                        self._guard(after, document_id),
                        _FREE_OR_MINE,
                        document_id=document_id,
                    )
                )
            try:
                self._transact(f"update {collection}/{document_id}", writes)
                return True
            except _Cancelled as cancelled:
                if not cancelled.failed(0) and any(cancelled.reasons):
                    raise DuplicateKey(
                        f"{collection}: the update of {document_id!r} clashes "
                        f"with a unique index ({', '.join(moved)})"
                    ) from None
            _pause(attempt)
        raise Throttled(f"update {collection}/{document_id}: too many concurrent writers")

    def delete(self, database: str, collection: str, document_id: str) -> bool:
        table = items.table_name(self._prefix, database)
        items.check_collection(collection)
        for attempt in range(50):
            meta = self._required_meta(table, collection)
            found = self._read(table, collection, document_id)
            if found is None:
                return False
            document, version = found
            writes = [
                self._delete(table, items.key(collection, document_id), "#v = :v", version=version)
            ]
            writes += [
                self._delete(table, k, _FREE_OR_MINE, document_id)
                for k in items.guard_keys(collection, meta.unique, document).values()
            ]
            try:
                self._transact(f"delete {collection}/{document_id}", writes)
                return True
            except _Cancelled:
                _pause(attempt)
        raise Throttled(f"delete {collection}/{document_id}: too many concurrent writers")

    # helpers

    def _moved_guards(
        self, collection: str, meta: Meta, old: Document, new: Document
    ) -> dict[str, tuple[Item, Item]]:
        before = items.guard_keys(collection, meta.unique, old)
        after = items.guard_keys(collection, meta.unique, new)
        return {name: (before[name], after[name]) for name in after if before[name] != after[name]}

    def _build_guards(self, table: str, collection: str, indexes: list[IndexSpec]) -> None:
        """Reserve the values of existing documents for new unique indexes, or undo them."""
        try:
            for item in self._partition(table, collection):
                document, version = items.decode_document(item)
                for guard in items.guard_keys(collection, indexes, document).values():
                    check = {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": items.key(collection, document["_id"]),
                            "ConditionExpression": "#v = :v",
                            "ExpressionAttributeNames": {"#v": "v"},
                            "ExpressionAttributeValues": {":v": {"N": str(version)}},
                        }
                    }
                    put = self._put(
                        table,
                        self._guard(guard, document["_id"]),
                        _FREE_OR_MINE,
                        document_id=document["_id"],
                    )
                    try:
                        self._transact(f"index {collection}", [check, put])
                    except _Cancelled as cancelled:
                        if cancelled.failed(1):
                            raise Conflict(
                                f"{collection}: existing documents share values of a "
                                f"new unique index ({indexes[0].name})"
                            ) from None
        except Conflict:
            self._drop_indexes(table, collection, indexes)
            raise

    def _drop_indexes(self, table: str, collection: str, indexes: list[IndexSpec]) -> None:
        while (meta := self._meta(table, collection)) is not None:
            kept = tuple(i for i in meta.indexes if i not in indexes)
            if self._put_meta(table, collection, Meta(meta.version + 1, kept), meta):
                break
        prefixes = tuple(f"{index.name}#" for index in indexes)
        doomed = [
            i
            for i in self._partition(table, items.guard_partition(collection))
            if i["sk"]["S"].startswith(prefixes)
        ]
        self._delete_items(table, doomed)

    def _purge(self, table: str, collection: str) -> None:
        for pk in (collection, items.guard_partition(collection)):
            self._delete_items(table, list(self._partition(table, pk)))

    def _delete_items(self, table: str, doomed: list[Item]) -> None:
        for start in range(0, len(doomed), 25):
            pending: Any = {
                table: [
                    {"DeleteRequest": {"Key": items.key(i["pk"]["S"], i["sk"]["S"])}}
                    for i in doomed[start : start + 25]
                ]
            }
            for attempt in range(MAX_ATTEMPTS * 3):
                if not pending:
                    break
                result = self._call(
                    f"purge {table}", self._client.batch_write_item, RequestItems=pending
                )
                pending = result.get("UnprocessedItems") or {}
                if pending:
                    _pause(attempt)

    def _partition(self, table: str, pk: str, keys_only: bool = False) -> Iterator[Item]:
        """Every item of one partition, in sort-key order, read consistently."""
        query: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ConsistentRead": True,
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        if keys_only:
            query["ProjectionExpression"] = "pk, sk"
        pages = self._client.get_paginator("query").paginate(**query)
        iterator = iter(pages)
        while (page := self._call(f"read {table}/{pk}", next, iterator, None)) is not None:
            yield from page.get("Items", [])

    def _meta(self, table: str, collection: str) -> Meta | None:
        found = self._call(
            f"read {table}",
            self._client.get_item,
            TableName=table,
            Key=items.meta_key(collection),
            ConsistentRead=True,
        )
        return None if "Item" not in found else items.decode_meta(found["Item"])

    def _required_meta(self, table: str, collection: str) -> Meta:
        meta = self._meta(table, collection)
        if meta is None:
            raise NotFound(f"collection {collection!r} does not exist in {table}")
        return meta

    def _put_meta(self, table: str, collection: str, meta: Meta, replacing: Meta | None) -> bool:
        condition = "attribute_not_exists(pk)" if replacing is None else "#v = :v"
        write = self._put(
            table,
            items.encode_meta(collection, meta),
            condition,
            version=None if replacing is None else replacing.version,
        )["Put"]
        try:
            self._call(f"record {collection}", self._client.put_item, **write)
        except _Cancelled:
            return False
        return True

    def _read(self, table: str, collection: str, document_id: str) -> tuple[Document, int] | None:
        if not isinstance(document_id, str) or not document_id:
            return None
        found = self._call(
            f"read {collection}/{document_id}",
            self._client.get_item,
            TableName=table,
            Key=items.key(collection, document_id),
            ConsistentRead=True,
        )
        return None if "Item" not in found else items.decode_document(found["Item"])

    @staticmethod
    def _guard(key: Item, document_id: str) -> Item:
        return {**key, "ref": {"S": document_id}}

    @staticmethod
    def _put(
        table: str,
        item: Item,
        condition: str,
        *,
        version: int | None = None,
        document_id: str | None = None,
    ) -> dict[str, Any]:
        return {"Put": _conditional(table, condition, version, document_id, Item=item)}

    @staticmethod
    def _delete(
        table: str,
        key: Item,
        condition: str,
        document_id: str | None = None,
        *,
        version: int | None = None,
    ) -> dict[str, Any]:
        return {"Delete": _conditional(table, condition, version, document_id, Key=key)}

    def _transact(self, doing: str, writes: list[dict[str, Any]]) -> None:
        """Apply ``writes`` atomically; retry transient cancellations; `_Cancelled` on a failed
        condition."""
        token = uuid.uuid4().hex  # the same token on every retry: applied at most once
        for attempt in range(MAX_ATTEMPTS):
            try:
                self._call(
                    doing,
                    self._client.transact_write_items,
                    TransactItems=writes,
                    ClientRequestToken=token,
                )
                return
            except _Cancelled as cancelled:
                if _CHECK_FAILED in cancelled.reasons or not _TRANSIENT & set(cancelled.reasons):
                    raise
            _pause(attempt)
        raise Throttled(
            f"{doing}: DynamoDB kept cancelling the transaction (throttling or "
            "conflicting transactions)"
        )

    def _call(self, doing: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                raise _Cancelled([_CHECK_FAILED]) from None
            if code == "TransactionCanceledException":
                reasons = getattr(exc, "response", {}).get("CancellationReasons", [])
                raise _Cancelled([str(r.get("Code", "None")) for r in reasons]) from None
            if code == "ResourceNotFoundException":
                raise NotFound(f"{doing}: the database (table) does not exist") from None
            if code == "ResourceInUseException":
                raise Conflict(f"{doing}: the table is being created or deleted") from None
            if code == "ValidationException" and "size" in str(exc):
                raise PayloadTooLarge(f"{doing}: larger than DynamoDB's 400 KB item") from None
            if code == "ValidationException":
                raise BackendError(f"{doing}: DynamoDB refused the request: {exc}") from None
            raise backend_error(exc, doing) from exc


def _conditional(
    table: str, condition: str, version: int | None, document_id: str | None, **what: Any
) -> dict[str, Any]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    if "#v" in condition:
        names["#v"] = "v"
        values[":v"] = {"N": str(version)}
    if "#ref" in condition:
        names["#ref"] = "ref"
        values[":id"] = {"S": document_id}
    extra = (
        {"ExpressionAttributeNames": names, "ExpressionAttributeValues": values} if names else {}
    )
    return {"TableName": table, "ConditionExpression": condition, **what, **extra}


def _pause(attempt: int) -> None:
    """Full-jitter backoff between optimistic retries: 0-50 ms, doubling, at most 1 s."""
    time.sleep(random.random() * min(0.05 * 2**attempt, 1.0))
