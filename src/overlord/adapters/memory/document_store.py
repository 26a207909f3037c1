"""Documents in dicts: the fast DocumentStore that unit tests use.

It applies `overlord.adapters.document_rules` like every other adapter, stores documents as the
plain JSON they encode to, and copies them out, so callers can never reach stored state.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import define, field

from overlord.adapters.document_rules import (
    added_indexes,
    check_changes,
    check_collection,
    check_database,
    check_documents,
    check_fields,
    check_id,
    check_limit,
    conditions,
    matches,
    new_plain,
    project,
    unique_key,
)
from overlord.domain.errors import Conflict, DuplicateKey, NotFound
from overlord.domain.indexes import IndexSpec
from overlord.ports.document_store import Document


@define
class _Collection:
    indexes: dict[str, IndexSpec] = field(factory=dict)
    documents: dict[str, Document] = field(factory=dict)

    def add(self, document: Document) -> None:
        """Store a new document; `DuplicateKey` (and nothing stored) on a clash."""
        if document["_id"] in self.documents:
            raise DuplicateKey(f"a document with _id {document['_id']!r} already exists")
        self.check_unique(document, list(self.indexes.values()))
        self.documents[document["_id"]] = document

    def check_unique(self, document: Document, indexes: Sequence[IndexSpec]) -> None:
        for spec in indexes:
            key = unique_key(document, spec) if spec.unique else None
            if key is not None:
                for other in self.documents.values():
                    if other["_id"] != document["_id"] and unique_key(other, spec) == key:
                        raise DuplicateKey(f"unique index {spec.name} already holds {key[1::2]}")


class MemoryDocumentStore:
    """DocumentStore in process memory; thread-safe.

    >>> store = MemoryDocumentStore()
    >>> store.ensure_collection("overlord-acme", "runs")
    >>> store.insert("overlord-acme", "runs", {"_id": "r1", "status": "RUNNING"})
    >>> store.update("overlord-acme", "runs", "r1", {"status": "DONE"}, expected={"status": "X"})
    False
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._databases: dict[str, dict[str, _Collection]] = {}

    def _collection(self, database: str, name: str) -> _Collection:
        check_database(database)
        check_collection(name)
        found = self._databases.get(database, {}).get(name)
        if found is None:
            raise NotFound(f"collection {database}/{name} does not exist")
        return found

    def list_databases(self) -> list[str]:
        with self._lock:
            return sorted(self._databases)

    def database_exists(self, database: str) -> bool:
        check_database(database)
        with self._lock:
            return database in self._databases

    def ensure_database(self, database: str) -> None:
        check_database(database)
        with self._lock:
            self._databases.setdefault(database, {})

    def drop_database(self, database: str) -> None:
        check_database(database)
        with self._lock:
            self._databases.pop(database, None)

    def list_collections(self, database: str) -> list[str]:
        check_database(database)
        with self._lock:
            return sorted(self._databases.get(database, {}))

    def describe_collection(self, database: str, name: str) -> tuple[IndexSpec, ...] | None:
        with self._lock:
            try:
                found = self._collection(database, name)
            except NotFound:
                return None
            return tuple(found.indexes[index] for index in sorted(found.indexes))

    def ensure_collection(
        self, database: str, name: str, indexes: Sequence[IndexSpec] = ()
    ) -> None:
        check_database(database)
        check_collection(name)
        with self._lock:
            found = self._databases.get(database, {}).get(name) or _Collection()
            added = added_indexes(found.indexes, indexes)
            for spec in (spec for spec in added if spec.unique):
                seen: set[tuple[object, ...]] = set()
                for document in found.documents.values():
                    key = unique_key(document, spec)
                    if key in seen:
                        raise Conflict(f"documents already repeat {key} under index {spec.name}")
                    if key is not None:
                        seen.add(key)
            found.indexes.update((spec.name, spec) for spec in added)
            self._databases.setdefault(database, {})[name] = found

    def drop_collection(self, database: str, name: str) -> None:
        check_database(database)
        check_collection(name)
        with self._lock:
            self._databases.get(database, {}).pop(name, None)

    def insert(self, database: str, collection: str, document: Mapping[str, Any]) -> None:
        plain = new_plain(document)
        with self._lock:
            self._collection(database, collection).add(plain)

    def insert_many(
        self, database: str, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        plains = [new_plain(document) for document in check_documents(documents)]
        refused = []
        with self._lock:
            found = self._collection(database, collection)
            for plain in plains:
                try:
                    found.add(plain)
                except DuplicateKey:
                    refused.append(plain["_id"])
        return refused

    def get(self, database: str, collection: str, document_id: str) -> Document | None:
        check_id(document_id)
        with self._lock:
            stored = self._collection(database, collection).documents.get(document_id)
            return None if stored is None else _copy(stored)

    def find(
        self,
        database: str,
        collection: str,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        wanted = conditions(where)
        check_limit(limit)
        names = check_fields(fields)
        with self._lock:
            documents = self._collection(database, collection).documents
            found = [documents[key] for key in sorted(documents) if matches(documents[key], wanted)]
            if names is not None:  # picked before copying: only the picked fields are copied
                found = [project(document, names) for document in found]
            return [_copy(document) for document in found[:limit]]

    def count(self, database: str, collection: str, where: Mapping[str, Any] | None = None) -> int:
        wanted = conditions(where)
        with self._lock:
            documents = self._collection(database, collection).documents.values()
            return sum(1 for document in documents if matches(document, wanted))

    def update(
        self,
        database: str,
        collection: str,
        document_id: str,
        changes: Mapping[str, Any],
        *,
        expected: Mapping[str, Any] | None = None,
    ) -> bool:
        plain = check_changes(check_id(document_id), changes)
        wanted = conditions(expected)
        with self._lock:
            found = self._collection(database, collection)
            current = found.documents.get(document_id)
            if current is None or not matches(current, wanted):
                return False
            changed = {**current, **plain}
            found.check_unique(changed, list(found.indexes.values()))
            found.documents[document_id] = changed
            return True

    def delete(self, database: str, collection: str, document_id: str) -> bool:
        check_id(document_id)
        with self._lock:
            return (
                self._collection(database, collection).documents.pop(document_id, None) is not None
            )


def _copy(document: Document) -> Document:
    """A copy of a stored document: its containers are new, its scalars shared (they are
    immutable). Stored documents are plain JSON, so no more than that is needed, and it costs a
    fraction of `copy.deepcopy`; a scalar is taken where it is met, without a call of its own."""
    return {
        key: value if type(value) not in _NESTED else _copied(value)
        for key, value in document.items()
    }


_NESTED = frozenset({dict, list})


def _copied(value: Any) -> Any:
    """A copy of a dict or list met inside a stored document."""
    if type(value) is dict:
        return {
            key: item if type(item) not in _NESTED else _copied(item) for key, item in value.items()
        }
    return [item if type(item) not in _NESTED else _copied(item) for item in value]
