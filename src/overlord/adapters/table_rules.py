"""The table rules every TableSink adapter applies, defined once.

What a name, a column type, a value and a key are is the contract of `overlord.ports.table_sink`.
Each adapter turns a frame into plain Python values here (`prepare_load`, before any I/O) and
fits them to the table it finds (`fit_load`, inside its transaction), so that SQLite, which
stores whatever it is given, refuses exactly what PostgreSQL and the memory adapter refuse.
pandas is imported only when a frame is read.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from attrs import frozen

from overlord.domain.datasets import check_identifier
from overlord.domain.errors import Conflict, InvalidInput, InvalidName
from overlord.ports.table_sink import Frame, LoadResult, Row, Value

if TYPE_CHECKING:
    import pandas as pd

LEDGER = "_overlord_loads"
_RESERVED = ("_overlord", "sqlite_")
_INT64 = (-(2**63), 2**63 - 1)
_MAX_LOAD_ID = 255


class ColumnKind(enum.StrEnum):
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    TEXT = "text"
    TIMESTAMP = "timestamp"
    DATE = "date"


def check_table(table: object) -> str:
    name = check_identifier("table", table)
    if name.lower().startswith(_RESERVED):
        raise InvalidName(f"table {name!r}: names starting with {' or '.join(_RESERVED)} are kept")
    return name


def _check_distinct(what: str, names: Sequence[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        other = seen.get(name.lower())
        if other is not None:
            raise InvalidInput(f"{what} {other!r} and {name!r} are one name (case is ignored)")
        seen[name.lower()] = name


def check_key(key: object) -> tuple[str, ...]:
    if isinstance(key, str) or not isinstance(key, Sequence) or not key:
        raise InvalidInput(f"key {key!r}: expected a non-empty list of column names")
    names = tuple(check_identifier("key column", name) for name in key)
    _check_distinct("key columns", names)
    return names


def check_load_id(load_id: object) -> str:
    if not isinstance(load_id, str) or not 0 < len(load_id) <= _MAX_LOAD_ID:
        raise InvalidInput(f"load_id: expected 1-{_MAX_LOAD_ID} characters, got {load_id!r:.80}")
    if not load_id.isprintable():  # also refuses NUL and lone surrogates
        raise InvalidInput(f"load_id {load_id!r:.80} holds unprintable characters")
    return load_id


def resolve(existing: Iterable[str], name: str, what: str) -> str | None:
    """``name`` if it exists, None if nothing like it does; `Conflict` if it exists in another
    case, which SQLite would treat as the same name and PostgreSQL as another."""
    other = None
    for found in existing:
        if found == name:
            return name
        if found.lower() == name.lower():
            other = found
    if other is not None:
        raise Conflict(f"{what} {name!r} exists as {other!r}; names differing in case are one")
    return None


@frozen
class FrameColumn:
    name: str
    kind: ColumnKind | None  # None: an object column with no value in it
    values: list[Value]


@frozen
class PreparedLoad:
    """A load checked and turned into plain values; no table has been looked at yet."""

    table: str
    load_id: str
    key: tuple[str, ...]
    columns: tuple[FrameColumn, ...]
    rows: int


@frozen
class TableSchema:
    """A table as the sink sees it; a column's kind is None when its SQL type is not one the
    sink creates (a table made elsewhere), and then values go to the database as they are."""

    columns: Mapping[str, ColumnKind | None]
    key: tuple[str, ...]


@frozen
class FittedLoad:
    added: tuple[tuple[str, ColumnKind], ...]  # columns to create: all of them for a new table
    names: tuple[str, ...]
    columns: tuple[list[Value], ...]  # one list per name, in the table's types

    @property
    def rows(self) -> list[Row]:
        return [dict(zip(self.names, values, strict=True)) for values in self.tuples()]

    def tuples(self) -> Iterator[tuple[Value, ...]]:
        """The rows as tuples in ``names`` order: what COPY takes, without a dict per row."""
        return zip(*self.columns, strict=True)


def prepare_load(table: str, frame: Frame, key: Sequence[str], load_id: str) -> PreparedLoad:
    name, names, loaded = check_table(table), check_key(key), check_load_id(load_id)
    columns = _read_frame(frame)
    by_name = {column.name: column for column in columns}
    absent = [k for k in names if k not in by_name]
    if absent:
        raise InvalidInput(f"key column {absent[0]!r} is not a column of the frame")
    key_columns = [by_name[k].values for k in names]
    rows = len(key_columns[0])
    # The usual load has every key and no two alike: both checked in C (a list scan, a set);
    # only a load that fails them is walked row by row, to name the first row at fault.
    missing = any(None in values for values in key_columns)
    if missing or len(set(zip(*key_columns, strict=True))) != rows:
        _refuse_keys(names, key_columns)
    return PreparedLoad(name, loaded, names, columns, rows)


def _refuse_keys(names: tuple[str, ...], key_columns: list[list[Value]]) -> None:
    """`InvalidInput` naming the first row whose key is missing or repeats an earlier row's."""
    seen: dict[tuple[Value, ...], int] = {}
    for row, values in enumerate(zip(*key_columns, strict=True)):
        if None in values:
            raise InvalidInput(f"row {row}: key column {names[values.index(None)]!r} is missing")
        first = seen.setdefault(values, row)
        if first != row:
            raise InvalidInput(f"rows {first} and {row} share the key {values!r}")


