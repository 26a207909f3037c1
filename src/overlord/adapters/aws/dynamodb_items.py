"""How documents, collections and unique-index guards are laid out as DynamoDB items.

Pure functions, no client: the item shapes are the storage format, so they live in one place
and are tested without a table. A document is stored as its exact JSON text (``doc``) plus a
version number (``v``) for compare-and-set; equality filters run in Python on the decoded
document, so bool vs int, 1 vs 1.0, None vs missing and nested values compare exactly as in
the memory adapter, and floats never pass through ``Decimal``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from overlord.domain.connectors import IndexSpec
from overlord.domain.errors import InvalidInput, InvalidName, PayloadTooLarge

Item = dict[str, Any]
Document = dict[str, Any]

META_PK = "#collections"  # partition of the collection records (names never start with '#')
MAX_ITEM_BYTES = 400 * 1024
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


@frozen
class Meta:
    """A collection's record: its indexes, and a version bumped when they change."""

    version: int
    indexes: tuple[IndexSpec, ...] = ()

    @property
    def unique(self) -> tuple[IndexSpec, ...]:
        return tuple(index for index in self.indexes if index.unique)


def table_name(prefix: str, database: str) -> str:
    name = f"{prefix}{database}"
    if not isinstance(database, str) or not database or not _TABLE.fullmatch(name):
        raise InvalidName(
            f"invalid database name {database!r}: use letters, digits, '_', '-' and '.'"
        )
    return name


def check_collection(name: object) -> str:
    if not isinstance(name, str) or not name or name.startswith("#") or len(name) > 512:
        raise InvalidName(f"invalid collection name {name!r}")
    return name


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


def check_id(document_id: object) -> str:
    if not isinstance(document_id, str) or not document_id:
        raise InvalidInput("a document needs a non-empty string _id")
    if len(document_id.encode("utf-8")) > 1024:
        raise InvalidInput("a document _id must be at most 1024 bytes")
    return document_id


def encode_document(collection: str, document: Mapping[str, Any], version: int) -> Item:
    """The item holding ``document`` at ``version``; refuses what JSON cannot hold exactly."""
    if not isinstance(document, Mapping):
        raise InvalidInput(f"a document must be a mapping, got {type(document).__name__}")
    document_id = check_id(document.get("_id"))
    try:
        text = json.dumps(document, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"document {document_id!r} is not JSON-compatible: {exc}") from None
    if len(text.encode("utf-8")) > MAX_ITEM_BYTES - 2048:
        raise PayloadTooLarge(f"document {document_id!r} is larger than DynamoDB's 400 KB item")
    return {**key(collection, document_id), "doc": {"S": text}, "v": {"N": str(version)}}


def decode_document(item: Item) -> tuple[Document, int]:
    document: Document = json.loads(item["doc"]["S"])
    return document, int(item["v"]["N"])


_MISSING = object()


def same(a: Any, b: Any) -> bool:
    """JSON equality: True is not 1, 1 is 1.0, dicts and lists compare element by element."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def matches(document: Mapping[str, Any], where: Mapping[str, Any] | None) -> bool:
    """Every field of ``where`` equals the document's; a missing field equals None."""
    return all(same(document.get(name), value) for name, value in (where or {}).items())


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def guard_key(collection: str, index: IndexSpec, document: Mapping[str, Any]) -> Item:
    """The key of the item that reserves ``document``'s values for a unique index.

    Values are hashed so any JSON value fits DynamoDB's 1 KB sort key; equal values (in the
    sense of `same`) give equal keys, so two documents cannot both hold the guard.
    """
    values = [_canonical(document.get(name)) for name in index.fields]
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return key(guard_partition(collection), f"{index.name}#{digest}")


def guard_keys(
    collection: str, indexes: Sequence[IndexSpec], document: Mapping[str, Any]
) -> dict[str, Item]:
    """Guard keys of ``document`` for each unique index, by index name."""
    return {index.name: guard_key(collection, index, document) for index in indexes}
