"""The port's document rules said in MongoDB's query language, so the server decides them.

MongoDB's own equality is close to the port's but not the same, and each gap is closed here
rather than by filtering in Python, because `update`'s compare-and-set must be decided by the
server in one atomic operation:

- ``{"v": 1}`` also matches a document whose ``v`` is an array holding 1 (or ``None`` an array
  holding null); every equality clause therefore adds ``$not: {$type: "array"}``.
- MongoDB never equals a boolean and a number, but mongomock (the suite's stand-in server)
  compares with Python's ``==``, where ``True == 1``. Clauses on booleans and numbers name their
  ``$type`` too: redundant on a real server, and it keeps the stand-in honest.
- A plain unique index indexes a missing field as null, so two documents without it would clash.
  Unique indexes get a partial filter that keeps only documents whose indexed fields all hold a
  string, number or boolean. It is spelled with ``$or`` (MongoDB 7.0+ accepts ``$or`` in a
  partial filter) because mongomock cannot evaluate the older ``$type: [...]`` list form.

What no query can close is documented in docs/mongo.md: a uniquely indexed field holding an
array is indexed element by element by MongoDB (and mongomock), which is why the port leaves
arrays in uniquely indexed fields backend-defined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from overlord.adapters import document_rules as rules
from overlord.adapters.document_rules import Scalar
from overlord.domain.errors import InvalidInput, InvalidName
from overlord.domain.indexes import IndexSpec

# The collection that makes a database exist and marks it as Overlord's. Its leading '_' cannot
# start a collection name the port accepts, so it never meets a user's collection.
MARKER = "_overlord"
_SYSTEM_DATABASES = frozenset({"admin", "config", "local"})
_CONSTRAINED_TYPES = ("string", "number", "bool")


def check_database(name: object) -> str:
    """The port's database rule, plus MongoDB's own databases, which Overlord must not touch."""
    database = rules.check_database(name)
    if database in _SYSTEM_DATABASES:
        raise InvalidName(f"database name {database!r} is reserved by MongoDB")
    return database


def check_collection(name: object) -> str:
    collection = rules.check_collection(name)
    if collection.startswith("system."):
        raise InvalidName(f"collection name {collection!r} is reserved by MongoDB")
    return collection


def clause(name: str, value: Scalar) -> dict[str, Any]:
    """One field equal to ``value`` as the port defines it: same kind, never inside an array."""
    condition: dict[str, Any] = {"$eq": value, "$not": {"$type": "array"}}
    if isinstance(value, bool):
        condition["$type"] = "bool"
    elif isinstance(value, int | float):
        condition["$type"] = "number"
    return {name: condition}


def query(where: Mapping[str, Scalar], **fixed: Any) -> dict[str, Any]:
    """A filter for validated ``where`` conditions, and'ed with exact ``fixed`` fields."""
    clauses = [clause(name, value) for name, value in where.items()]
    return {**fixed, "$and": clauses} if clauses else dict(fixed)


def index_keys(spec: IndexSpec) -> list[tuple[str, int]]:
    return [(name, 1) for name in spec.fields]


def partial_filter(spec: IndexSpec) -> dict[str, Any]:
    """Only documents whose indexed fields all hold a string, number or boolean."""
    per_field = [
        {"$or": [{name: {"$type": kind}} for kind in _CONSTRAINED_TYPES]} for name in spec.fields
    ]
    return per_field[0] if len(per_field) == 1 else {"$and": per_field}


def index_spec(information: Mapping[str, Any]) -> IndexSpec:
    """An `IndexSpec` from one entry of pymongo's ``index_information()``."""
    fields = tuple(str(key) for key, _direction in information["key"])
    return IndexSpec(fields, unique=bool(information.get("unique", False)))


def settable(changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` without ``_id``, as a ``$set`` document.

    ``$set`` reads a name holding '.' as a path into a subdocument and refuses an empty name, so
    such a top-level field could only be set by rewriting the whole document, which would not be
    a compare-and-set. It is refused instead, before anything is written.
    """
    for name in changes:
        if not name or "." in name:
            raise InvalidInput(
                f"the MongoDB store cannot update field {name!r}: $set reads '.' as a path and "
                "refuses empty names (insert the document whole instead)"
            )
    return {name: value for name, value in changes.items() if name != "_id"}


def plain(value: Any) -> Any:
    """A fresh copy of a stored value as JSON types (BSON int64 comes back as ``Int64``)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return value
