"""Databases, collections and indexes on a server that creates them lazily.

MongoDB makes a database or collection exist on its first write and forgets a database whose last
collection is dropped. The port needs an ensured database to exist while empty, and Overlord must
tell its databases from the cluster's others (``admin``, other applications'), so each Overlord
database holds the marker collection `queries.MARKER`: a database is Overlord's, and exists, when
the marker is in it. Index creation lives here too because the port wants all-or-nothing: when
one index of a call cannot be added, the ones this call already added are dropped again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from overlord.adapters.mongo.queries import MARKER, index_keys, index_spec, partial_filter
from overlord.domain.errors import Conflict
from overlord.domain.indexes import IndexSpec
from overlord.ports.document_store import Document

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.collection import Collection

# createIndexes failures that mean "this spec cannot be added here", not "the server failed":
# documents that repeat a key, and a name or key pattern that another index already uses.
_INDEX_CONFLICTS = frozenset({11000, 11001, 85, 86})


def collection_names(client: MongoClient[Document], database: str) -> set[str] | None:
    """The database's collection names (the marker included), or None if it is not Overlord's."""
    names = set(client[database].list_collection_names())
    return names if MARKER in names else None


def collection_exists(client: MongoClient[Document], database: str, collection: str) -> bool:
    names = collection_names(client, database)
    return names is not None and collection in names


def mark(client: MongoClient[Document], database: str) -> None:
    """Make ``database`` exist as an Overlord database; an idempotent upsert."""
    from pymongo.errors import DuplicateKeyError

    try:
        client[database][MARKER].update_one(
            {"_id": "database"}, {"$setOnInsert": {"by": "overlord"}}, upsert=True
        )
    except DuplicateKeyError:  # two upserts raced and the other one inserted the marker
        pass


def create_collection(client: MongoClient[Document], database: str, collection: str) -> None:
    from pymongo.errors import CollectionInvalid

    try:
        client[database].create_collection(collection)
    except CollectionInvalid:  # another caller created it first
        pass


def indexes(collection: Collection[Document]) -> dict[str, IndexSpec]:
    """The collection's indexes by name, without the ``_id`` index every collection has."""
    information = collection.index_information()
    return {name: index_spec(entry) for name, entry in information.items() if name != "_id_"}


def add_indexes(collection: Collection[Document], added: Sequence[IndexSpec]) -> None:
    """Create ``added``; `Conflict` (and none of them left) when one cannot be."""
    from pymongo.errors import OperationFailure

    created: list[str] = []
    for spec in added:
        options: dict[str, Any] = {"name": spec.name, "unique": spec.unique}
        if spec.unique:
            options["partialFilterExpression"] = partial_filter(spec)
        try:
            collection.create_index(index_keys(spec), **options)
        except OperationFailure as exc:
            for name in created:
                collection.drop_index(name)
            if exc.code not in _INDEX_CONFLICTS:
                raise
            reason = (exc.details or {}).get("errmsg", str(exc))
            raise Conflict(
                f"index {spec.name} cannot be added to {collection.full_name}: {reason}"
            ) from exc
        created.append(spec.name)
