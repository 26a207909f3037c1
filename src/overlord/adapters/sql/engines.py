"""Engines and write transactions that behave alike on SQLite and PostgreSQL.

A load checks the ledger, creates or alters its table and writes its rows as one step, even when
another process loads at the same moment. On SQLite every write begins with ``BEGIN IMMEDIATE``,
which takes the database's write lock before the first read (pysqlite's own transaction handling
is switched off, as SQLAlchemy's documentation advises, because it would defer BEGIN past those
reads). On PostgreSQL a write first takes a transaction-scoped advisory lock on its table, which
serialises loads into one table (including the CREATE and ALTER that would otherwise race) and
leaves other tables free. Driver errors become Overlord's here, once.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overlord.domain.errors import BackendError, Conflict, InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

_BUSY_SECONDS = 30.0  # how long a SQLite write waits for another's lock before failing
_WRITE_OPTION = "overlord_write"
_LOCK_SPACE = 0x4F564C44  # "OVLD": the first half of every advisory lock key the sink takes


def make_engine(url: str) -> Engine:
    """An engine for a ``sqlite:///file`` or ``postgresql+psycopg://`` URL; a bare
    ``postgresql://`` means psycopg 3, the driver Overlord installs."""
    import sqlalchemy
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(
            "the table sink URL cannot be parsed"
        ) from None  # it may hold a password
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sqlalchemy.create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if backend != "sqlite" or parsed.get_driver_name() != "pysqlite":
        raise InvalidInput(f"a table sink URL is sqlite:/// or postgresql://, not {backend}://")
    if database in ("", ":memory:") or database.startswith("file:"):
        # An in-memory database is one per connection: concurrent loads would not share it.
        raise InvalidInput("a SQLite table sink needs a file: sqlite:///path/to/tables.sqlite3")
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(parsed, connect_args={"timeout": _BUSY_SECONDS})
    sqlalchemy.event.listen(engine, "connect", _sqlite_connect)
    sqlalchemy.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # BEGIN comes from _sqlite_begin, not pysqlite
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; with it, NORMAL never corrupts, at worst it
    # loses the last commits to a power cut.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextlib.contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[Connection]:
    """One transaction, committed when the block ends, rolled back if it raises."""
    with translate_errors(), engine.connect() as connection:
        connection.execution_options(**{_WRITE_OPTION: write})
        with connection.begin():
            yield connection


def lock_table(connection: Connection, table: str) -> None:
    """Hold ``table``'s write lock until the transaction ends (SQLite's BEGIN IMMEDIATE holds
    the whole database's already). Names differing in case share a lock, as they share a table."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy import text

        key = zlib.crc32(table.lower().encode()) - 2**31  # into int4, the lock's second half
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _LOCK_SPACE, "key": key}
        )


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    from sqlalchemy import exc

    try:
        yield
    except exc.IntegrityError as error:
        raise Conflict(f"the database refused the load: {reason(error)}") from None
    except exc.DataError as error:
        raise InvalidInput(f"the database refused a value: {reason(error)}") from None
    except exc.SQLAlchemyError as error:
        raise BackendError(f"table sink database: {reason(error)}") from error


@contextlib.contextmanager
def translate_driver_errors() -> Iterator[None]:
    """`translate_errors` for psycopg's own errors, raised by what SQLAlchemy does not wrap
    (COPY through the driver's cursor)."""
    import psycopg

    try:
        yield
    except psycopg.errors.IntegrityError as error:
        raise Conflict(f"the database refused the load: {reason(error)}") from None
    except psycopg.errors.DataError as error:
        raise InvalidInput(f"the database refused a value: {reason(error)}") from None
    except psycopg.Error as error:
        raise BackendError(f"table sink database: {reason(error)}") from error


def reason(error: Exception) -> str:
    """The driver's first line, without the statement and its (possibly huge) parameters."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
