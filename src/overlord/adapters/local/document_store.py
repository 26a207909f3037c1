"""Documents in SQLite files: the embedded default, safe across threads and processes.

One file per database makes `drop_database` a file deletion and lets processes share a database.
WAL mode lets readers run beside the one writer; every write takes the write lock before it
reads, so a compare-and-set cannot interleave with another even in another process: a write of
several statements runs in ``BEGIN IMMEDIATE``, and a write that is one statement (an insert, a
compare-and-set said in SQL, a delete) is its own transaction, which SQLite starts as a write.
Each thread keeps one open connection per database file for reading (opening one costs more
than most statements), and the threads of a process write through one more, which they take
turns on (`_Writer`): a connection's page cache is emptied whenever another connection has
written, so with a writing connection per thread every write read its pages again (about 20
reads of the file per chunk of the batch benchmark on four threads, 5 with one). Every connection
is checked against the file's identity before every use, so none is shared between processes
or outlives a dropped or replaced file.
Validation and Python-side comparison come from
`overlord.adapters.document_rules`; `overlord.adapters.local.sqlite_json` says the same in SQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
import urllib.parse
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from overlord.adapters.document_rules import (
    Scalar,
    added_indexes,
    check_changes,
    check_collection,
    check_database,
    check_documents,
    check_fields,
    check_id,
    check_limit,
    conditions,
    dump,
    matches,
    new_document,
)
from overlord.adapters.local.sqlite_json import (
    BOUND,
    CONTAINER,
    JSON_TEXT,
    index_columns,
    picked_columns,
    quote,
    set_statement,
    unpicked,
    where_sql,
)
from overlord.domain.errors import BackendError, Conflict, DuplicateKey, InvalidName, NotFound
from overlord.domain.indexes import IndexSpec
from overlord.ports.document_store import Document

_SUFFIX = ".sqlite3"
# Collection tables carry a prefix, so they never meet the index table or SQLite's own names.
_PREFIX = "c_"
_INDEXES = "overlord_indexes"
_WRITER_CACHE_KIB = 8192  # at most, per process and database file; taken as pages are used
_BUSY_SECONDS = 30.0  # sqlite3's ``timeout`` is SQLite's busy_timeout
# Field names a JSON path can quote as they are ('$."name"'); `update` sets others in Python.
_PATH_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TABLES: dict[str, str] = {}  # collection name -> quoted table name, for checked names
# `update`'s statements by shape: a compare-and-set repeats a few shapes (table, fields, how
# each is bound, condition) endlessly, and building the text costs more than looking it up.
_SETS: dict[tuple[str, tuple[str, ...], tuple[int, ...], str], str] = {}
_MAX_SETS = 1024

Identity = tuple[int, int]  # a file's (st_dev, st_ino)


class _Writer:
    """This process's writing connection to one database file, and the lock its threads take
    turns on before they write (see `SqliteDocumentStore._transaction`)."""

    __slots__ = ("__weakref__", "connection", "identity", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connection: sqlite3.Connection | None = None
        self.identity: Identity | None = None  # the file's when the connection was opened

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = self.identity = None


# By pid too, so a forked child never uses its parent's connection or a lock that some thread
# of its parent held. Held weakly: the stores that write to a file hold its writer, so the
# writer and its connection go when the last of them does, even one nobody closed.
_WRITERS: weakref.WeakValueDictionary[tuple[int, Path], _Writer] = weakref.WeakValueDictionary()


class SqliteDocumentStore:
    """DocumentStore on SQLite files under ``root``, one per database.

    >>> import tempfile, pathlib
    >>> store = SqliteDocumentStore(pathlib.Path(tempfile.mkdtemp()))
    >>> store.ensure_collection("overlord-acme", "runs")
    >>> store.insert("overlord-acme", "runs", {"_id": "r1", "status": "RUNNING"})
    >>> store.update("overlord-acme", "runs", "r1", {"status": "DONE"}, expected={"status": "X"})
    False
    """

    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._local = threading.local()
        self._files: dict[str, Path] = {}  # checked names: a name valid once stays valid
        self._writers: dict[tuple[int, Path], _Writer] = {}  # keeps this store's alive

    def close(self) -> None:
        """Close the calling thread's connections and this process's writers of the store's
        files. Without it a process that opens stores under many homes (a test run, a service
        hosting many) holds descriptors for every file it ever wrote to. A writer closed here
        opens again on its next write, so another store on the same files keeps working."""
        for _, connection in self._open().values():
            connection.close()
        self._open().clear()
        pid = os.getpid()
        for (owner, _), writer in list(self._writers.items()):
            if owner == pid:
                with writer.lock:
                    writer.close()

    def _file(self, database: str) -> Path:
        path = self._files.get(database) if type(database) is str else None
        if path is None:
            path = self._root / f"{check_database(database)}{_SUFFIX}"
            self._files[database] = path
        return path

    def _open(self) -> dict[Path, tuple[tuple[int, int], sqlite3.Connection]]:
        """This thread's open connections by file, with the file identity each was opened on;
        a process forked from this one starts with none."""
        if getattr(self._local, "pid", None) != os.getpid():
            self._local.pid, self._local.connections = os.getpid(), {}
        connections: dict[Path, tuple[tuple[int, int], sqlite3.Connection]]
        connections = self._local.connections
        return connections

    def _forget(self, path: Path) -> None:
        found = self._open().pop(path, None)
        if found is not None:
            found[1].close()

    def _connected(self, database: str, *, create: bool) -> tuple[Path, sqlite3.Connection]:
        """The database's file and this thread's connection to it, opened again if the file
        was replaced since."""
        path = self._file(database)
        if create:
            self._root.mkdir(parents=True, exist_ok=True)
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._forget(path)
            if not create:
                raise NotFound(f"database {database!r} does not exist") from None
            stat = None
        cached = self._open().get(path)
        if cached is not None and stat is not None and cached[0] == (stat.st_dev, stat.st_ino):
            return path, cached[1]
        self._forget(path)
        identity, connection = self._connect(database, path, create=create)
        self._open()[path] = (identity, connection)
        return path, connection

    @contextlib.contextmanager
    def _connection(self, database: str, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        _, connection = self._connected(database, create=create)
        try:
            yield connection
        except sqlite3.Error as exc:
            raise _failure(database, exc) from exc

    def _connect(
        self, database: str, path: Path, *, create: bool, shared: bool = False
    ) -> tuple[tuple[int, int], sqlite3.Connection]:
        """A new connection, and the identity of the file it opened; ``shared`` between this
        process's threads (the writer's, which they use one at a time)."""
        uri = f"file:{urllib.parse.quote(str(path))}?mode={'rwc' if create else 'rw'}"
        try:
            connection = sqlite3.connect(
                uri,
                uri=True,
                timeout=_BUSY_SECONDS,
                isolation_level=None,
                check_same_thread=not shared,
            )
            if create:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {_INDEXES} (collection TEXT NOT NULL, "
                    "name TEXT NOT NULL, fields TEXT NOT NULL, is_unique INTEGER NOT NULL, "
                    "PRIMARY KEY (collection, name))"
                )
            # With WAL, NORMAL may lose the last commits to a power cut, never corrupt the file.
            connection.execute("PRAGMA synchronous=NORMAL")
            if shared:
                # The writer's cache holds the pages a process's writes go back to (a batch's
                # request records are each written three times); SQLite's default 2 MB holds
                # about 500 of them, and every one it lost is read from the file again.
                connection.execute(f"PRAGMA cache_size=-{_WRITER_CACHE_KIB}")
            stat = path.stat()
        except (sqlite3.Error, OSError) as exc:
            raise BackendError(f"cannot open database {database!r}: {exc}") from exc
        return (stat.st_dev, stat.st_ino), connection

    def _writer(self, database: str, *, create: bool) -> tuple[_Writer, Path, Identity | None]:
        """This process's writer of the database, and the file's identity now (None: there is
        no file, and ``create`` says to make one). Looked at before the writer's lock is
        taken, so the other writers do not wait on this call as well; `_writing` then opens
        the connection again if the file was replaced since it was opened."""
        path = self._file(database)
        key = (os.getpid(), path)
        writer = self._writers.get(key)
        if writer is None:
            writer = self._writers[key] = _WRITERS.setdefault(key, _Writer())
        if create:
            self._root.mkdir(parents=True, exist_ok=True)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            if not create:
                raise NotFound(f"database {database!r} does not exist") from None
            return writer, path, None
        return writer, path, (stat.st_dev, stat.st_ino)

    def _writing(
        self, database: str, writer: _Writer, path: Path, identity: Identity | None, create: bool
    ) -> sqlite3.Connection:
        """The writer's connection, for the thread that holds its lock."""
        if writer.connection is None or identity is None or writer.identity != identity:
            writer.close()
            writer.identity, writer.connection = self._connect(
                database, path, create=create, shared=True
            )
        return writer.connection

    @contextlib.contextmanager
    def _transaction(self, database: str, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the database's write lock from its first statement.

        Threads of this process take turns on a lock of their own first: waiting on SQLite's
        lock means its busy handler, which sleeps a millisecond and more between tries, and
        with a few threads writing, those sleeps cost more than the writes. Other processes
        still meet at SQLite's lock."""
        writer, path, identity = self._writer(database, create=create)
        with writer.lock:
            connection = self._writing(database, writer, path, identity, create)
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                    connection.execute("COMMIT")
                except BaseException:
                    # The connection stays open for the next call: it must not keep the lock.
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise _failure(database, exc) from exc

    def _write(self, database: str, sql: str, params: Sequence[object]) -> sqlite3.Cursor:
        """One statement that writes, as a transaction of its own (in autocommit mode SQLite
        takes the write lock when such a statement starts, as ``BEGIN IMMEDIATE`` would), after
        this process's other writers (see `_transaction`). `sqlite3.IntegrityError` is the
        caller's to read."""
        writer, path, identity = self._writer(database, create=False)
        with writer.lock:
            connection = self._writing(database, writer, path, identity, False)
            try:
                return connection.execute(sql, params)
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                raise _failure(database, exc) from exc

    @staticmethod
    def _name(collection: str) -> str:
        """The quoted table of a collection, for statements that fail with "no such table"
        (`NotFound`, see `_connection`) when it was never ensured."""
        table = _TABLES.get(collection) if type(collection) is str else None
        if table is None:
            table = _TABLES[collection] = quote(_PREFIX + check_collection(collection))
        return table

    @staticmethod
    def _table(connection: sqlite3.Connection, database: str, collection: str) -> str:
        """The quoted table of a collection; `NotFound` if it was never ensured."""
        table = _PREFIX + check_collection(collection)
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        if found is None:
            raise NotFound(f"collection {database}/{collection} does not exist")
        return quote(table)

    @staticmethod
    def _indexes(connection: sqlite3.Connection, collection: str) -> dict[str, IndexSpec]:
        rows = connection.execute(
            f"SELECT name, fields, is_unique FROM {_INDEXES} WHERE collection = ?", (collection,)
        ).fetchall()
        return {name: IndexSpec(tuple(json.loads(fields)), bool(u)) for name, fields, u in rows}

    # databases and collections

    def list_databases(self) -> list[str]:
        if not self._root.is_dir():
            return []
        names = []
        for path in self._root.glob(f"*{_SUFFIX}"):
            with contextlib.suppress(InvalidName):
                if path.is_file():
                    names.append(check_database(path.name[: -len(_SUFFIX)]))
        return sorted(names)

    def database_exists(self, database: str) -> bool:
        return self._file(database).is_file()

    def ensure_database(self, database: str) -> None:
        with self._connection(database, create=True):
            pass

    def drop_database(self, database: str) -> None:
        path = self._file(database)
        with contextlib.suppress(NotFound), self._transaction(database) as connection:
            # Emptied first, so a connection still open elsewhere sees no collections.
            tables = connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
            ).fetchall()
            for (table,) in tables:
                connection.execute(f"DROP TABLE {quote(table)}")
        self._forget(path)
        writer = _WRITERS.get((os.getpid(), path))
        if writer is not None:
            with writer.lock:
                writer.close()
        for suffix in ("", "-wal", "-shm"):  # a stale WAL must never meet a new database
            with contextlib.suppress(FileNotFoundError):
                Path(f"{path}{suffix}").unlink()

    def list_collections(self, database: str) -> list[str]:
        if not self.database_exists(database):
            return []
        with self._connection(database) as connection:
            rows = connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '!'",
                (_PREFIX.replace("_", "!_") + "%",),
            ).fetchall()
        return sorted(table[len(_PREFIX) :] for (table,) in rows)

    def describe_collection(self, database: str, name: str) -> tuple[IndexSpec, ...] | None:
        check_collection(name)
        try:
            with self._connection(database) as connection:
                self._table(connection, database, name)
                indexes = self._indexes(connection, name)
        except NotFound:
            return None
        return tuple(indexes[index] for index in sorted(indexes))

    def ensure_collection(
        self, database: str, name: str, indexes: Sequence[IndexSpec] = ()
    ) -> None:
        table = _PREFIX + check_collection(name)
        with self._transaction(database, create=True) as connection:
            # A rowid table, not WITHOUT ROWID: that one keeps a row in its key's b-tree, where
            # only about 1 KB of it fits a page, so every write of a larger document wrote
            # overflow pages too (a third of the cost of writing a batch's request records).
            # Tables made WITHOUT ROWID by earlier versions work the same and are kept.
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {quote(table)} "
                "(_id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL)"
            )
            for spec in added_indexes(self._indexes(connection, name), indexes):
                index = quote(f"{table}.{spec.name}")
                unique = "UNIQUE " if spec.unique else ""
                try:
                    connection.execute(
                        f"CREATE {unique}INDEX {index} ON {quote(table)} ({index_columns(spec)})"
                    )
                except sqlite3.IntegrityError:
                    raise Conflict(f"documents in {database}/{name} repeat {spec.name}") from None
                connection.execute(
                    f"INSERT INTO {_INDEXES} VALUES (?, ?, ?, ?)",
                    (name, spec.name, json.dumps(list(spec.fields)), int(spec.unique)),
                )

    def drop_collection(self, database: str, name: str) -> None:
        table = _PREFIX + check_collection(name)
        with contextlib.suppress(NotFound), self._transaction(database) as connection:
            connection.execute(f"DROP TABLE IF EXISTS {quote(table)}")
            connection.execute(f"DELETE FROM {_INDEXES} WHERE collection = ?", (name,))

    # documents

    def insert(self, database: str, collection: str, document: Mapping[str, Any]) -> None:
        text, plain = new_document(document)
        table = self._name(collection)
        try:
            self._write(database, f"INSERT INTO {table} VALUES (?, ?)", (plain["_id"], text))
        except sqlite3.IntegrityError as exc:
            raise DuplicateKey(f"{database}/{collection} refused {plain['_id']!r}: {exc}") from None

    def insert_many(
        self, database: str, collection: str, documents: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        """All in one transaction: a commit costs more than an insert (a thousand request
        records took three times as long one transaction each). A clash fails only its own
        statement (SQLite backs out that statement and keeps the transaction)."""
        rows = [new_document(document) for document in check_documents(documents)]
        table = self._name(collection)
        refused = []
        with self._transaction(database) as connection:
            if not rows:  # still `NotFound` for a collection never ensured
                connection.execute(f"SELECT 1 FROM {table} LIMIT 0")
            for text, plain in rows:
                try:
                    connection.execute(f"INSERT INTO {table} VALUES (?, ?)", (plain["_id"], text))
                except sqlite3.IntegrityError:
                    refused.append(plain["_id"])
        return refused

    def get(self, database: str, collection: str, document_id: str) -> Document | None:
        check_id(document_id)
        table = self._name(collection)
        with self._connection(database) as connection:
            row = connection.execute(
                f"SELECT doc FROM {table} WHERE _id = ?", (document_id,)
            ).fetchone()
        return None if row is None else _decode(row[0])

    def find(
        self,
        database: str,
        collection: str,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        clause, params = where_sql(conditions(where))
        clause += " ORDER BY _id"
        bound = check_limit(limit)
        if bound is not None:
            clause += " LIMIT ?"
            params.append(bound)
        names = check_fields(fields)
        table = self._name(collection)
        with self._connection(database) as connection:
            if names is None:
                rows = connection.execute(f"SELECT doc FROM {table}{clause}", params).fetchall()
                return [_decode(text) for (text,) in rows]
            if not names:
                rows = connection.execute(f"SELECT _id FROM {table}{clause}", params).fetchall()
                return [{"_id": identifier} for (identifier,) in rows]
            columns = picked_columns(names)
            picked = connection.execute(f"SELECT {columns} FROM {table}{clause}", params)
            return [unpicked(names, row) for row in picked.fetchall()]

    def count(self, database: str, collection: str, where: Mapping[str, Any] | None = None) -> int:
        clause, params = where_sql(conditions(where))
        table = self._name(collection)
        with self._connection(database) as connection:
            (found,) = connection.execute(
                f"SELECT count(*) FROM {table}{clause}", params
            ).fetchone()
        return int(found)

    def update(
        self,
        database: str,
        collection: str,
        document_id: str,
        changes: Mapping[str, Any],
        *,
        expected: Mapping[str, Any] | None = None,
    ) -> bool:
        plain = check_changes(check_id(document_id), changes)
        wanted = conditions(expected)
        table = self._name(collection)
        if plain:
            done = self._set_fields(database, collection, table, document_id, plain, wanted)
            if done is not None:
                return done
        with self._transaction(database) as connection:
            row = connection.execute(
                f"SELECT doc FROM {table} WHERE _id = ?", (document_id,)
            ).fetchone()
            current = None if row is None else _decode(row[0])
            if current is None or not matches(current, wanted):
                return False
            try:
                connection.execute(
                    f"UPDATE {table} SET doc = ? WHERE _id = ?",
                    (dump({**current, **plain}), document_id),  # both parts are plain already
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKey(f"{database}/{collection} refused the change: {exc}") from None
            return True

    def _set_fields(
        self,
        database: str,
        collection: str,
        table: str,
        document_id: str,
        fields: Document,
        wanted: Mapping[str, Scalar],
    ) -> bool | None:
        """`update` in one statement: SQLite compares and sets the fields inside the stored
        text (``json_set``), so the document is neither read into Python nor encoded again;
        None, and nothing done, when a field's name is not one a JSON path can quote as it is.

        Strings, integers and None are bound as they are (json_set quotes a text value and
        writes an integer's digits). Objects and arrays travel together as one JSON array,
        each taken out of it by ``json_extract``, which hands json_set JSON, not text: one
        encoding per call instead of one per value (a compare-and-set of a request record
        has three). A float or a boolean goes in as JSON text of its own (``json(?)``), so a
        float keeps every digit and a boolean stays one. SQLite copies the rest of the
        document as it was written. The statement's text is built once per shape (`_SETS`)."""
        values: list[object] = []
        containers: list[object] = []
        kinds = []
        for value in fields.values():
            kind = type(value)
            if kind is str or kind is int or value is None:
                values.append(value)
                kinds.append(BOUND)
            elif kind is dict or kind is list:
                containers.append(value)
                kinds.append(CONTAINER)
            else:
                values.append(dump(value))
                kinds.append(JSON_TEXT)
        clause, params = where_sql(wanted)
        shape = (table, tuple(fields), tuple(kinds), clause)
        sql = _SETS.get(shape)
        if sql is None:
            if not all(map(_PATH_KEY.fullmatch, fields)):
                return None
            if len(_SETS) >= _MAX_SETS:  # callers whose field names vary without end
                _SETS.clear()
            sql = _SETS[shape] = set_statement(table, shape[1], shape[2], clause)
        if containers:
            values.append(dump(containers))
        try:
            cursor = self._write(database, sql, [*values, document_id, *params])
        except sqlite3.IntegrityError as exc:
            raise DuplicateKey(f"{database}/{collection} refused the change: {exc}") from None
        return cursor.rowcount > 0

    def delete(self, database: str, collection: str, document_id: str) -> bool:
        check_id(document_id)
        table = self._name(collection)
        cursor = self._write(database, f"DELETE FROM {table} WHERE _id = ?", (document_id,))
        return cursor.rowcount > 0


def _failure(database: str, exc: sqlite3.Error) -> Exception:
    """What a failed statement means. Document operations name their table without looking
    it up first (a query per call), so a collection that was never ensured shows up here."""
    missing = str(exc).partition(f"no such table: {_PREFIX}")[2]
    if isinstance(exc, sqlite3.OperationalError) and missing:
        return NotFound(f"collection {database}/{missing} does not exist")
    return BackendError(f"database {database!r}: {exc}")


def _decode(text: str) -> Document:
    document: Document = json.loads(text)
    return document
