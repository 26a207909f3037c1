"""The fast paths of `overlord.adapters.parquet.tables` give what the careful ones gave.

`to_table` keeps Arrow's own typing only where it equals the rules of `_column_type`, and
`deduplicate` skips grouping when no key repeats; these pin the cases where a shortcut
would silently differ.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from overlord.adapters.parquet import tables
from overlord.domain.datasets import Granularity, partition_key


class Level(enum.IntEnum):
    LOW = 1


def test_columns_keep_the_typing_rules_where_arrow_would_read_otherwise() -> None:
    rows = [
        {"at": 1767225600, "f": 1.5, "e": Level.LOW, "n": None, "i": 1, "b": True},
        {"at": 1767225601, "f": True, "e": 2, "n": None, "i": 2.5, "b": None, "z": "x"},
    ]
    table = tables.to_table(rows, "at")
    assert table.column_names == ["at", "f", "e", "n", "i", "b", "z"]
    types = {field.name: field.type for field in table.schema}
    assert types == {
        "at": pa.timestamp("us", "UTC"),
        "f": pa.string(),  # a bool among floats is JSON text, not 1.0
        "e": pa.string(),  # an IntEnum is not an int
        "n": pa.string(),
        "i": pa.float64(),
        "b": pa.bool_(),
        "z": pa.string(),
    }
    assert table["f"].to_pylist() == ["1.5", "true"]
    assert table["e"].to_pylist() == ["1", "2"]


def _deduplicated(ids: list[int], order: list[int]) -> list[tuple[int, int]]:
    rows = [{"at": 1767225600 + 3600 * (i % 3), "id": v} for i, v in enumerate(ids)]
    table = tables.with_partitions(tables.to_table(rows, "at"), "at", Granularity.HOUR)
    table = table.append_column(tables.ORDER, pa.array(order, pa.int64()))
    kept = tables.deduplicate(table, ["id"])
    return list(zip(kept["id"].to_pylist(), kept[tables.ORDER].to_pylist(), strict=True))


@pytest.mark.parametrize(
    ("ids", "order", "expected"),
    [
        ([0, 1, 2, 3], [0, 1, 2, 3], [(0, 0), (3, 3), (1, 1), (2, 2)]),  # unique, increasing
        ([3, 1, 2, 0], [0, 1, 2, 3], [(3, 0), (0, 3), (1, 1), (2, 2)]),  # unique, unordered
        ([5, 5, 5, 5], [0, 1, 2, 3], [(5, 3), (5, 1), (5, 2)]),  # one per partition, newest
        ([0, 1, 2, 3], [3, 2, 1, 0], [(3, 0), (0, 3), (1, 2), (2, 1)]),  # order not increasing
    ],
)
def test_deduplicate_sorts_by_partition_then_order_on_every_path(
    ids: list[int], order: list[int], expected: list[tuple[int, int]]
) -> None:
    assert _deduplicated(ids, order) == expected


@pytest.mark.parametrize("granularity", list(Granularity))
def test_partition_names_match_partition_key_inside_and_outside_four_digit_years(
    granularity: Granularity,
) -> None:
    moments = [
        datetime(2026, 3, 4, 5, 6, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    ]
    for chosen in (moments, [*moments, datetime(999, 12, 31, tzinfo=UTC)]):
        starts = pa.array(chosen, pa.timestamp("us", "UTC")).cast(pa.int64())
        assert tables._keys(starts, granularity) == [partition_key(m, granularity) for m in chosen]
