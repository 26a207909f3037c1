"""Databases of JSON documents: SQLite locally, MongoDB or DynamoDB on AWS.

Documents are JSON-compatible dicts with a string ``_id``. Filters are equalities on top-level
fields. `update` is the one concurrency primitive services build on: a compare-and-set that is
atomic across processes in every adapter.

The rules below are what every adapter agrees on, so that code tested on one behaves the same on
the others; anything outside them raises before a backend is touched and changes nothing.

- **Names.** A database name is 1-63 lowercase letters, digits, '_' and '-', starting with a
  letter or digit (MongoDB refuses dots in database names and names differing only in case). A
  collection name may also hold dots. Anything else raises `InvalidName`.
- **Documents.** Objects with string keys (not starting with '$'), arrays, strings,
  booleans, null, integers that fit in 64 bits and finite floats, nested at most 100 deep; no
  string or key holds a NUL character (SQLite's JSON functions would end it there); ``_id`` is
  a non-empty string. Anything else (NaN, sets, bytes, objects, lone surrogates) raises
  `InvalidInput`. Tuples come back as lists; documents handed in or out are copies.
- **Equality** (``where`` and ``expected``): field names are letters, digits, '_' and '-',
  starting with a letter or '_' (else `InvalidName`); values are strings, numbers, booleans or
  None (else `InvalidInput`). Numbers compare by value (1 equals 1.0), booleans are not
  numbers (True never equals 1), strings never equal numbers, and None matches a field that
  is null or missing, as in MongoDB.
- **Unique indexes** use that equality and constrain only documents in which every indexed
  field holds a string, number or boolean: documents where one is missing, null or an object
  never clash. Arrays in a uniquely indexed field are backend-defined (MongoDB indexes each
  element, so ``[1, 2]`` clashes with ``1``): keep them out of such fields.
- Every document operation on a collection that was never ensured raises `NotFound`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from overlord.domain.indexes import IndexSpec

Document = dict[str, Any]


class DocumentStore(Protocol):
    def list_databases(self) -> list[str]:
        """Sorted database names."""

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

        Indexes already there and not in ``indexes`` are kept. A unique index that existing
        documents violate raises `Conflict` and is not created; so does an index whose name
        (`IndexSpec.name`) is taken by a different spec. Either way nothing is changed.
        """

    def drop_collection(self, database: str, name: str) -> None:
        """Remove the collection and its documents; no error if it is gone."""

    def insert(self, database: str, collection: str, document: Mapping[str, Any]) -> None:
        """Insert a new document; `DuplicateKey` if its ``_id`` or a unique index clashes;
        `NotFound` if the collection was never ensured."""

    def insert_many(
        self, database: str, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        """Insert each document as `insert` would; the ``_id`` of each one refused because its
        ``_id`` or a unique index clashes (with a stored document or one earlier in the list),
        in order. Others are inserted even so.

        Why: writing records one call each costs a round trip (a transaction, a request) per
        record, and a batch's start writes a thousand at once. Every document is checked
        before any is written (`InvalidInput` writes nothing). Each is inserted whole or not
        at all, but the call is not one transaction: an error part-way (a backend failure,
        not a clash) may leave some inserted, so a caller repeats it, reading the refused ids
        of its own earlier documents as written. `NotFound` if the collection was never
        ensured.
        """

    def get(self, database: str, collection: str, document_id: str) -> Document | None: ...

    def find(
        self,
        database: str,
        collection: str,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        """Documents whose top-level fields equal ``where``'s, sorted by ``_id``; at most
        ``limit`` (>= 0) of them.

        With ``fields`` (names as a filter's), each document holds only its ``_id`` and those
        of the named top-level fields it has; one it lacks is left out, as in a MongoDB
        projection. Why: reading two small fields of a thousand large documents (a batch's
        counts from its request records) costs a fraction of reading them whole where the
        store can pick the fields out itself.
        """

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
        which is how a caller learns that it lost a race. ``_id`` cannot be changed: in
        ``changes`` it must equal ``document_id`` (else `InvalidInput`). `DuplicateKey` (and
        nothing changed) when the changes clash with a unique index.
        """

    def delete(self, database: str, collection: str, document_id: str) -> bool:
        """Delete one document; False when it was not there."""
