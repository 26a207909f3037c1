"""Collection records and unique indexes added to collections that already hold documents.

A new unique index must reserve the values of every stored document before it can promise
anything, and must leave no trace when stored documents already repeat a value. That takes a
pre-check, then the record update (from which on writers maintain the index), then one guard per
document, each conditioned on the document's version so a concurrent update is not overwritten
by a stale value; a clash found on the way removes the new indexes and their guards again.
"""

from __future__ import annotations

from collections.abc import Sequence

from overlord.adapters.aws import dynamodb_items as items
from overlord.adapters.aws.dynamodb_items import Item, Meta
from overlord.adapters.aws.dynamodb_table import (
    ABSENT,
    AT_VERSION,
    FREE_OR_MINE,
    Cancelled,
    DynamoCalls,
    pause,
    write,
)
from overlord.domain.errors import Conflict, Throttled
from overlord.domain.indexes import IndexSpec

RACES = 50  # optimistic attempts before an operation gives up under contention


def read_meta(dynamo: DynamoCalls, table: str, collection: str) -> Meta | None:
    found = dynamo.get_many(table, [items.meta_key(collection)])[0]
    return None if found is None else items.decode_meta(found)


def put_meta(
    dynamo: DynamoCalls, table: str, collection: str, meta: Meta, replacing: Meta | None
) -> bool:
    """Write the record if nobody changed it since ``replacing`` was read (or created it)."""
    item = items.encode_meta(collection, meta)
    if replacing is None:
        return dynamo.put_if(table, item, ABSENT)
    return dynamo.put_if(table, item, AT_VERSION, version=replacing.version)


def purge(dynamo: DynamoCalls, table: str, collection: str) -> None:
    """Delete the collection's documents and guards (its record is deleted by the caller)."""
    for pk in (collection, items.guard_partition(collection)):
        dynamo.delete_items(table, list(dynamo.partition(table, pk, keys_only=True)))


def _clash(collection: str, index: str) -> Conflict:
    return Conflict(f"documents of {collection} already repeat values of unique index {index}")


def refuse_repeated_values(
    dynamo: DynamoCalls, table: str, collection: str, indexes: Sequence[IndexSpec]
) -> None:
    """`Conflict` when stored documents already repeat a value of one of ``indexes``."""
    seen: set[tuple[str, str]] = set()
    for item in dynamo.partition(table, collection):
        document, _ = items.decode_document(item)
        for name, guard in items.guard_keys(collection, indexes, document).items():
            value = (name, guard["sk"]["S"])
            if value in seen:
                raise _clash(collection, name)
            seen.add(value)


def reserve_existing(
    dynamo: DynamoCalls,
    table: str,
    collection: str,
    unique: Sequence[IndexSpec],
    added: Sequence[IndexSpec],
) -> None:
    """Reserve stored documents' values for ``unique``; on a clash remove every index of
    ``added`` (the whole request) with its guards, and raise `Conflict`."""
    try:
        for item in dynamo.partition(table, collection):
            _reserve(dynamo, table, collection, unique, item)
    except Conflict:
        while (meta := read_meta(dynamo, table, collection)) is not None:
            kept = tuple(index for index in meta.indexes if index not in added)
            if put_meta(dynamo, table, collection, Meta(meta.version + 1, kept), meta):
                break
        prefixes = tuple(f"{index.name}#" for index in unique)
        guards = dynamo.partition(table, items.guard_partition(collection))
        dynamo.delete_items(table, [g for g in guards if g["sk"]["S"].startswith(prefixes)])
        raise


def _reserve(
    dynamo: DynamoCalls, table: str, collection: str, indexes: Sequence[IndexSpec], item: Item
) -> None:
    for attempt in range(RACES):
        document, version = items.decode_document(item)
        document_id: str = document["_id"]
        key = items.key(collection, document_id)
        guards = items.guard_keys(collection, indexes, document)
        if not guards:
            return
        writes = [write("ConditionCheck", table, AT_VERSION, version=version, Key=key)]
        writes += [
            write("Put", table, FREE_OR_MINE, ref=document_id, Item=guard_item(g, document_id))
            for g in guards.values()
        ]
        try:
            dynamo.transact(f"index {collection}", writes)
            return
        except Cancelled as cancelled:
            clashes = [n for i, n in enumerate(guards, 1) if cancelled.failed(i)]
            if clashes and not cancelled.failed(0):
                raise _clash(collection, clashes[0]) from None
        fresh = dynamo.get_many(table, [key])[0]
        if fresh is None:
            return  # deleted meanwhile: nothing left to reserve
        item = fresh
        pause(attempt)
    raise Throttled(f"index {collection}: documents kept changing while being indexed")


def guard_item(key: Item, document_id: str) -> Item:
    """A guard reserving a unique value for ``document_id``."""
    return {**key, "ref": {"S": document_id}}


def release(table: str, key: Item, document_id: str) -> dict[str, object]:
    """Delete a guard this document holds; one it never got (or that is gone) is fine."""
    return write("Delete", table, FREE_OR_MINE, ref=document_id, Key=key)
