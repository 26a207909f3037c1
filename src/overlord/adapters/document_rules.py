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

from overlord.domain.errors import Conflict, InvalidInput, InvalidName
from overlord.domain.indexes import IndexSpec
from overlord.ports.document_store import Document

Scalar = str | int | float | bool | None

_DATABASE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_COLLECTION = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_MAX_DEPTH = 100
# One encoder for every call: json.dumps with options builds a new one each time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


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


class _Unusual(Exception):
    """Raised by the fast check at anything it does not decide itself."""


_LOW, _HIGH = -(2**63), 2**63


def _fast(value: Any, depth: int) -> object:
    """`_plain` for the values documents are made of (exact dicts, lists, tuples, strings,
    numbers, booleans, None) at a fraction of its cost: no path is built and scalars in a
    container are checked in place, since nearly every value is valid. Anything it is not sure
    of raises `_Unusual`, and `_plain` decides (and names the path) instead."""
    kind = type(value)
    if kind is dict:
        items: Any = value.items()
    elif kind is list or kind is tuple:
        items = enumerate(value)
    else:
        return _fast_scalar(value)
    if depth >= _MAX_DEPTH:  # its values would be deeper than allowed (or it is empty)
        raise _Unusual
    copied: dict[Any, object] = {}  # a list's items by position, to share one loop
    for key, item in items:
        if kind is dict and (
            type(key) is not str or key[:1] == "$" or "\x00" in key or not key.isascii()
        ):
            raise _Unusual
        cls = type(item)
        if cls is str:
            if "\x00" in item or not item.isascii():  # (isascii is a flag, not a scan)
                _fast_scalar(item)
            copied[key] = item
        elif cls is bool or item is None:
            copied[key] = item
        elif cls is int:
            if not _LOW <= item < _HIGH:
                raise _Unusual
            copied[key] = item
        else:
            copied[key] = _fast(item, depth + 1)
    return copied if kind is dict else list(copied.values())


def _fast_scalar(value: Any) -> object:
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise _Unusual
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Unusual from None
        return value
    if kind is bool or value is None:
        return value
    if kind is int and _LOW <= value < _HIGH:
        return value
    if kind is float and math.isfinite(value):
        return value
    raise _Unusual


def _plain(value: object, at: str, depth: int) -> object:
    """``value`` with tuples as lists and mappings as dicts; `InvalidInput` if it is not JSON."""
    if depth > _MAX_DEPTH:
        raise InvalidInput(f"{at}: nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, str):
        if "\x00" in value:  # SQLite's JSON functions end a string at NUL: "a\x00b" == "a"
            raise InvalidInput(f"{at}: strings cannot hold NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(f"{at}: a string that is not valid Unicode") from None
        return str.__str__(value)  # an exact str: a StrEnum's value, say
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise InvalidInput(f"{at}: integer {value} does not fit in 64 bits")
        return int.__int__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{at}: {value} is not a JSON number")
        return float.__float__(value)
    if isinstance(value, list | tuple):
        return [_plain(item, f"{at}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        plain: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$") or "\x00" in key:
                raise InvalidInput(f"{at}: invalid field name {key!r}")
            plain[str.__str__(key)] = _plain(item, f"{at}.{key}", depth + 1)
            _plain(key, f"{at}.{key!r}", depth + 1)  # its characters, as a string value's
        return plain
    raise InvalidInput(f"{at}: a {type(value).__name__} is not a JSON value")


def plain_copy(document: Mapping[str, Any], at: str = "document") -> Document:
    """A copy of ``document`` as the plain JSON it encodes to (tuples as lists, subclasses of
    str, int, float and dict as those); `InvalidInput` if it is not JSON-compatible.

    Nothing needs to be encoded to check it, and the copy is what a store keeps or encodes."""
    try:
        copied = _fast(document, 0)
    except _Unusual:
        copied = _plain(document, at, 0)
    return copied  # type: ignore[return-value]


def dump(document: object) -> str:
    """The canonical JSON text of a document (or a value in one) that is already plain
    (`plain_copy`, or decoded from a store): nothing in it is checked again."""
    return _ENCODER.encode(document)


def encode(document: Mapping[str, Any]) -> str:
    """The canonical JSON text of a document; `InvalidInput` if it is not JSON-compatible."""
    return dump(plain_copy(document))


def new_plain(document: object) -> Document:
    """The plain copy of a document about to be inserted, for a store that keeps no text."""
    if not isinstance(document, Mapping):
        raise InvalidInput(f"a document is a mapping, got {type(document).__name__}")
    identifier = document.get("_id")
    if not isinstance(identifier, str) or not identifier:
        raise InvalidInput("a document needs a non-empty string _id")
    return plain_copy(document)


def new_document(document: object) -> tuple[str, Document]:
    """The JSON text and the plain copy of a document about to be inserted."""
    plain = new_plain(document)
    return dump(plain), plain


def check_documents(documents: object) -> Sequence[object]:
    """The documents of an `insert_many`: a sequence (a list, a tuple), not one document."""
    if isinstance(documents, str | bytes | Mapping) or not isinstance(documents, Sequence):
        raise InvalidInput(f"documents are a list, got {type(documents).__name__}")
    return documents


def check_changes(document_id: str, changes: object) -> Document:
    """The plain copy of ``changes``, checked as a document's fields are."""
    if not isinstance(changes, Mapping):
        raise InvalidInput(f"changes are a mapping, got {type(changes).__name__}")
    if "_id" in changes and changes["_id"] != document_id:
        raise InvalidInput("_id cannot be changed")
    return plain_copy(changes, "changes")


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
    checked: dict[str, Scalar] = plain_copy(where, "filter")
    return checked


def check_fields(fields: object) -> tuple[str, ...] | None:
    """The fields a `find` returns besides ``_id`` (None: every field), each named as a
    filter's field is, in order, each once."""
    if fields is None:
        return None
    if isinstance(fields, str | bytes | Mapping) or not isinstance(fields, Sequence):
        raise InvalidInput(f"fields are a list of field names, got {type(fields).__name__}")
    return tuple(dict.fromkeys(check_field(name) for name in fields if name != "_id"))


def project(document: Mapping[str, Any], fields: Sequence[str]) -> Document:
    """``document``'s ``_id`` and those of ``fields`` it has (`check_fields`)."""
    picked = {"_id": document["_id"]}
    picked.update((name, document[name]) for name in fields if name in document)
    return picked


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
