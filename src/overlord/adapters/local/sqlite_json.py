"""The document rules' equality and unique indexes, spelled in SQLite's JSON functions.

`overlord.adapters.document_rules` defines equality in Python; SQLite has to say the same thing in
SQL so filters and unique indexes run inside the database (and can use its indexes). The trap it
avoids: ``json_extract`` turns JSON true into 1 and null into SQL NULL, so the JSON type is
compared too, and a unique index pairs each value with a kind that is NULL (never clashing) for
null, missing, objects and arrays.
"""

from __future__ import annotations

from collections.abc import Mapping

from overlord.adapters.document_rules import Scalar
from overlord.domain.indexes import IndexSpec

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
