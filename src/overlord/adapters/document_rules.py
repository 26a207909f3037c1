"""The document rules every DocumentStore adapter applies, defined once.

Names, what a JSON document is, what equality means and which documents a unique index
constrains are the contract of `overlord.ports.document_store`; each adapter validates with these
functions (and compares with them where it compares in Python) so that no two adapters disagree.
Pure functions, no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from overlord.domain.connectors import IndexSpec
from overlord.domain.errors import Conflict, InvalidInput, InvalidName
from overlord.ports.document_store import Document

Scalar = str | int | float | bool | None

_DATABASE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_COLLECTION = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_MAX_DEPTH = 100


def _check_name(kind: str, pattern: re.Pattern[str], value: object) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidName(f"invalid {kind} name {value!r}")
    return value


def check_database(name: object) -> str:
    return _check_name("database", _DATABASE, name)


def check_collection(name: object) -> str:
    return _check_name("collection", _COLLECTION, name)


def check_field(name: object) -> str:
    return _check_name("field", _FIELD, name)


def check_id(document_id: object) -> str:
    if not isinstance(document_id, str):
        raise InvalidInput(f"a document id is a string, got {type(document_id).__name__}")
    return document_id


def _plain(value: object, at: str, depth: int) -> object:
    """``value`` with tuples as lists and mappings as dicts; `InvalidInput` if it is not JSON."""
    if depth > _MAX_DEPTH:
        raise InvalidInput(f"{at}: nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, str):
        if "\x00" in value:  # SQLite's JSON functions end a string at NUL: "a\x00b" == "a"
            raise InvalidInput(f"{at}: strings cannot hold NUL characters")
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise InvalidInput(f"{at}: integer {value} does not fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{at}: {value} is not a JSON number")
        return value
    if isinstance(value, list | tuple):
        return [_plain(item, f"{at}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        plain: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$") or "\x00" in key:
                raise InvalidInput(f"{at}: invalid field name {key!r}")
            plain[key] = _plain(item, f"{at}.{key}", depth + 1)
        return plain
    raise InvalidInput(f"{at}: a {type(value).__name__} is not a JSON value")


def encode(document: Mapping[str, Any]) -> str:
    """The canonical JSON text of a document; `InvalidInput` if it is not JSON-compatible."""
    text = json.dumps(_plain(document, "document", 0), ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("document holds a string that is not valid Unicode") from None
    return text


def new_document(document: object) -> tuple[str, Document]:
    """The JSON text and the plain copy of a document about to be inserted."""
    if not isinstance(document, Mapping):
        raise InvalidInput(f"a document is a mapping, got {type(document).__name__}")
    identifier = document.get("_id")
    if not isinstance(identifier, str) or not identifier:
        raise InvalidInput("a document needs a non-empty string _id")
    text = encode(document)
    plain: Document = json.loads(text)
    return text, plain


def check_changes(document_id: str, changes: object) -> Document:
    if not isinstance(changes, Mapping):
        raise InvalidInput(f"changes are a mapping, got {type(changes).__name__}")
    if "_id" in changes and changes["_id"] != document_id:
        raise InvalidInput("_id cannot be changed")
    plain: Document = json.loads(encode(changes))
    return plain


def conditions(where: object) -> dict[str, Scalar]:
    """Validated equality conditions: field names to strings, numbers, booleans or None."""
    if where is None:
        return {}
    if not isinstance(where, Mapping):
        raise InvalidInput(f"a filter is a mapping, got {type(where).__name__}")
    for name, value in where.items():
        check_field(name)
        if value is not None and not isinstance(value, str | int | float):
            raise InvalidInput(f"filter on {name!r}: only strings, numbers, booleans and None")
    checked: dict[str, Scalar] = json.loads(encode(where))
    return checked


def check_limit(limit: object) -> int | None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise InvalidInput(f"limit must be a non-negative integer, got {limit!r}")
    return limit


def _kind(value: object) -> str | None:
    """Which values may be equal: booleans are not numbers, and 1 equals 1.0."""
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int | float):
        return "n"
    return "s" if isinstance(value, str) else None


def equal(value: object, wanted: Scalar) -> bool:
    if wanted is None:
        return value is None
    return _kind(value) == _kind(wanted) and value == wanted


def matches(document: Mapping[str, Any], where: Mapping[str, Scalar]) -> bool:
    return all(equal(document.get(name), wanted) for name, wanted in where.items())


def unique_key(document: Mapping[str, Any], spec: IndexSpec) -> tuple[object, ...] | None:
    """What a unique index compares, or None when the document is not constrained by it."""
    key: list[object] = []
    for name in spec.fields:
        value = document.get(name)
        kind = _kind(value)
        if kind is None:
            return None
        key.extend((kind, value))
    return tuple(key)


def added_indexes(existing: Mapping[str, IndexSpec], wanted: Sequence[object]) -> list[IndexSpec]:
    """The specs of ``wanted`` not yet in ``existing``; `Conflict` if a name means two specs."""
    known = dict(existing)
    added: list[IndexSpec] = []
    for spec in wanted:
        if not isinstance(spec, IndexSpec) or not spec.fields:
            raise InvalidInput(f"an index is an IndexSpec with at least one field, got {spec!r}")
        for name in spec.fields:
            check_field(name)
        if len(set(spec.fields)) != len(spec.fields):
            raise InvalidInput(f"index {spec.name} names a field twice")
        if spec.name in known:
            if known[spec.name] != spec:
                raise Conflict(f"index name {spec.name} is taken by {known[spec.name]}")
            continue
        known[spec.name] = spec
        added.append(spec)
    return added
