"""Relational tables that cleaned datasets are loaded into: SQLite locally, PostgreSQL on a server.

A dataset folder is processed by whichever worker gets it, perhaps twice (a retried job) or by
two workers at once (a duplicated event). `TableSink.load` is what makes that safe: rows are
upserted by key, and every load is recorded under its ``load_id`` in the same transaction, so a
repeated or concurrent load of the same folder changes nothing and says so.

**Why `Frame` and not ``pandas.DataFrame``.** Ports and services never import pandas, not even
under ``TYPE_CHECKING`` (import-linter counts those imports too), yet services must hand the
cleaner's frame to the sink. `Frame` names the part of a DataFrame that code outside the adapters
may rely on; every adapter accepts exactly ``pandas.DataFrame`` and refuses anything else with
`InvalidInput`. Rows come back as plain dicts: comparable, JSON-friendly and pandas-free.

The rules below are what every adapter agrees on; anything they refuse raises before a row is
written, and a load either lands whole or not at all.

- **Names.** Table, column and key names are identifiers (`check_identifier`: 1-63 letters,
  digits and '_', not starting with a digit), else `InvalidName`. Names starting with
  ``_overlord`` or ``sqlite_`` are reserved. SQLite ignores case in names and PostgreSQL does
  not, so names that differ only in case are never two things: a frame's columns doing so raise
  `InvalidInput`; a table or column that exists under another case raises `Conflict`.
- **Columns.** A new table takes its column types from the frame's dtypes: integers (64-bit),
  floats (finite), booleans, text (no NUL, valid Unicode), timestamps (to the microsecond; aware
  ones are converted to UTC and come back naive) and dates (``datetime.date`` in an object
  column). An object column takes the type its values share (integers and floats mix as
  floats); one holding only missing values is text when it creates a column. NaN, None, NaT and
  pd.NA are all missing (NULL). Other dtypes (category, timedelta, ...) raise `InvalidInput`.
- **Existing tables.** The key must be the table's primary key (`Conflict` otherwise). Each
  column must hold the table column's type, except that integers load into float columns and
  floats with integral values into integer columns (`Conflict` for any other mismatch,
  `InvalidInput` for a value that cannot be stored). Frame columns the table lacks are added;
  table columns the frame lacks keep their values on update and are NULL on insert.
- **Keys.** Key columns are in the frame and never missing; no two rows share a key (the sink
  will not pick one silently): else `InvalidInput`.
- **Loads.** ``load_id`` is 1-255 printable characters. A load_id already recorded for the table
  is a no-op reporting the first load; one recorded for another table raises `Conflict`.
  Dropping a table forgets its loads, so the same loads can rebuild it.
- **Replacing.** ``replace={"reporting_period": date(2026, 3, 31)}`` makes a load replace a
  partition of the table, a raw folder's rows: in the same transaction, before the upsert, it
  deletes the rows whose columns equal all those values, so rows a folder held before and holds
  no longer go. Each name is a column of the frame, each value not None and of that column's
  type, and every frame row holds those values (else `InvalidInput`): a load writes only inside
  what it replaces. A refused load deletes nothing; a repeated load_id deletes nothing either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Protocol

from attrs import frozen

Value = int | float | bool | str | datetime | date | None
Row = dict[str, Value]


class Frame(Protocol):
    """A ``pandas.DataFrame``, named by shape so that ports and services stay pandas-free."""

    @property
    def shape(self) -> tuple[int, int]: ...


@frozen
class LoadResult:
    """What a load did: ``applied`` is False when ``load_id`` had already been loaded, and then
    ``rows`` and ``loaded_at`` (aware UTC) describe that first load."""

    table: str
    load_id: str
    rows: int
    applied: bool
    loaded_at: datetime


class TableSink(Protocol):
    def load(
        self,
        table: str,
        frame: Frame,
        *,
        key: Sequence[str],
        load_id: str,
        replace: Mapping[str, Value] | None = None,
    ) -> LoadResult:
        """Upsert ``frame``'s rows into ``table`` by ``key`` columns, creating the table if
        missing; with ``replace``, first delete the rows holding those column values (the rows
        the frame replaces). Atomic, and a no-op for a ``load_id`` already recorded."""

    def read(self, table: str) -> list[Row]:
        """Every row, sorted by the table's key; `NotFound` if the table does not exist."""

    def tables(self) -> list[str]:
        """Sorted names of the tables (the sink's own bookkeeping excluded)."""

    def drop(self, table: str) -> None:
        """Remove the table and forget its loads; no error if it is gone."""
