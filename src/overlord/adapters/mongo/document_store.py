"""MongoDB as the DocumentStore: a database per tenant, documents stored as they are.

The adapter maps the port onto MongoDB directly, so that other tools (Atlas's data explorer,
mongosh, an analytics export) read what Overlord writes: the port's database is a MongoDB database
named as is, a collection is a collection, a unique index is a partial unique index
(`queries.partial_filter`), and `update` is one conditional ``update_one``, which the server
applies atomically to the document. ``update_one`` rather than ``find_one_and_update``: both are
atomic on a server, but only the former avoids shipping the document back, and mongomock's
``find_one_and_update`` finds first and updates by ``_id`` without re-checking the condition.

Databases and collections are made to exist eagerly and recognised by a marker (`schema`).
Because an insert would silently create a missing collection, `insert` checks that it exists
first; the other document calls check only when they find nothing, to tell "no match" from
`NotFound` without a second round trip on the common path.

What this adapter cannot promise, and what mongomock (the contract suite's server) does not
prove, is written in docs/mongo.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from overlord.adapters.document_rules import (
    added_indexes,
    check_changes,
    check_documents,
    check_fields,
    check_id,
    check_limit,
    conditions,
    new_document,
)
from overlord.adapters.mongo import schema
from overlord.adapters.mongo.client import call, connect
from overlord.adapters.mongo.queries import (
    MARKER,
    check_collection,
    check_database,
    plain,
    query,
    settable,
)
from overlord.domain.errors import DuplicateKey, InvalidName, NotFound
from overlord.domain.indexes import IndexSpec
from overlord.ports.document_store import Document

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.collection import Collection

_DUPLICATE = 11000  # MongoDB's duplicate key error


def _plain_name(name: str) -> bool:
    """Whether a listed database could be Overlord's (the cluster holds others too)."""
    try:
        check_database(name)
    except InvalidName:
        return False
    return True


