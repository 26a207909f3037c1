"""Records to one typed Arrow table, deduplicated and cut into partition slices, vectorised.

Kept apart from the writer so the orchestration (staging, promoting, markers) reads without
the Arrow details. Every function imports pyarrow itself: importing the adapter costs nothing.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from overlord.domain.datasets import Granularity, partition_key
from overlord.domain.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa

PART = "__overlord_partition"
ORDER = "__overlord_order"


def _column_type(values: list[Any]) -> str:
    kinds = set(map(type, values)) - {type(None)}
    if kinds == {int}:
        return "int64"
    if kinds and kinds <= {int, float}:
        return "float64"
    if kinds == {bool}:
        return "bool_"
    return "string"


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _valid_time(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).utcoffset() is not None
    except ValueError:
        return False


def _time_array(values: list[Any]) -> pa.Array:
    """``timestamp[us, UTC]`` from ISO-8601 strings with offsets or epoch seconds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = _column_type(values)
    try:
        if None in values:
            raise ValueError
        if kind == "string" and set(map(type, values)) == {str}:
            return pc.cast(pa.array(values, pa.string()), pa.timestamp("us", "UTC"))
        if kind in ("int64", "float64"):
            seconds = pa.array(values, pa.float64())
            micros = pc.cast(pc.round(pc.multiply(seconds, 1e6)), pa.int64())
            return pc.cast(micros, pa.timestamp("us", "UTC"))
    except (pa.ArrowInvalid, ValueError, OverflowError):
        pass
    for index, value in enumerate(values):
        if not _valid_time(value):
            raise InvalidInput(
                f"record {index} has no time in its time field"
                " (ISO-8601 with an offset, or epoch seconds)"
            )
    times = [
        datetime.fromisoformat(v) if isinstance(v, str) else datetime.fromtimestamp(v)
        for v in values
    ]
    return pc.cast(pa.array(times, pa.timestamp("us", "UTC")), pa.timestamp("us", "UTC"))


def to_table(records: Sequence[Mapping[str, Any]], time_field: str) -> pa.Table:
    """One column per field seen (first record's order, then the rest sorted), typed stably."""
    import pyarrow as pa

    first = list(records[0]) if records else []
    names = first + sorted(set().union(*records) - set(first))
    if time_field not in names:
        raise InvalidInput(f"record 0 has no field {time_field!r}")
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = list(map(operator.methodcaller("get", name), records))
        if name == time_field:
            columns[name] = _time_array(values)
            continue
        kind = _column_type(values)
        if kind == "string":
            values = list(map(_as_text, values))
        columns[name] = pa.array(values, getattr(pa, kind)())
    return pa.table(columns)


def with_partitions(table: pa.Table, time_field: str, granularity: Granularity) -> pa.Table:
    """``table`` plus the start of each row's partition as an int64 column (microseconds)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    start = pc.floor_temporal(table[time_field], unit=granularity.value)
    return table.append_column(PART, pc.cast(start, pa.int64()))


def deduplicate(table: pa.Table, key: Sequence[str]) -> pa.Table:
    """One row per (partition, key), the highest ``ORDER`` winning, sorted by partition then
    order so the output is the same for the same input."""
    import pyarrow as pa

    columns = list(key) or [c for c in table.column_names if c not in (PART, ORDER)]
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InvalidInput(f"key field(s) {missing} are in no record")
    kept = table.group_by([PART, *columns], use_threads=False).aggregate([(ORDER, "max")])
    winners = pa.chunked_array(kept[f"{ORDER}_max"]).combine_chunks()
    chosen = table.filter(_is_in(table[ORDER], winners))
    return chosen.sort_by([(PART, "ascending"), (ORDER, "ascending")])


def _is_in(values: pa.ChunkedArray, wanted: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    return pc.is_in(values, value_set=wanted)


def slices(
    table: pa.Table, granularity: Granularity, max_rows: int
) -> Iterator[tuple[str, pa.Table]]:
    """(partition key, rows without the helper columns) for a table sorted by ``PART``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not table.num_rows:
        return
    runs = pc.run_end_encode(table[PART].combine_chunks())
    ends = runs.run_ends.to_pylist()
    starts = runs.values.cast(pa.timestamp("us", "UTC")).to_pylist()
    data = table.drop_columns([PART, ORDER])
    begin = 0
    for end, moment in zip(ends, starts, strict=True):
        name = partition_key(moment, granularity)
        for offset in range(begin, end, max_rows):
            yield name, data.slice(offset, min(max_rows, end - offset))
        begin = end


def touched(table: pa.Table, granularity: Granularity) -> list[str]:
    """The partition keys of ``table``'s rows, sorted."""
    import pyarrow as pa
    import pyarrow.compute as pc

    starts = pc.unique(table[PART]).cast(pa.timestamp("us", "UTC")).to_pylist()
    return sorted(partition_key(moment, granularity) for moment in starts)