def fit_load(load: PreparedLoad, table: TableSchema | None) -> FittedLoad:
    """The load's rows in the table's column types; `Conflict` if the table cannot hold them."""
    added: list[tuple[str, ColumnKind]] = []
    columns: list[list[Value]] = []
    for column in load.columns:
        found = None if table is None else resolve(table.columns, column.name, "column")
        if table is None or found is None:
            added.append((column.name, column.kind or ColumnKind.TEXT))
            columns.append(column.values)
            continue
        target = table.columns[found]
        if column.kind is None or target is None or target is column.kind:
            columns.append(column.values)
        elif {target, column.kind} == {ColumnKind.INTEGER, ColumnKind.FLOAT}:
            columns.append(
                [
                    None if v is None else _coerce(column.name, target, v, row)
                    for row, v in enumerate(column.values)
                ]
            )
        else:
            raise Conflict(
                f"column {column.name!r} of table {load.table!r} holds {target} values, "
                f"the frame has {column.kind}"
            )
    if table is not None and set(table.key) != set(load.key):
        raise Conflict(f"table {load.table!r} is keyed by {list(table.key)}, not {list(load.key)}")
    return FittedLoad(tuple(added), tuple(c.name for c in load.columns), tuple(columns))


def check_replace(
    load: PreparedLoad, replace: Mapping[str, Value] | None
) -> tuple[tuple[str, Value], ...]:
    """The ``replace`` columns and values, each value in its frame column's type; every frame
    row must hold them (`InvalidInput` otherwise), so a load never writes outside the rows it
    replaces. ``()`` for a plain upsert."""
    if replace is None:
        return ()
    if not isinstance(replace, Mapping) or not replace:
        raise InvalidInput(f"replace {replace!r:.80}: expected a non-empty mapping of columns")
    names = [check_identifier("replace column", name) for name in replace]
    _check_distinct("replace columns", names)
    by_name = {column.name: column for column in load.columns}
    checked: list[tuple[str, Value]] = []
    for name, value in replace.items():
        column = by_name.get(name)
        if column is None:
            raise InvalidInput(f"replace column {name!r} is not a column of the frame")
        if value is None:
            raise InvalidInput(f"replace column {name!r}: rows are replaced by value, not NULL")
        kind = column.kind or _value_kind(name, 0, value)
        try:
            wanted = _coerce(name, kind, value, 0)
        except InvalidInput:
            raise InvalidInput(
                f"replace column {name!r}: {str(value)[:40]!r} is not a {kind} value"
            ) from None
        for row, found in enumerate(column.values):
            if found != wanted:
                raise InvalidInput(
                    f"row {row}: column {name!r} is {str(found)[:40]!r}, not the replaced "
                    f"{str(wanted)[:40]!r}"
                )
        checked.append((name, wanted))
    return tuple(checked)