class MongoDocumentStore:
    """DocumentStore on a MongoDB deployment (Atlas, a replica set, DocumentDB with limits).

    >>> import mongomock
    >>> store = MongoDocumentStore(mongomock.MongoClient())  # or .from_uri("mongodb+srv://...")
    >>> store.ensure_collection("overlord-acme", "runs")
    >>> store.insert("overlord-acme", "runs", {"_id": "r1", "status": "RUNNING"})
    >>> store.update("overlord-acme", "runs", "r1", {"status": "DONE"}, expected={"status": "X"})
    False
    """

    def __init__(self, client: MongoClient[Document]) -> None:
        self._client = client

    @classmethod
    def from_uri(cls, uri: str) -> MongoDocumentStore:
        """A store on a new client for ``uri`` (see `overlord.adapters.mongo.client.connect`)."""
        return cls(connect(uri))

    def close(self) -> None:
        """Close the client's connections; for scripts and tests (the port has no close)."""
        self._client.close()

    # helpers

    def _collection(self, database: str, collection: str) -> Collection[Document]:
        return self._client[check_database(database)][check_collection(collection)]

    def _names(self, database: str) -> set[str] | None:
        return schema.collection_names(self._client, database)

    def _require(self, database: str, collection: str) -> None:
        """`NotFound` unless the collection exists: a call that found nothing asks this."""
        doing = f"looking up collection {database}/{collection}"
        if not call(
            lambda: schema.collection_exists(self._client, database, collection), doing=doing
        ):
            raise NotFound(f"collection {database}/{collection} does not exist")

    # databases and collections

    def list_databases(self) -> list[str]:
        def listed() -> list[str]:
            names = [name for name in self._client.list_database_names() if _plain_name(name)]
            return sorted(name for name in names if self._names(name) is not None)

        return call(listed, doing="listing databases")

    def database_exists(self, database: str) -> bool:
        check_database(database)
        return call(lambda: self._names(database) is not None, doing=f"reading {database}")

    def ensure_database(self, database: str) -> None:
        check_database(database)
        call(lambda: schema.mark(self._client, database), doing=f"creating database {database}")

    def drop_database(self, database: str) -> None:
        check_database(database)

        def drop() -> None:
            if self._names(database) is not None:
                self._client.drop_database(database)

        call(drop, doing=f"dropping database {database}")

    def list_collections(self, database: str) -> list[str]:
        check_database(database)
        names = call(lambda: self._names(database), doing=f"listing collections of {database}")
        return sorted(name for name in names or () if name != MARKER)

    def describe_collection(self, database: str, name: str) -> tuple[IndexSpec, ...] | None:
        collection = self._collection(database, name)

        def describe() -> tuple[IndexSpec, ...] | None:
            if not schema.collection_exists(self._client, database, name):
                return None
            found = schema.indexes(collection)
            return tuple(found[index] for index in sorted(found))

        return call(describe, doing=f"describing {database}/{name}")

    def ensure_collection(
        self, database: str, name: str, indexes: Sequence[IndexSpec] = ()
    ) -> None:
        collection = self._collection(database, name)

        def ensure() -> None:
            exists = schema.collection_exists(self._client, database, name)
            added = added_indexes(schema.indexes(collection) if exists else {}, indexes)
            schema.mark(self._client, database)
            if not exists:
                schema.create_collection(self._client, database, name)
            schema.add_indexes(collection, added)

        call(ensure, doing=f"ensuring collection {database}/{name}")

    def drop_collection(self, database: str, name: str) -> None:
        collection = self._collection(database, name)

        def drop() -> None:
            if self._names(database) is not None:
                collection.drop()

        call(drop, doing=f"dropping collection {database}/{name}")

    # documents

    def insert(self, database: str, collection: str, document: Mapping[str, Any]) -> None:
        target = self._collection(database, collection)
        _, stored = new_document(document)
        self._require(database, collection)

        def insert() -> None:
            from pymongo.errors import DuplicateKeyError

            try:
                target.insert_one(stored)
            except DuplicateKeyError as exc:
                clash = (exc.details or {}).get("keyPattern", "its _id or a unique index")
                raise DuplicateKey(
                    f"document {stored['_id']!r} clashes with another on {clash}"
                ) from None

        call(insert, doing=f"inserting into {database}/{collection}", repeatable=False)

    def insert_many(
        self, database: str, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        """One unordered ``insert_many``: the server inserts every document it can and names
        the ones a duplicate key refused (error 11000); any other write error fails the call."""
        target = self._collection(database, collection)
        stored = [new_document(document)[1] for document in check_documents(documents)]
        self._require(database, collection)
        if not stored:
            return []

        def insert() -> list[str]:
            from pymongo.errors import BulkWriteError

            try:
                target.insert_many(stored, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if exc.details.get("writeConcernErrors") or any(
                    e.get("code") != _DUPLICATE for e in errors
                ):
                    raise
                refused = sorted(e["index"] for e in errors)
                return [stored[i]["_id"] for i in refused]
            return []

        return call(insert, doing=f"inserting into {database}/{collection}", repeatable=False)

    def get(self, database: str, collection: str, document_id: str) -> Document | None:
        target = self._collection(database, collection)
        check_id(document_id)
        found = call(
            lambda: target.find_one({"_id": document_id}), doing=f"reading {database}/{collection}"
        )
        if found is None:
            self._require(database, collection)
        return None if found is None else plain(found)

    def find(
        self,
        database: str,
        collection: str,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        target = self._collection(database, collection)
        wanted = conditions(where)
        check_limit(limit)
        names = check_fields(fields)
        # A projection (the server sends only those fields; ``_id`` always comes along).
        projection = None if names is None else {"_id": 1, **dict.fromkeys(names, 1)}

        def find() -> list[Document]:
            if limit == 0:  # pymongo reads a limit of 0 as "no limit"
                return []
            cursor = target.find(query(wanted), projection).sort("_id", 1)
            return [plain(document) for document in cursor.limit(limit or 0)]

        found = call(find, doing=f"querying {database}/{collection}")
        if not found:
            self._require(database, collection)
        return found

    def count(self, database: str, collection: str, where: Mapping[str, Any] | None = None) -> int:
        target = self._collection(database, collection)
        wanted = conditions(where)
        counted = call(
            lambda: target.count_documents(query(wanted)), doing=f"counting {database}/{collection}"
        )
        if not counted:
            self._require(database, collection)
        return counted

    def update(
        self,
        database: str,
        collection: str,
        document_id: str,
        changes: Mapping[str, Any],
        *,
        expected: Mapping[str, Any] | None = None,
    ) -> bool:
        target = self._collection(database, collection)
        fields = settable(check_changes(check_id(document_id), changes))
        selector = query(conditions(expected), _id=document_id)

        def update() -> bool:
            from pymongo.errors import DuplicateKeyError

            if not fields:
                return target.find_one(selector, {"_id": 1}) is not None
            try:
                return target.update_one(selector, {"$set": fields}).matched_count == 1
            except DuplicateKeyError as exc:
                raise DuplicateKey(
                    f"changes to {document_id!r} clash with another document on "
                    f"{(exc.details or {}).get('keyPattern', 'a unique index')}"
                ) from None

        doing = f"updating {database}/{collection}"
        updated = call(update, doing=doing, repeatable=not fields)
        if not updated:
            self._require(database, collection)
        return updated

    def delete(self, database: str, collection: str, document_id: str) -> bool:
        target = self._collection(database, collection)
        check_id(document_id)
        deleted = call(
            lambda: target.delete_one({"_id": document_id}).deleted_count == 1,
            doing=f"deleting from {database}/{collection}",
            repeatable=False,
        )
        if not deleted:
            self._require(database, collection)
        return deleted
