"""The document rules' equality and unique indexes, spelled in SQLite's JSON functions.

`overlord.adapters.document_rules` defines equality in Python; SQLite has to say the same thing in
SQL so filters and unique indexes run inside the database (and can use its indexes). The trap it
avoids: ``json_extract`` turns JSON true into 1 and null into SQL NULL, so the JSON type is
compared too, and a unique index pairs each value with a kind that is NULL (never clashing) for
null, missing, objects and arrays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from overlord.adapters.document_rules import Scalar
from overlord.domain.indexes import IndexSpec
from overlord.ports.document_store import Document

BOUND, CONTAINER, JSON_TEXT = 0, 1, 2  # how `set_statement` passes a field's value

_KIND = "CASE json_type(doc, {path}) WHEN 'integer' THEN 'n' WHEN 'real' THEN 'n' "
_KIND += "WHEN 'true' THEN 'b' WHEN 'false' THEN 'b' WHEN 'text' THEN 's' END"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _path(field: str) -> str:
    """A JSON path literal; `check_field` allows only letters, digits, '_' and '-' in ``field``."""
    return f"'$.\"{field}\"'"


def _value(field: str) -> str:
    return f"json_extract(doc, {_path(field)})"


def where_sql(wanted: Mapping[str, Scalar]) -> tuple[str, list[Scalar]]:
    """SQL for `document_rules.matches`: None is null or missing, booleans are not numbers."""
    clauses: list[str] = []
    params: list[Scalar] = []
    for field, value in wanted.items():
        kind = f"json_type(doc, {_path(field)})"
        if value is None:
            clauses.append(f"{_value(field)} IS NULL")
        elif isinstance(value, bool):
            clauses.append(f"{kind} = '{'true' if value else 'false'}'")
        elif isinstance(value, str):
            clauses.append(f"{_value(field)} = ? AND {kind} = 'text'")
            params.append(value)
        else:
            clauses.append(f"{_value(field)} = ? AND {kind} IN ('integer', 'real')")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def index_columns(spec: IndexSpec) -> str:
    """Index expressions; a unique index pairs each value with its kind, which is NULL (so the
    document is not constrained) for null, missing, objects and arrays."""
    columns = []
    for field in spec.fields:
        columns.append(_value(field))
        if spec.unique:
            columns.append(_KIND.format(path=_path(field)))
    if not spec.unique:
        # Then by _id, the order `find` returns: an equality on the fields reads the index in
        # that order, where SQLite would otherwise sort the documents it found.
        columns.append("_id")
    return ", ".join(columns)


def set_statement(table: str, keys: tuple[str, ...], kinds: tuple[int, ...], clause: str) -> str:
    """The one-statement compare-and-set of `SqliteDocumentStore.update`: ``json_set`` of each
    field (named by ``keys``, passed as ``kinds`` says) where ``_id`` and ``clause`` match. Its
    parameters are numbered: the bound values in order, then the JSON array of the objects and
    arrays (if any), then the id; the condition's ``?`` follow."""
    bound = kinds.count(BOUND) + kinds.count(JSON_TEXT)
    array = bound + 1
    paths = []
    slot = taken = 0
    for key, kind in zip(keys, kinds, strict=True):
        if kind == CONTAINER:
            paths.append(f"'$.\"{key}\"', json_extract(?{array}, '$[{taken}]')")
            taken += 1
            continue
        slot += 1
        paths.append(f"'$.\"{key}\"', " + (f"json(?{slot})" if kind == JSON_TEXT else f"?{slot}"))
    identifier = array + 1 if taken else array
    condition = clause.replace(" WHERE ", " AND ", 1)
    return (
        f"UPDATE {table} SET doc = json_set(doc, {', '.join(paths)}) "
        f"WHERE _id = ?{identifier}{condition}"
    )


def picked_columns(names: Sequence[str]) -> str:
    """What a `find` of some fields selects: their values as one JSON array after the
    document's ``_id`` (json_extract of several paths copies each value's JSON as it was
    written, so a float keeps its digits), then the JSON type of each, which is NULL for a
    field the document lacks (where the array holds null, as it does for a null field).
    SQLite parses the document once for all of them, and Python decodes the small array
    instead of the whole document."""
    paths = [f"'$.\"{name}\"'" for name in names]
    kinds = "".join(f", json_type(doc, {path})" for path in paths)
    return f"json_extract(doc, '$.\"_id\"', {', '.join(paths)}){kinds}"


def unpicked(names: Sequence[str], row: Sequence[Any]) -> Document:
    values = json.loads(row[0])
    document = {"_id": values[0]}
    document.update(
        (name, value)
        for name, value, kind in zip(names, values[1:], row[1:], strict=True)
        if kind is not None
    )
    return document
