"""Loads into SQLite or PostgreSQL tables, repeatable and safe under concurrency.

Each load is one transaction: take the table's write lock (`engines`), look its load_id up in
the ``_overlord_loads`` ledger, create or alter the table, upsert the rows with the dialect's
``INSERT ... ON CONFLICT (key) DO UPDATE`` and record the load. A repeated load finds its
ledger row and changes nothing; a concurrent one waits for the lock and then finds it; a load
that fails anywhere leaves neither rows nor a ledger row behind.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import TYPE_CHECKING

from overlord.adapters.sql.engines import (
    lock_table,
    make_engine,
    transaction,
    translate_driver_errors,
)
from overlord.adapters.sql.schema import (
    add_columns,
    create_table,
    ledger_table,
    reflect,
    schema_of,
    table_names,
)
from overlord.adapters.sql.sqlite_rows import insert_rows
from overlord.adapters.system import SystemClock
from overlord.adapters.table_rules import (
    LEDGER,
    FittedLoad,
    check_replace,
    check_table,
    fit_load,
    prepare_load,
    repeated_load,
    resolve,
    sorted_rows,
)
from overlord.domain.errors import InvalidName, NotFound
from overlord.ports.clock import Clock
from overlord.ports.table_sink import Frame, LoadResult, Row, Value

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine


class SqlTableSink:
    """TableSink on the database at ``url`` (``sqlite:///path`` or ``postgresql+psycopg://``).

    Nothing connects until the first call; `close` releases the connections.

    >>> import pandas as pd, tempfile
    >>> sink = SqlTableSink(f"sqlite:///{tempfile.mkdtemp()}/tables.sqlite3")
    >>> frame = pd.DataFrame({"id": [1, 2], "amount": [9.5, None]})
    >>> sink.load("sales", frame, key=["id"], load_id="sales__2024:ab12").applied
    True
    >>> sink.load("sales", frame, key=["id"], load_id="sales__2024:ab12").applied
    False
    >>> sink.read("sales")
    [{'id': 1, 'amount': 9.5}, {'id': 2, 'amount': None}]
    >>> sink.close()
    """

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        self._url = url
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._ready: tuple[Engine, Table] | None = None

    def _database(self) -> tuple[Engine, Table]:
        """The engine, with the ledger created on first use (under its own lock, so that two
        processes starting at once do not both create it)."""
        with self._lock:
            if self._ready is None:
                import sqlalchemy as sa

                engine = make_engine(self._url)
                ledger = ledger_table(sa.MetaData())
                try:
                    with transaction(engine, write=True) as connection:
                        lock_table(connection, LEDGER)
                        ledger.create(connection, checkfirst=True)
                except BaseException:
                    engine.dispose()
                    raise
                self._ready = (engine, ledger)
            return self._ready

    def close(self) -> None:
        with self._lock:
            if self._ready is not None:
                self._ready[0].dispose()
                self._ready = None

    def load(
        self,
        table: str,
        frame: Frame,
        *,
        key: Sequence[str],
        load_id: str,
        replace: Mapping[str, Value] | None = None,
    ) -> LoadResult:
        import sqlalchemy as sa

        prepared = prepare_load(table, frame, key, load_id)
        replaced = check_replace(prepared, replace)
        engine, ledger = self._database()
        with transaction(engine, write=True) as connection:
            lock_table(connection, prepared.table)
            done = connection.execute(
                sa.select(ledger.c.table, ledger.c.rows, ledger.c.loaded_at).where(
                    ledger.c.load_id == prepared.load_id
                )
            ).first()
            if done is not None:
                return repeated_load(prepared, done[0], done[1], done[2].replace(tzinfo=UTC))
            found = resolve(table_names(connection), prepared.table, "table")
            target = None if found is None else reflect(connection, found)
            fitted = fit_load(prepared, None if target is None else schema_of(target))
            if target is None:
                target = create_table(connection, prepared.table, fitted.added, prepared.key)
            elif fitted.added:
                add_columns(connection, target, fitted.added)
            if replaced and found is not None:
                connection.execute(
                    sa.delete(target).where(*(target.c[name] == value for name, value in replaced))
                )
            # Nothing to conflict with in a table this load made, nor once the partition is
            # deleted if the key holds its columns: any row with a frame row's key was in it.
            clear = found is None or (
                bool(replaced) and {n for n, _ in replaced} <= set(prepared.key)
            )
            _upsert(connection, target, fitted, prepared.key, clear=clear)
            loaded_at = self._clock.now().astimezone(UTC)
            connection.execute(
                sa.insert(ledger).values(
                    load_id=prepared.load_id,
                    table=prepared.table,
                    rows=prepared.rows,
                    loaded_at=loaded_at.replace(tzinfo=None),
                )
            )
        return LoadResult(
            prepared.table, prepared.load_id, prepared.rows, applied=True, loaded_at=loaded_at
        )

    def read(self, table: str) -> list[Row]:
        import sqlalchemy as sa

        name = check_table(table)
        engine, _ = self._database()
        with transaction(engine, write=False) as connection:
            if resolve(table_names(connection), name, "table") is None:
                raise NotFound(f"table {name!r} does not exist")
            target = reflect(connection, name)
            found = connection.execute(sa.select(target)).mappings()
            rows: list[Row] = [{str(k): v for k, v in row.items()} for row in found]
        return sorted_rows(rows, [str(column.name) for column in target.primary_key.columns])

    def tables(self) -> list[str]:
        engine, _ = self._database()
        with transaction(engine, write=False) as connection:
            return sorted(name for name in table_names(connection) if _is_sink_table(name))

    def drop(self, table: str) -> None:
        import sqlalchemy as sa

        name = check_table(table)
        engine, ledger = self._database()
        with transaction(engine, write=True) as connection:
            lock_table(connection, name)
            if resolve(table_names(connection), name, "table") is not None:
                quote = connection.dialect.identifier_preparer.quote_identifier
                connection.exec_driver_sql(f"DROP TABLE {quote(name)}")
            connection.execute(sa.delete(ledger).where(ledger.c.table == name))


def _is_sink_table(name: str) -> bool:
    try:
        check_table(name)
    except InvalidName:
        return False
    return True


def _upsert(
    connection: Connection, table: Table, fitted: FittedLoad, key: Sequence[str], *, clear: bool
) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE of the frame's other columns (a plain INSERT when
    ``clear``): on PostgreSQL through COPY, on SQLite in one executemany (`sqlite_rows`)."""
    if not fitted.columns or not fitted.columns[0]:
        return
    if connection.dialect.name == "postgresql":
        if clear:  # no row holds a frame row's key, and the frame's keys are distinct
            _copy(connection, str(table.name), table, fitted)
        else:
            _copy_upsert(connection, table, fitted, key)
        return
    insert_rows(connection, table, fitted, key, clear=clear)


_STAGING = "_overlord_staging"


# The SQL types the sink creates, as COPY's binary format names them. A column of any other
# type (a table made elsewhere: INTEGER, TIMESTAMPTZ) takes text, which the server converts.
_BINARY_TYPES = {
    "BIGINT": "int8",
    "DOUBLE PRECISION": "float8",
    "BOOLEAN": "bool",
    "TEXT": "text",
    "TIMESTAMP WITHOUT TIME ZONE": "timestamp",
    "DATE": "date",
}


def _copy(connection: Connection, into: str, table: Table, fitted: FittedLoad) -> None:
    """COPY the rows into ``into`` (``table`` or a copy of it): in binary when every column is
    of a type the sink creates (no text for the server to parse), else as text."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    columns = ", ".join(quote(name) for name in fitted.names)
    sql_types = [str(table.c[name].type.compile(connection.dialect)) for name in fitted.names]
    binary = [_BINARY_TYPES.get(sql_type) for sql_type in sql_types]
    driver = connection.connection.driver_connection
    statement = f"COPY {quote(into)} ({columns}) FROM STDIN"
    if None not in binary:
        statement += " (FORMAT BINARY)"
    with (
        translate_driver_errors(),
        driver.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(statement) as copy,
    ):
        if None not in binary:
            copy.set_types([name for name in binary if name is not None])
        for row in fitted.tuples():
            copy.write_row(row)


def _copy_upsert(
    connection: Connection, table: Table, fitted: FittedLoad, key: Sequence[str]
) -> None:
    """COPY the rows into a temporary table shaped like ``table``, then one INSERT ... SELECT
    ... ON CONFLICT (key) DO UPDATE from it, in the load's transaction: COPY streams the rows
    where an INSERT sends them as batches of parameters. The temporary table is dropped at the
    end, and by the rollback of a load that fails."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    names = fitted.names
    columns = ", ".join(quote(name) for name in names)
    target, staging = quote(str(table.name)), quote(_STAGING)
    changed = ", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in names if n not in key)
    action = f"DO UPDATE SET {changed}" if changed else "DO NOTHING"
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {staging} (LIKE {target} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    _copy(connection, _STAGING, table, fitted)
    conflict = ", ".join(quote(name) for name in key)
    connection.exec_driver_sql(
        f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {staging} "
        f"ON CONFLICT ({conflict}) {action}"
    )
    connection.exec_driver_sql(f"DROP TABLE {staging}")
