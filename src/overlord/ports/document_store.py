"""Databases of JSON documents: SQLite locally, MongoDB or DynamoDB on AWS.

Documents are JSON-compatible dicts with a string ``_id``. Filters are equalities on top-level
fields. `update` is the one concurrency primitive services build on: a compare-and-set that is
atomic across processes in every adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from overlord.domain.connectors import IndexSpec

Document = dict[str, Any]


class DocumentStore(Protocol):
    def list_databases(self) -> list[str]: ...

    def database_exists(self, database: str) -> bool: ...

    def ensure_database(self, database: str) -> None: ...

    def drop_database(self, database: str) -> None:
        """Remove the database and every collection in it; no error if it is gone."""

    def list_collections(self, database: str) -> list[str]:
        """Sorted collection names; empty when the database does not exist."""

    def describe_collection(self, database: str, name: str) -> tuple[IndexSpec, ...] | None:
        """The collection's indexes (sorted by name), or None when it does not exist."""

    def ensure_collection(
        self, database: str, name: str, indexes: Sequence[IndexSpec] = ()
    ) -> None:
        """Create the collection (and its database) if missing and add missing indexes.

        A unique index that existing documents violate raises `Conflict` and is not created.
        """

    def drop_collection(self, database: str, name: str) -> None: ...

    def insert(self, database: str, collection: str, document: Mapping[str, Any]) -> None:
        """Insert a new document; `DuplicateKey` if its ``_id`` or a unique index clashes;
        `NotFound` if the collection was never ensured."""

    def get(self, database: str, collection: str, document_id: str) -> Document | None: ...

    def find(
        self,
        database: str,
        collection: str,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> list[Document]:
        """Documents whose top-level fields equal ``where``'s, sorted by ``_id``."""

    def count(
        self, database: str, collection: str, where: Mapping[str, Any] | None = None
    ) -> int: ...

    def update(
        self,
        database: str,
        collection: str,
        document_id: str,
        changes: Mapping[str, Any],
        *,
        expected: Mapping[str, Any] | None = None,
    ) -> bool:
        """Set ``changes``' fields if the document exists and matches ``expected``; atomic.

        Returns False (and changes nothing) when the document is missing or no longer matches,
        which is how a caller learns that it lost a race. ``_id`` cannot be changed.
        """

    def delete(self, database: str, collection: str, document_id: str) -> bool:
        """Delete one document; False when it was not there."""
