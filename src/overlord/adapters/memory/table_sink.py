"""Tables in dicts: the TableSink that unit tests of the ingestion services use.

It applies `overlord.adapters.table_rules` like the SQL adapter, so a load it accepts is one
SQLite and PostgreSQL accept. A load is fitted in full before anything changes, which makes it
atomic; one lock makes the ledger check and the write a single step, so racing loads of one
load_id land once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime

from attrs import define, frozen

from overlord.adapters.system import SystemClock
from overlord.adapters.table_rules import (
    TableSchema,
    check_replace,
    check_table,
    fit_load,
    prepare_load,
    repeated_load,
    resolve,
    sorted_rows,
)
from overlord.domain.errors import NotFound
from overlord.ports.clock import Clock
from overlord.ports.table_sink import Frame, LoadResult, Row, Value


@define
class _Table:
    schema: TableSchema
    rows: dict[tuple[Value, ...], Row]


@frozen
class _Load:
    table: str
    rows: int
    loaded_at: datetime


class MemoryTableSink:
    """TableSink in process memory; thread-safe. pandas is needed only to hand it a frame.

    >>> import pandas as pd
    >>> sink = MemoryTableSink()
    >>> frame = pd.DataFrame({"id": [1, 2], "amount": [9.5, None]})
    >>> sink.load("sales", frame, key=["id"], load_id="sales__2024:ab12").applied
    True
    >>> sink.load("sales", frame, key=["id"], load_id="sales__2024:ab12").applied
    False
    >>> sink.read("sales")
    [{'id': 1, 'amount': 9.5}, {'id': 2, 'amount': None}]
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._tables: dict[str, _Table] = {}
        self._loads: dict[str, _Load] = {}

    def load(
        self,
        table: str,
        frame: Frame,
        *,
        key: Sequence[str],
        load_id: str,
        replace: Mapping[str, Value] | None = None,
    ) -> LoadResult:
        prepared = prepare_load(table, frame, key, load_id)
        replaced = check_replace(prepared, replace)
        with self._lock:
            done = self._loads.get(prepared.load_id)
            if done is not None:
                return repeated_load(prepared, done.table, done.rows, done.loaded_at)
            found = resolve(self._tables, prepared.table, "table")
            current = None if found is None else self._tables[found]
            fitted = fit_load(prepared, None if current is None else current.schema)
            if current is None:
                current = _Table(TableSchema({}, prepared.key), {})
            schema = TableSchema(
                {**current.schema.columns, **dict(fitted.added)}, current.schema.key
            )
            rows = {
                at: row
                for at, row in current.rows.items()
                if not replaced or any(row.get(name) != value for name, value in replaced)
            }
            for row in fitted.rows:
                at = tuple(row[name] for name in schema.key)
                rows[at] = {**rows.get(at, {}), **row}
            loaded_at = self._clock.now()
            self._tables[prepared.table] = _Table(schema, rows)
            self._loads[prepared.load_id] = _Load(prepared.table, prepared.rows, loaded_at)
        return LoadResult(
            prepared.table, prepared.load_id, prepared.rows, applied=True, loaded_at=loaded_at
        )

    def read(self, table: str) -> list[Row]:
        name = check_table(table)
        with self._lock:
            if resolve(self._tables, name, "table") is None:
                raise NotFound(f"table {name!r} does not exist")
            found = self._tables[name]
            columns = list(found.schema.columns)
            rows = [{c: stored.get(c) for c in columns} for stored in found.rows.values()]
        return sorted_rows(rows, found.schema.key)

    def tables(self) -> list[str]:
        with self._lock:
            return sorted(self._tables)

    def drop(self, table: str) -> None:
        name = check_table(table)
        with self._lock:
            if resolve(self._tables, name, "table") is None:
                return
            del self._tables[name]
            for load_id in [i for i, load in self._loads.items() if load.table == name]:
                del self._loads[load_id]
