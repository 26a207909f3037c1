"""DynamoDB as the DocumentStore: one table per database, collections as partitions in it.

Why one table per database rather than one per collection: a database is a tenant, so this is
DynamoDB's table-per-tenant ("silo") model. A tenant's IAM policy can name its one table; the
account's table quota (2,500 per Region by default) counts tenants, not tenants x collections;
and a collection, which provisioning adds and drops freely, costs one item instead of a table
created and deleted asynchronously. In the table (keys ``pk``/``sk``, both strings):

- a document is ``pk=collection, sk=_id``: its canonical JSON text and a version ``v``;
- a collection's record (its indexes and a version) is ``pk="#collections", sk=collection``;
  the table itself is the database's marker, recognised by ``table_prefix``;
- a unique value is reserved by a guard item ``pk="#unique#collection", sk=index#sha256``,
  written in the same TransactWriteItems as the document, so of two writers racing for one
  value exactly one wins, whatever process each runs in.

Documents are JSON text rather than DynamoDB maps: `find` reads the collection's partition in
``_id`` order and filters with `document_rules.matches` (a FilterExpression would not save read
capacity), so bool vs int, 1 vs 1.0 and None vs missing behave exactly as in every adapter, and
floats never pass through ``Decimal``. `update` is an optimistic compare-and-set on ``v``.
Non-unique indexes are recorded (`describe_collection`) but build no GSI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from overlord.adapters import document_rules as rules
from overlord.adapters.aws import dynamodb_collections as records
from overlord.adapters.aws import dynamodb_items as items
from overlord.adapters.aws.clients import AwsClients
from overlord.adapters.aws.dynamodb_collections import RACES, guard_item, release
from overlord.adapters.aws.dynamodb_items import Meta
from overlord.adapters.aws.dynamodb_table import (
    ABSENT,
    AT_VERSION,
    FREE_OR_MINE,
    Cancelled,
    DynamoCalls,
    pause,
    write,
)
from overlord.domain.errors import DuplicateKey, NotFound, Throttled
from overlord.domain.indexes import IndexSpec
from overlord.ports.document_store import Document

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDocumentStore:
    """DocumentStore on DynamoDB: table ``table_prefix + database``, on-demand billing.

    >>> store = DynamoDocumentStore()  # doctest: +SKIP
    >>> store.ensure_collection("overlord-acme", "weather_jobs")  # doctest: +SKIP
    """

    def __init__(
        self,
        client: DynamoDBClient | None = None,
        *,
        session: boto3.session.Session | None = None,
        table_prefix: str = "overlord.",
        clients: AwsClients | None = None,
    ) -> None:
        """Without ``client``, the DynamoDB client of ``clients`` (or of ``session``), made on
        the first call."""
        if client is None:
            shared = clients or AwsClients(session)
            self._dynamo = DynamoCalls(make=lambda: shared.client("dynamodb"))
        else:
            self._dynamo = DynamoCalls(client)
        self._prefix = table_prefix

    def _table(self, database: str) -> str:
        return self._prefix + rules.check_database(database)

    # databases

    def list_databases(self) -> list[str]:
        size = len(self._prefix)
        names = self._dynamo.table_names()
        return sorted(n[size:] for n in names if n.startswith(self._prefix) and len(n) > size)

    def database_exists(self, database: str) -> bool:
        return self._dynamo.table_status(self._table(database)) not in (None, "DELETING")

    def ensure_database(self, database: str) -> None:
        self._dynamo.create_table(self._table(database))

    def drop_database(self, database: str) -> None:
        self._dynamo.delete_table(self._table(database))

    # collections

    def list_collections(self, database: str) -> list[str]:
        try:
            found = self._dynamo.partition(self._table(database), items.META_PK, keys_only=True)
            return sorted(item["sk"]["S"] for item in found)
        except NotFound:
            return []

    def describe_collection(self, database: str, name: str) -> tuple[IndexSpec, ...] | None:
        try:
            meta = self._meta(self._table(database), rules.check_collection(name))
        except NotFound:
            return None
        return None if meta is None else tuple(sorted(meta.indexes, key=lambda i: i.name))

    def ensure_collection(
        self, database: str, name: str, indexes: Sequence[IndexSpec] = ()
    ) -> None:
        table = self._table(database)
        rules.check_collection(name)
        rules.added_indexes({}, indexes)  # refuse malformed specs before any write
        while True:
            try:
                meta = self._meta(table, name)
            except NotFound:
                self.ensure_database(database)
                continue
            if meta is None:
                records.purge(self._dynamo, table, name)  # leftovers of an unfinished drop
                meta = Meta(1)
                if not records.put_meta(self._dynamo, table, name, meta, None):
                    continue
            added = tuple(rules.added_indexes(meta.by_name(), indexes))
            unique = [index for index in added if index.unique]
            if not added:
                return
            records.refuse_repeated_values(self._dynamo, table, name, unique)
            grown = Meta(meta.version + 1, meta.indexes + added)
            if records.put_meta(self._dynamo, table, name, grown, meta):
                break
        if unique:
            records.reserve_existing(self._dynamo, table, name, unique, added)

    def drop_collection(self, database: str, name: str) -> None:
        table = self._table(database)
        try:
            self._dynamo.delete_key(table, items.meta_key(rules.check_collection(name)))
        except NotFound:
            return
        records.purge(self._dynamo, table, name)

    # documents

    def insert(self, database: str, collection: str, document: Mapping[str, Any]) -> None:
        table = self._table(database)
        rules.check_collection(collection)
        text, plain = rules.new_document(document)
        document_id = plain["_id"]
        item = items.document_item(collection, document_id, text, 1)
        meta = self._required(table, collection, self._meta(table, collection))
        guards = items.guard_keys(collection, meta.unique, plain)
        writes = [write("Put", table, ABSENT, Item=item)]
        writes += [
            write("Put", table, ABSENT, Item=guard_item(g, document_id)) for g in guards.values()
        ]
        try:
            self._dynamo.transact(f"insert into {collection}", writes)
        except Cancelled as cancelled:
            if cancelled.failed(0) or not guards:
                raise DuplicateKey(f"a document with _id {document_id!r} already exists") from None
            clashes = [n for i, n in enumerate(guards, 1) if cancelled.failed(i)] or list(guards)
            raise DuplicateKey(f"unique index {clashes[0]} already holds these values") from None

    def insert_many(
        self, database: str, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        """`insert` for each document, after checking them all: a document and its unique-value
        guards are one TransactWriteItems, which fails whole on any clash, so documents cannot
        share one, and BatchWriteItem cannot refuse an ``_id`` that exists. Each reads the
        collection's record again, as `insert` does, so none misses a unique index added
        meanwhile."""
        table = self._table(database)
        rules.check_collection(collection)
        plains = [rules.new_plain(document) for document in rules.check_documents(documents)]
        if not plains:  # still `NotFound` for a collection never ensured
            self._required(table, collection, self._meta(table, collection))
        refused = []
        for plain in plains:
            try:
                self.insert(database, collection, plain)
            except DuplicateKey:
                refused.append(plain["_id"])
        return refused

    def get(self, database: str, collection: str, document_id: str) -> Document | None:
        found = self._document(database, collection, rules.check_id(document_id))[1]
        return None if found is None else found[0]

    def find(
        self,
        database: str,
        collection: str,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        """``fields`` are picked after decoding: a document is one JSON text here."""
        wanted = rules.conditions(where)
        rules.check_limit(limit)
        names = rules.check_fields(fields)
        table = self._table(database)
        self._required(table, collection, self._meta(table, rules.check_collection(collection)))
        found: list[Document] = []
        if limit == 0:
            return found
        for item in self._dynamo.partition(table, collection):
            document, _ = items.decode_document(item)
            if rules.matches(document, wanted):
                found.append(document if names is None else rules.project(document, names))
                if limit is not None and len(found) >= limit:
                    break
        return found

    def count(self, database: str, collection: str, where: Mapping[str, Any] | None = None) -> int:
        if where:
            return len(self.find(database, collection, where))
        rules.conditions(where)
        table = self._table(database)
        self._required(table, collection, self._meta(table, rules.check_collection(collection)))
        return sum(1 for _ in self._dynamo.partition(table, collection, keys_only=True))

    def update(
        self,
        database: str,
        collection: str,
        document_id: str,
        changes: Mapping[str, Any],
        *,
        expected: Mapping[str, Any] | None = None,
    ) -> bool:
        plain = rules.check_changes(rules.check_id(document_id), changes)
        wanted = rules.conditions(expected)
        skip: set[str] = set()  # guards this document does not hold after all: not released
        for attempt in range(RACES):
            (table, meta), found = self._document(database, collection, document_id)
            if found is None or not rules.matches(found[0], wanted):
                return False
            old, version = found
            new = {**old, **plain}
            item = items.document_item(collection, document_id, rules.encode(new), version + 1)
            labels, writes = ["doc"], [write("Put", table, AT_VERSION, version=version, Item=item)]
            before = items.guard_keys(collection, meta.unique, old)
            after = items.guard_keys(collection, meta.unique, new)
            for name in (n for n in meta.by_name() if before.get(n) != after.get(n)):
                if name in before and name not in skip:
                    labels.append(f"free:{name}")
                    writes.append(release(table, before[name], document_id))
                if name in after:
                    labels.append(f"take:{name}")
                    take = guard_item(after[name], document_id)
                    writes.append(write("Put", table, FREE_OR_MINE, ref=document_id, Item=take))
            try:
                self._dynamo.transact(f"update {collection}/{document_id}", writes)
                return True
            except Cancelled as cancelled:
                failed = [label for i, label in enumerate(labels) if cancelled.failed(i)]
            taken = [label[5:] for label in failed if label.startswith("take:")]
            if taken and "doc" not in failed:
                raise DuplicateKey(f"unique index {taken[0]} already holds these values")
            skip.update(label[5:] for label in failed if label.startswith("free:"))
            pause(attempt)
        raise Throttled(f"update {collection}/{document_id}: too many concurrent writers")

    def delete(self, database: str, collection: str, document_id: str) -> bool:
        rules.check_id(document_id)
        skip: set[str] = set()
        for attempt in range(RACES):
            (table, meta), found = self._document(database, collection, document_id)
            if found is None:
                return False
            document, version = found
            key = items.key(collection, document_id)
            labels, writes = ["doc"], [write("Delete", table, AT_VERSION, version=version, Key=key)]
            for name, guard in items.guard_keys(collection, meta.unique, document).items():
                if name not in skip:
                    labels.append(name)
                    writes.append(release(table, guard, document_id))
            try:
                self._dynamo.transact(f"delete {collection}/{document_id}", writes)
                return True
            except Cancelled as cancelled:
                skip.update(n for i, n in enumerate(labels) if i and cancelled.failed(i))
            pause(attempt)
        raise Throttled(f"delete {collection}/{document_id}: too many concurrent writers")

    # helpers

    def _document(
        self, database: str, collection: str, document_id: str
    ) -> tuple[tuple[str, Meta], tuple[Document, int] | None]:
        """The collection's record and the document (with its version), in one round trip."""
        table = self._table(database)
        meta_key = items.meta_key(rules.check_collection(collection))
        if not items.storable_id(document_id):  # no such document can have been stored
            return (table, self._required(table, collection, self._meta(table, collection))), None
        try:
            found = self._dynamo.get_many(table, [meta_key, items.key(collection, document_id)])
        except NotFound:
            found = [None, None]
        meta = self._required(
            table, collection, None if found[0] is None else items.decode_meta(found[0])
        )
        document = None if found[1] is None else items.decode_document(found[1])
        return (table, meta), document

    def _meta(self, table: str, collection: str) -> Meta | None:
        return records.read_meta(self._dynamo, table, collection)

    @staticmethod
    def _required(table: str, collection: str, meta: Meta | None) -> Meta:
        if meta is None:
            raise NotFound(f"collection {collection} does not exist in table {table}")
        return meta
