"""A load's rows into a SQLite table: one ``executemany`` on the driver's own cursor.

Why not SQLAlchemy's ``connection.execute(insert, rows)``: for a million rows it spent about
two thirds of the load in Python, building a dict per row, then walking every dict to bind
parameters and calling a bind processor per date and timestamp (a ``%`` format of a dict each).
Here the rows are tuples zipped from the load's columns, and each column is bound once, as a
list: a timestamp column through ``datetime.isoformat`` (in C) rather than that format. The
stored text is SQLAlchemy's, byte for byte, so a table reads back the same through SQLAlchemy
whichever way it was written; a column whose type has any other bind processor (or a storage
format of its own, in a table made elsewhere) goes through SQLAlchemy's processor, value by
value. The statement runs on the connection SQLAlchemy holds, inside the load's transaction
(``BEGIN IMMEDIATE``), so a failed load still rolls every row back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from overlord.adapters.sql.engines import reason
from overlord.domain.errors import BackendError, Conflict, InvalidInput

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Dialect
    from sqlalchemy.types import TypeEngine

    from overlord.adapters.table_rules import FittedLoad
    from overlord.ports.table_sink import Value

# Values whose every field has its widest and narrowest form: a processor that formats them as
# isoformat does formats every naive value so (a custom storage format differs on one of them).
_TIMESTAMP_PROBES = (datetime(1, 2, 3, 4, 5, 6, 7), datetime(2026, 12, 31, 23, 59, 59, 999999))
_DATE_PROBES = (date(1, 2, 3), date(2026, 12, 31))


def insert_rows(
    connection: Connection, table: Table, fitted: FittedLoad, key: Sequence[str], *, clear: bool
) -> None:
    """INSERT the rows, ``ON CONFLICT (key) DO UPDATE`` of the other columns unless ``clear``
    (no stored row can hold one of the rows' keys)."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    names = fitted.names
    statement = (
        f"INSERT INTO {quote(str(table.name))} ({', '.join(quote(name) for name in names)}) "
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    if not clear:
        changed = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in names if n not in key)
        conflict = ", ".join(quote(name) for name in key)
        action = f"UPDATE SET {changed}" if changed else "NOTHING"
        statement += f" ON CONFLICT ({conflict}) DO {action}"
    dialect = connection.dialect
    columns = [
        bound(table.c[name].type, dialect, values)
        for name, values in zip(names, fitted.columns, strict=True)
    ]
    driver: Any = connection.connection.driver_connection
    cursor = driver.cursor()
    try:
        with translate_sqlite_errors():
            cursor.executemany(statement, zip(*columns, strict=True))
    finally:
        cursor.close()


def bound(column_type: TypeEngine[Any], dialect: Dialect, values: list[Value]) -> list[Any]:
    """``values`` as SQLAlchemy would bind them to a column of ``column_type``."""
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return values
    if _formats_as(process, _TIMESTAMP_PROBES, lambda v: v.isoformat(" ", "microseconds")):
        return _timestamps(values, process)
    if _formats_as(process, _DATE_PROBES, date.isoformat):
        return _dates(values, process)
    return [process(value) for value in values]


def _formats_as(
    process: Callable[[Any], Any], probes: Sequence[date], iso: Callable[[Any], str]
) -> bool:
    try:
        return all(process(probe) == iso(probe) for probe in probes)
    except (TypeError, ValueError):  # a processor of another type (a boolean's) refuses them
        return False


# Each plain loop below repeats its ``text`` inline: a function call per value would cost
# about as much as the formatting.


def _timestamps(values: list[Value], process: Callable[[Any], Any]) -> list[Any]:
    iso = datetime.isoformat

    def text(v: Any) -> Any:
        naive = type(v) is datetime and v.tzinfo is None
        return iso(v, " ", "microseconds") if naive else process(v)

    found = _texts(values, text)
    if found is not None:
        return found
    return [
        iso(v, " ", "microseconds") if type(v) is datetime and v.tzinfo is None else process(v)
        for v in values
    ]


def _dates(values: list[Value], process: Callable[[Any], Any]) -> list[Any]:
    iso = date.isoformat

    def text(v: Any) -> Any:
        return iso(v) if type(v) is date else process(v)

    found = _texts(values, text)
    if found is not None:
        return found
    return [iso(v) if type(v) is date else process(v) for v in values]


def _texts(values: list[Value], text: Callable[[Any], Any]) -> list[Any] | None:
    """``text`` of each value, made once per distinct value when most values repeat (a period's
    date is in every row of its partition); None when they do not, for the caller's plain loop.
    Values of the kinds a load holds are equal only when they are the same value of one type
    (a date never equals a datetime), so equal values have equal texts."""
    distinct = set(values)
    if not values or len(distinct) * 2 > len(values):
        return None
    texts = {value: text(value) for value in distinct}
    return list(map(texts.__getitem__, values))


@contextlib.contextmanager
def translate_sqlite_errors() -> Iterator[None]:
    """`engines.translate_errors` for the sqlite3 driver's own errors."""
    import sqlite3

    try:
        yield
    except sqlite3.IntegrityError as error:
        raise Conflict(f"the database refused the load: {reason(error)}") from None
    except sqlite3.DataError as error:
        raise InvalidInput(f"the database refused a value: {reason(error)}") from None
    except sqlite3.Error as error:
        raise BackendError(f"table sink database: {reason(error)}") from error