def repeated_load(load: PreparedLoad, table: str, rows: int, loaded_at: datetime) -> LoadResult:
    """The answer to a load whose load_id is already recorded (for ``table``)."""
    if table != load.table:
        raise Conflict(f"load {load.load_id!r} was recorded for table {table!r}")
    return LoadResult(table, load.load_id, rows, applied=False, loaded_at=loaded_at)


def sorted_rows(rows: list[Row], key: Sequence[str]) -> list[Row]:
    try:
        return sorted(rows, key=lambda row: tuple(row[k] for k in key))
    except TypeError:  # a table made elsewhere mixing types in its key: keep the database's order
        return rows


# reading frames


def _read_frame(frame: Frame) -> tuple[FrameColumn, ...]:
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"expected a pandas DataFrame, got {type(frame).__name__}")
    names = [str(check_identifier("column", label)) for label in frame.columns]
    _check_distinct("columns", names)
    return tuple(_read_column(name, frame.iloc[:, i]) for i, name in enumerate(names))


def _read_column(name: str, series: pd.Series[Any]) -> FrameColumn:
    declared = _dtype_kind(name, series.dtype)
    fast = None if declared is None else _typed_values(series, declared)
    if fast is not None:
        return FrameColumn(name, declared, fast)
    if declared is None:  # an object column of dates (as cleaners give them) needs no check
        dates = _objects(series)
        types = set(map(type, dates))  # in C: a loop over a million values costs more
        if date in types and types <= {date, type(None)}:
            return FrameColumn(name, ColumnKind.DATE, dates)
    values: list[Any] = [
        None if missing else _python(value)
        for value, missing in zip(series.tolist(), series.isna().tolist(), strict=True)
    ]
    kind = declared
    if kind is None:
        kinds = {_value_kind(name, row, v) for row, v in enumerate(values) if v is not None}
        if kinds == {ColumnKind.INTEGER, ColumnKind.FLOAT}:
            kinds = {ColumnKind.FLOAT}
        if len(kinds) > 1:
            raise InvalidInput(f"column {name!r} mixes {' and '.join(sorted(kinds))} values")
        kind = kinds.pop() if kinds else None
    if kind is not None:
        values = [
            None if v is None else _coerce(name, kind, v, row) for row, v in enumerate(values)
        ]
    return FrameColumn(name, kind, values)


def _typed_values(series: pd.Series[Any], kind: ColumnKind) -> list[Value] | None:
    """The column's values, checked a column at a time, when its dtype already guarantees what
    `_coerce` checks a value at a time (the cleaners' usual dtypes: numpy and nullable numbers,
    booleans, strings, naive nanosecond timestamps); None sends the column down the value-by-value
    path, which also words any refusal. Both give the same values."""
    import numpy as np

    dtype: Any = series.dtype
    native = isinstance(dtype, np.dtype)
    if kind is ColumnKind.INTEGER:
        base = np.dtype(getattr(dtype, "numpy_dtype", dtype))
        if base.kind == "u" and base.itemsize >= 8:
            return None  # may exceed 64 signed bits
        values: list[Any] = series.to_numpy().tolist() if native else _objects(series)
        return values
    if kind is ColumnKind.BOOLEAN:
        return list(series.to_numpy().tolist() if native else _objects(series))
    if kind is ColumnKind.FLOAT:
        array = series.to_numpy(dtype="float64", na_value=np.nan)
        if np.isinf(array).any():
            return None
        values = array.tolist()
        for at in np.flatnonzero(np.isnan(array)).tolist():
            values[at] = None
        return values
    if kind is ColumnKind.TIMESTAMP and native:  # naive: an aware dtype is not numpy's
        # NaT becomes None; like Timestamp.to_pydatetime, the cast floors to the microsecond.
        array = series.to_numpy()
        years = array[~np.isnat(array)].astype("datetime64[Y]").astype("int64") + 1970
        if years.size and not (years.min() >= 1 and years.max() <= 9999):
            return None  # beyond what datetime holds: refused value by value
        return list(array.astype("datetime64[us]").astype(object).tolist())
    if kind is ColumnKind.TEXT:
        values = _objects(series)
        if not set(map(type, values)) <= {str, type(None)}:
            return None
        joined = "".join(filter(None, values))  # the empty strings add nothing to check
        if "\x00" in joined:
            return None
        try:
            joined.encode()
        except UnicodeEncodeError:
            return None
        return values
    return None


