"""How documents, collection records and unique-index guards are laid out as DynamoDB items.

Pure functions, no client: the item shapes are the storage format, so they live in one place.
A document is stored as its canonical JSON text (``doc``, from `document_rules.encode`) plus a
version ``v`` for compare-and-set, so floats never pass through ``Decimal`` and a document reads
back exactly as the memory adapter would return it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from overlord.adapters.document_rules import unique_key
from overlord.domain.errors import InvalidInput, PayloadTooLarge
from overlord.domain.indexes import IndexSpec

Item = dict[str, Any]

META_PK = "#collections"  # collection names start with [a-z0-9], never with '#'
MAX_ITEM_BYTES = 400 * 1024
MAX_SORT_KEY_BYTES = 1024


@frozen
class Meta:
    """A collection's record: its indexes, and a version bumped whenever they change."""

    version: int
    indexes: tuple[IndexSpec, ...] = ()

    @property
    def unique(self) -> tuple[IndexSpec, ...]:
        return tuple(index for index in self.indexes if index.unique)

    def by_name(self) -> dict[str, IndexSpec]:
        return {index.name: index for index in self.indexes}


def key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def meta_key(collection: str) -> Item:
    return key(META_PK, collection)


def guard_partition(collection: str) -> str:
    return f"#unique#{collection}"


def encode_meta(collection: str, meta: Meta) -> Item:
    indexes = [{"fields": list(i.fields), "unique": i.unique} for i in meta.indexes]
    return {
        **meta_key(collection),
        "v": {"N": str(meta.version)},
        "indexes": {"S": json.dumps(indexes, sort_keys=True)},
    }


def decode_meta(item: Item) -> Meta:
    indexes = json.loads(item["indexes"]["S"])
    return Meta(
        version=int(item["v"]["N"]),
        indexes=tuple(IndexSpec(tuple(i["fields"]), bool(i["unique"])) for i in indexes),
    )


def storable_id(document_id: str) -> bool:
    """Whether ``document_id`` can be a sort key: non-empty, valid UTF-8, at most 1 KB."""
    try:
        return 0 < len(document_id.encode("utf-8")) <= MAX_SORT_KEY_BYTES
    except UnicodeEncodeError:
        return False


def document_item(collection: str, document_id: str, text: str, version: int) -> Item:
    """The item holding a document's JSON ``text`` at ``version``."""
    if len(document_id.encode("utf-8")) > MAX_SORT_KEY_BYTES:
        raise InvalidInput(f"document _id {document_id[:40]!r}… is longer than 1024 bytes")
    if len(text.encode("utf-8")) + len(collection) + len(document_id) + 64 > MAX_ITEM_BYTES:
        raise PayloadTooLarge(f"document {document_id!r} is larger than a 400 KB DynamoDB item")
    return {**key(collection, document_id), "doc": {"S": text}, "v": {"N": str(version)}}


def decode_document(item: Item) -> tuple[dict[str, Any], int]:
    document: dict[str, Any] = json.loads(item["doc"]["S"])
    return document, int(item["v"]["N"])


def _canonical(value: object) -> object:
    """1 and 1.0 are one unique value (as `document_rules.unique_key` compares them)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def guard_key(collection: str, index: IndexSpec, document: Mapping[str, Any]) -> Item | None:
    """The key of the item reserving ``document``'s values in a unique index, or None when the
    index does not constrain the document (a field missing, null or not a scalar).

    Values are hashed so that any value fits DynamoDB's 1 KB sort key; values that
    `unique_key` calls equal give equal keys, so two documents cannot both hold one guard.
    """
    values = unique_key(document, index)
    if values is None:
        return None
    text = json.dumps([_canonical(v) for v in values], separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return key(guard_partition(collection), f"{index.name}#{digest}")


def guard_keys(
    collection: str, indexes: Sequence[IndexSpec], document: Mapping[str, Any]
) -> dict[str, Item]:
    """Guard keys of ``document`` for each unique index that constrains it, by index name."""
    found = {index.name: guard_key(collection, index, document) for index in indexes}
    return {name: guard for name, guard in found.items() if guard is not None}