def _objects(series: pd.Series[Any]) -> list[Any]:
    """The values as Python objects, None where missing (the stubs refuse ``na_value=None``)."""
    missing: Any = None
    return list(series.to_numpy(dtype=object, na_value=missing).tolist())


def _dtype_kind(name: str, dtype: Any) -> ColumnKind | None:
    import pandas as pd
    from pandas.api import types

    if isinstance(dtype, pd.CategoricalDtype):
        pass
    elif types.is_object_dtype(dtype):
        return None
    elif types.is_bool_dtype(dtype):
        return ColumnKind.BOOLEAN
    elif types.is_integer_dtype(dtype):
        return ColumnKind.INTEGER
    elif types.is_float_dtype(dtype):
        return ColumnKind.FLOAT
    elif types.is_datetime64_any_dtype(dtype):
        return ColumnKind.TIMESTAMP
    elif types.is_string_dtype(dtype):
        return ColumnKind.TEXT
    raise InvalidInput(f"column {name!r}: no table column holds dtype {dtype}; convert it first")


def _python(value: object) -> object:
    """numpy and pandas scalars as the builtins they stand for (timestamps to the microsecond)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime(warn=False)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _value_kind(name: str, row: int, value: object) -> ColumnKind:
    for kind, types in _KINDS:
        if isinstance(value, types):
            return kind
    raise InvalidInput(f"column {name!r} row {row}: {type(value).__name__} values are not stored")


_KINDS: tuple[tuple[ColumnKind, type | tuple[type, ...]], ...] = (
    (ColumnKind.BOOLEAN, bool),
    (ColumnKind.INTEGER, int),
    (ColumnKind.FLOAT, float),
    (ColumnKind.TEXT, str),
    (ColumnKind.TIMESTAMP, datetime),
    (ColumnKind.DATE, date),
)


def _coerce(name: str, kind: ColumnKind, value: Any, row: int) -> Value:
    """``value`` as a ``kind`` column stores it; `InvalidInput` when it cannot be."""
    got = _value_kind(name, row, value)
    at = f"column {name!r} row {row}"
    if kind is ColumnKind.INTEGER and got is ColumnKind.FLOAT and value.is_integer():
        value, got = int(value), ColumnKind.INTEGER
    if kind is ColumnKind.FLOAT and got is ColumnKind.INTEGER:
        try:
            value, got = float(value), ColumnKind.FLOAT
        except OverflowError:
            raise InvalidInput(f"{at}: {value} is too large for a float") from None
    if got is not kind:
        raise InvalidInput(f"{at}: {str(value)[:40]!r} is not a {kind} value")
    if kind is ColumnKind.INTEGER and not _INT64[0] <= value <= _INT64[1]:
        raise InvalidInput(f"{at}: {value} does not fit in 64 bits")
    if kind is ColumnKind.FLOAT and not math.isfinite(value):
        raise InvalidInput(f"{at}: {value} is not a finite number")
    if kind is ColumnKind.TEXT:
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise InvalidInput(f"{at}: text cannot hold NUL characters")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise InvalidInput(f"{at}: text is not valid Unicode") from None
    if kind is ColumnKind.TIMESTAMP and value.utcoffset() is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value  # type: ignore[no-any-return]
