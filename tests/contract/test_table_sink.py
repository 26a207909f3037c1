"""The TableSink contract: one suite that every adapter of the port must pass.

Add an adapter to ``FACTORIES`` to run it here. Every test names its own tables, so a database
shared by many tests (the session's PostgreSQL cluster) needs no clean-up between them. The tests
under "databases" run on the SQL adapters only: they reach past the port (a table made by hand,
the ledger itself, a second sink on the same database) to prove what the port cannot show, such
as a rollback inside the database.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.adapters.memory.table_sink import MemoryTableSink
from overlord.adapters.sql.table_sink import SqlTableSink
from overlord.domain.errors import Conflict, InvalidInput, InvalidName, NotFound
from overlord.ports.table_sink import LoadResult, Row, TableSink

SQL_URLS: dict[str, Callable[[pytest.FixtureRequest], str]] = {
    "sqlite": lambda request: f"sqlite:///{request.getfixturevalue('tmp_path')}/tables.sqlite3",
    "postgresql": lambda request: str(request.getfixturevalue("postgres_url")),
}


def _sql_sink(name: str) -> Callable[[pytest.FixtureRequest], TableSink]:
    def make(request: pytest.FixtureRequest) -> TableSink:
        sink = SqlTableSink(SQL_URLS[name](request))
        request.addfinalizer(sink.close)
        return sink

    return make


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], TableSink]] = {
    "memory": lambda request: MemoryTableSink(),
    **{name: _sql_sink(name) for name in SQL_URLS},
}

KEY = ["id"]
HYPOTHESIS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def new_table() -> str:
    return f"t_{uuid.uuid4().hex[:20]}"


def new_load() -> str:
    return f"raw/t__2024-03-31:{uuid.uuid4().hex}"


def typed(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, tuple[str, Any]]]:
    """Rows with each value's type beside it: ``True == 1`` and ``1 == 1.0`` must not pass."""
    return [{k: (type(v).__name__, v) for k, v in row.items()} for row in rows]


@pytest.fixture(params=sorted(FACTORIES))
def sink(request: pytest.FixtureRequest) -> TableSink:
    return FACTORIES[request.param](request)


@pytest.fixture
def table(sink: TableSink) -> str:
    """A table with rows 1 and 2: ``id`` integer key, ``amount`` float, ``label`` text."""
    name = new_table()
    frame = pd.DataFrame({"id": [1, 2], "amount": [1.5, 2.5], "label": ["one", "two"]})
    sink.load(name, frame, key=KEY, load_id=new_load())
    return name


BEFORE = [
    {"id": 1, "amount": 1.5, "label": "one"},
    {"id": 2, "amount": 2.5, "label": "two"},
]


# loading


def test_a_first_load_creates_the_table_and_reads_back_plain_values(sink: TableSink) -> None:
    name, load_id = new_table(), new_load()
    frame = pd.DataFrame(
        {
            "id": [3, 1, 2],
            "amount": [-0.25, None, 9.5],
            "label": ["é", None, "b"],
            "ok": [True, False, True],
            "seen": pd.to_datetime(
                pd.Series(["2024-01-01", None, "2024-03-31 08:05:00.123456"]), format="ISO8601"
            ),
            "day": [date(2024, 1, 1), None, date(2024, 3, 31)],
            "count": pd.array([2**62, None, 7], dtype="Int64"),
            "nothing": [None, None, None],
        }
    )
    result = sink.load(name, frame, key=KEY, load_id=load_id)
    assert (result.table, result.load_id, result.rows, result.applied) == (name, load_id, 3, True)
    assert result.loaded_at.utcoffset() is not None
    empty = {"amount": None, "label": None, "seen": None, "day": None, "count": None}
    assert typed(sink.read(name)) == typed(
        [
            {"id": 1, **empty, "ok": False, "nothing": None},
            {"id": 2, "amount": 9.5, "label": "b", "ok": True, "nothing": None}
            | {"seen": datetime(2024, 3, 31, 8, 5, 0, 123456), "day": date(2024, 3, 31)}
            | {"count": 7},
            {"id": 3, "amount": -0.25, "label": "é", "ok": True, "nothing": None}
            | {"seen": datetime(2024, 1, 1), "day": date(2024, 1, 1), "count": 2**62},
        ]
    )
    assert name in sink.tables()


def test_repeating_a_load_id_changes_nothing_and_reports_the_first_load(
    sink: TableSink, table: str
) -> None:
    load_id = new_load()
    frame = pd.DataFrame({"id": [2, 3], "amount": [20.0, 30.0], "label": ["b", "c"]})
    first = sink.load(table, frame, key=KEY, load_id=load_id)
    changed = pd.DataFrame({"id": [1, 4], "amount": [0.0, 0.0], "label": ["x", "y"]})
    again = sink.load(table, changed, key=KEY, load_id=load_id)
    assert again == LoadResult(table, load_id, 2, applied=False, loaded_at=first.loaded_at)
    assert sink.read(table) == [
        BEFORE[0],
        {"id": 2, "amount": 20.0, "label": "b"},
        {"id": 3, "amount": 30.0, "label": "c"},
    ]


def test_loads_upsert_by_key_and_leave_columns_they_lack_alone(sink: TableSink, table: str) -> None:
    frame = pd.DataFrame({"id": [2, 3], "label": ["TWO", None]})
    assert sink.load(table, frame, key=KEY, load_id=new_load()).rows == 2
    assert sink.read(table) == [
        BEFORE[0],
        {"id": 2, "amount": 2.5, "label": "TWO"},
        {"id": 3, "amount": None, "label": None},
    ]


def test_a_composite_key_sorts_and_upserts_rows_in_any_key_order(sink: TableSink) -> None:
    name = new_table()
    first = pd.DataFrame({"region": ["b", "a", "a"], "day": [2, 9, 1], "n": [1, 2, 3]})
    sink.load(name, first, key=["region", "day"], load_id=new_load())
    second = pd.DataFrame({"day": [9, 9], "region": ["a", "b"], "n": [20, 40]})
    sink.load(name, second, key=["day", "region"], load_id=new_load())
    assert sink.read(name) == [
        {"region": "a", "day": 1, "n": 3},
        {"region": "a", "day": 9, "n": 20},
        {"region": "b", "day": 2, "n": 1},
        {"region": "b", "day": 9, "n": 40},
    ]


def test_a_frame_with_only_key_columns_inserts_missing_rows(sink: TableSink, table: str) -> None:
    sink.load(table, pd.DataFrame({"id": [2, 5]}), key=KEY, load_id=new_load())
    assert sink.read(table) == [*BEFORE, {"id": 5, "amount": None, "label": None}]


def test_a_new_column_in_a_later_frame_is_added_to_the_table(sink: TableSink, table: str) -> None:
    frame = pd.DataFrame({"id": [2], "ok": [True], "seen": pd.to_datetime(["2024-05-01"])})
    sink.load(table, frame, key=KEY, load_id=new_load())
    assert typed(sink.read(table)) == typed(
        [
            BEFORE[0] | {"ok": None, "seen": None},
            BEFORE[1] | {"ok": True, "seen": datetime(2024, 5, 1)},
        ]
    )


def test_integers_and_integral_floats_load_into_each_others_columns(
    sink: TableSink, table: str
) -> None:
    frame = pd.DataFrame({"id": [3.0, 4.0], "amount": [7, 8]})  # float key, integer amounts
    sink.load(table, frame, key=KEY, load_id=new_load())
    rows = typed(sink.read(table))
    assert rows[2:] == typed(
        [{"id": 3, "amount": 7.0, "label": None}, {"id": 4, "amount": 8.0, "label": None}]
    )
    with pytest.raises(InvalidInput):
        sink.load(table, pd.DataFrame({"id": [5.0, 5.5]}), key=KEY, load_id=new_load())
    assert typed(sink.read(table)) == rows


def test_typed_columns_load_as_the_same_values_in_object_columns_would(sink: TableSink) -> None:
    """Typed columns are checked a column at a time, object ones a value at a time: alike."""
    frame = pd.DataFrame(
        {
            "id": pd.Series([1, 2, 3], dtype="int64"),
            "small": pd.Series([-1, 0, 127], dtype="int8"),
            "count": pd.array([2**62, None, -5], dtype="Int64"),
            "amount": [1.5, float("nan"), -0.0],
            "ratio": pd.array([0.25, None, 1.0], dtype="Float64"),
            "ok": [True, False, True],
            "maybe": pd.array([True, None, False], dtype="boolean"),
            "label": pd.Series(["é", None, "b"], dtype="str"),
            "seen": pd.to_datetime(
                pd.Series(["1969-12-31 23:59:59.9999995", None, "2024-01-01 00:00:00.0000019"])
            ),
        }
    )
    typed_name, object_name = new_table(), new_table()
    sink.load(typed_name, frame, key=KEY, load_id=new_load())
    sink.load(object_name, frame.astype(object), key=KEY, load_id=new_load())
    assert typed(sink.read(typed_name)) == typed(sink.read(object_name))
    assert sink.read(typed_name)[0]["seen"] == datetime(1969, 12, 31, 23, 59, 59, 999999)


def test_an_empty_frame_creates_an_empty_table_of_its_dtypes(sink: TableSink) -> None:
    name = new_table()
    frame = pd.DataFrame({"id": pd.Series(dtype="int64"), "label": pd.Series(dtype="str")})
    result = sink.load(name, frame, key=KEY, load_id=new_load())
    assert (result.rows, result.applied) == (0, True)
    assert sink.read(name) == []
    with pytest.raises(Conflict):
        sink.load(name, pd.DataFrame({"id": ["text"]}), key=KEY, load_id=new_load())
    sink.load(name, pd.DataFrame({"id": [1], "label": ["x"]}), key=KEY, load_id=new_load())
    assert sink.read(name) == [{"id": 1, "label": "x"}]


def test_timestamps_are_kept_naive_in_utc_to_the_microsecond(sink: TableSink) -> None:
    name = new_table()
    aware = pd.to_datetime(["2024-03-31 10:05:00.123456789"]).tz_localize("Europe/Paris")
    plain = datetime.fromisoformat("2024-03-31T08:05:00.5+05:00")
    frame = pd.DataFrame({"id": [1], "aware": aware, "plain": pd.Series([plain], dtype=object)})
    sink.load(name, frame, key=KEY, load_id=new_load())
    assert typed(sink.read(name)) == typed(
        [
            {
                "id": 1,
                "aware": datetime(2024, 3, 31, 8, 5, 0, 123456),
                "plain": datetime(2024, 3, 31, 3, 5, 0, 500000),
            }
        ]
    )


# refusals: nothing is written


def test_a_column_of_another_type_is_a_conflict_and_changes_nothing(
    sink: TableSink, table: str
) -> None:
    load_id = new_load()
    for frame in (
        pd.DataFrame({"id": [2, 3], "amount": [1.0, 2.0], "label": [1, 2]}),
        pd.DataFrame({"id": [3], "amount": [True]}),
        pd.DataFrame({"id": [3], "label": pd.to_datetime(["2024-01-01"])}),
        pd.DataFrame({"id": ["3"]}),
    ):
        with pytest.raises(Conflict):
            sink.load(table, frame, key=KEY, load_id=load_id)
        assert sink.read(table) == BEFORE
    assert sink.load(table, pd.DataFrame({"id": [3]}), key=KEY, load_id=load_id).applied


def test_a_key_other_than_the_tables_is_a_conflict(sink: TableSink, table: str) -> None:
    frame = pd.DataFrame({"id": [3], "label": ["x"]})
    for key in (["label"], ["id", "label"]):
        with pytest.raises(Conflict):
            sink.load(table, frame, key=key, load_id=new_load())
    assert sink.read(table) == BEFORE


@pytest.mark.parametrize(
    "last",
    [
        {"id": None, "amount": 1.0, "label": "x"},
        {"id": 9, "amount": float("inf"), "label": "x"},
        {"id": 9, "amount": 1.0, "label": "nul\x00"},
        {"id": 9, "amount": 1.0, "label": "\ud800"},
        {"id": 1, "amount": 1.0, "label": "a key already in this frame"},
    ],
    ids=["null-key", "infinity", "nul", "surrogate", "repeated-key"],
)
def test_a_load_whose_last_row_is_refused_changes_nothing(
    sink: TableSink, table: str, last: dict[str, Any]
) -> None:
    rows = [{"id": 1, "amount": 10.0, "label": "changed"}, {"id": 7, "amount": 7.0, "label": "new"}]
    frame = pd.DataFrame([*rows, last], dtype=object)  # a str column cannot hold a surrogate
    load_id = new_load()
    with pytest.raises(InvalidInput):
        sink.load(table, frame, key=KEY, load_id=load_id)
    assert sink.read(table) == BEFORE
    assert sink.load(table, pd.DataFrame(rows), key=KEY, load_id=load_id).applied


MALFORMED: dict[str, tuple[object, list[str]]] = {
    "not-a-frame": ([{"id": 1}], KEY),
    "key-as-text": (pd.DataFrame({"id": [1]}), cast("list[str]", "id")),
    "no-key": (pd.DataFrame({"id": [1]}), []),
    "key-not-in-frame": (pd.DataFrame({"id": [1]}), ["other"]),
    "key-repeated": (pd.DataFrame({"id": [1]}), ["id", "ID"]),
    "columns-repeated": (pd.DataFrame([[1, 2]], columns=["id", "id"]), KEY),
    "columns-differ-in-case": (pd.DataFrame([[1, 2]], columns=["id", "ID"]), KEY),
    "category": (pd.DataFrame({"id": [1], "c": pd.Categorical(["a"])}), KEY),
    "timedelta": (pd.DataFrame({"id": [1], "c": pd.to_timedelta([1], unit="s")}), KEY),
    "complex": (pd.DataFrame({"id": [1], "c": [1j]}), KEY),
    "nul-in-text": (pd.DataFrame({"id": [1], "c": pd.Series(["a\x00"], dtype="str")}), KEY),
    "infinity": (pd.DataFrame({"id": [1], "c": [float("-inf")]}), KEY),
    "text-and-number": (pd.DataFrame({"id": [1, 2], "c": ["a", 1]}), KEY),
    "bool-and-number": (pd.DataFrame({"id": [1, 2], "c": [True, 2]}), KEY),
    "list": (pd.DataFrame({"id": [1], "c": [[1]]}), KEY),
    "bytes": (pd.DataFrame({"id": [1], "c": [b"x"]}), KEY),
    "decimal": (pd.DataFrame({"id": [1], "c": [Decimal("1.5")]}), KEY),
    "uint64-over-int64": (pd.DataFrame({"id": [1], "c": pd.array([2**63], "uint64")}), KEY),
    "int-over-64-bits": (pd.DataFrame({"id": [1], "c": pd.Series([2**70], dtype=object)}), KEY),
}


@pytest.mark.parametrize(("frame", "key"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_load_is_refused_before_anything_is_written(
    sink: TableSink, frame: Any, key: list[str]
) -> None:
    name = new_table()
    with pytest.raises(InvalidInput):
        sink.load(name, frame, key=key, load_id=new_load())
    assert name not in sink.tables()


HOSTILE = [
    "", "1abc", "a-b", "a b", "a.b", 'q"uote', "t;DROP TABLE x", "naïve", "x" * 64, "tab\x00le",
    "_overlord_loads", "_OVERLORD_x", "sqlite_master", "SQLite_x", None, 7,
]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_a_table_name_that_is_not_a_plain_identifier_is_refused(
    sink: TableSink, table: str, name: Any
) -> None:
    before = sink.tables()
    frame = pd.DataFrame({"id": [1]})
    for call in (
        lambda: sink.load(name, frame, key=KEY, load_id=new_load()),
        lambda: sink.read(name),
        lambda: sink.drop(name),
    ):
        with pytest.raises(InvalidName):
            call()
    assert sink.tables() == before


@pytest.mark.parametrize("name", [n for n in HOSTILE[:10] if n], ids=repr)
def test_a_column_or_key_name_that_is_not_a_plain_identifier_is_refused(
    sink: TableSink, table: str, name: str
) -> None:
    with pytest.raises(InvalidName):
        sink.load(table, pd.DataFrame({"id": [3], name: [1]}), key=KEY, load_id=new_load())
    with pytest.raises(InvalidName):
        sink.load(table, pd.DataFrame({"id": [3]}), key=[name], load_id=new_load())
    assert sink.read(table) == BEFORE


@pytest.mark.parametrize("load_id", ["", "x" * 256, "a\x00", "tab\there", "\ud800", None, 7])
def test_a_load_id_is_printable_text_of_at_most_255_characters(
    sink: TableSink, load_id: Any
) -> None:
    name = new_table()
    with pytest.raises(InvalidInput):
        sink.load(name, pd.DataFrame({"id": [1]}), key=KEY, load_id=load_id)
    assert name not in sink.tables()
    longest = (new_load() + "é/ :" * 64)[:255]
    assert sink.load(name, pd.DataFrame({"id": [1]}), key=KEY, load_id=longest).applied


def test_a_load_id_belongs_to_one_table(sink: TableSink, table: str) -> None:
    load_id, other = new_load(), new_table()
    sink.load(table, pd.DataFrame({"id": [3]}), key=KEY, load_id=load_id)
    with pytest.raises(Conflict):
        sink.load(other, pd.DataFrame({"id": [3]}), key=KEY, load_id=load_id)
    assert other not in sink.tables()


def test_names_that_differ_only_in_case_are_one_name(sink: TableSink) -> None:
    name = f"Caps_{uuid.uuid4().hex[:20]}"
    sink.load(name, pd.DataFrame({"id": [1], "Amount": [1.0]}), key=KEY, load_id=new_load())
    for call in (
        lambda: sink.load(name.lower(), pd.DataFrame({"id": [2]}), key=KEY, load_id=new_load()),
        lambda: sink.read(name.lower()),
        lambda: sink.drop(name.upper()),
        lambda: sink.load(
            name, pd.DataFrame({"id": [2], "amount": [2.0]}), key=KEY, load_id=new_load()
        ),
        lambda: sink.load(name, pd.DataFrame({"ID": [2]}), key=["ID"], load_id=new_load()),
    ):
        with pytest.raises(Conflict):
            call()
    assert sink.read(name) == [{"id": 1, "Amount": 1.0}]
    assert [t for t in sink.tables() if t.lower() == name.lower()] == [name]


# reading, listing, dropping


def test_reading_a_missing_table_is_not_found_and_dropping_it_is_no_error(
    sink: TableSink,
) -> None:
    name = new_table()
    with pytest.raises(NotFound):
        sink.read(name)
    sink.drop(name)
    assert name not in sink.tables()


def test_tables_are_listed_sorted_without_the_sinks_own(sink: TableSink) -> None:
    second, first = sorted([new_table(), new_table()], reverse=True)
    for name in (second, first):
        sink.load(name, pd.DataFrame({"id": [1]}), key=KEY, load_id=new_load())
    listed = sink.tables()
    assert listed == sorted(listed)
    assert {first, second} <= set(listed)
    assert not [name for name in listed if name.lower().startswith(("_overlord", "sqlite_"))]


def test_dropping_a_table_forgets_its_loads_so_they_can_rebuild_it(
    sink: TableSink, table: str
) -> None:
    load_id = new_load()
    sink.load(table, pd.DataFrame({"id": [3], "label": ["x"]}), key=KEY, load_id=load_id)
    sink.drop(table)
    sink.drop(table)
    assert table not in sink.tables()
    with pytest.raises(NotFound):
        sink.read(table)
    again = sink.load(table, pd.DataFrame({"id": [3], "label": ["x"]}), key=KEY, load_id=load_id)
    assert again.applied
    assert sink.read(table) == [{"id": 3, "label": "x"}]


# replacing a partition


def _period_frame(period: date, ids: Sequence[int], amount: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": list(ids), "period": [period] * len(ids), "amount": [amount] * len(ids)},
        columns=["id", "period", "amount"],
    ).astype({"id": "int64", "period": object, "amount": "float64"})


MARCH, JUNE = date(2024, 3, 31), date(2024, 6, 30)
PERIOD_KEY = ["id", "period"]


def test_replace_removes_the_rows_a_partition_no_longer_holds(sink: TableSink) -> None:
    name = new_table()
    sink.load(name, _period_frame(MARCH, [1, 2, 3]), key=PERIOD_KEY, load_id=new_load())
    sink.load(name, _period_frame(JUNE, [1, 2]), key=PERIOD_KEY, load_id=new_load())
    again = _period_frame(MARCH, [2, 4], amount=9.0)
    result = sink.load(name, again, key=PERIOD_KEY, load_id=new_load(), replace={"period": MARCH})
    assert (result.applied, result.rows) == (True, 2)
    assert sink.read(name) == [
        {"id": 1, "period": JUNE, "amount": 1.0},
        {"id": 2, "period": MARCH, "amount": 9.0},
        {"id": 2, "period": JUNE, "amount": 1.0},
        {"id": 4, "period": MARCH, "amount": 9.0},
    ]


def test_replace_with_an_empty_frame_empties_the_partition(sink: TableSink) -> None:
    name = new_table()
    sink.load(name, _period_frame(MARCH, [1, 2]), key=PERIOD_KEY, load_id=new_load())
    sink.load(name, _period_frame(JUNE, [1]), key=PERIOD_KEY, load_id=new_load())
    empty = _period_frame(MARCH, [])
    sink.load(name, empty, key=PERIOD_KEY, load_id=new_load(), replace={"period": MARCH})
    assert sink.read(name) == [{"id": 1, "period": JUNE, "amount": 1.0}]


def test_replace_on_a_new_table_creates_it(sink: TableSink) -> None:
    name = new_table()
    frame = _period_frame(MARCH, [1])
    sink.load(name, frame, key=PERIOD_KEY, load_id=new_load(), replace={"period": MARCH})
    assert sink.read(name) == [{"id": 1, "period": MARCH, "amount": 1.0}]


def test_repeating_a_replacing_load_id_deletes_nothing(sink: TableSink) -> None:
    name, load_id = new_table(), new_load()
    frame = _period_frame(MARCH, [1, 2])
    first = sink.load(name, frame, key=PERIOD_KEY, load_id=load_id, replace={"period": MARCH})
    sink.load(name, _period_frame(MARCH, [3]), key=PERIOD_KEY, load_id=new_load())
    again = sink.load(name, frame, key=PERIOD_KEY, load_id=load_id, replace={"period": MARCH})
    assert (first.applied, again.applied) == (True, False)
    assert [row["id"] for row in sink.read(name)] == [1, 2, 3]


@pytest.mark.parametrize(
    "last",
    [
        {"id": 9, "period": MARCH, "amount": float("inf")},
        {"id": 2, "period": MARCH, "amount": 5.0},
    ],
    ids=["infinity", "repeated-key"],
)
def test_a_refused_replacing_load_leaves_the_table_as_it_was(
    sink: TableSink, last: dict[str, Any]
) -> None:
    name = new_table()
    sink.load(name, _period_frame(MARCH, [1, 2, 3]), key=PERIOD_KEY, load_id=new_load())
    before = sink.read(name)
    frame = pd.DataFrame([{"id": 2, "period": MARCH, "amount": 7.0}, last], dtype=object)
    load_id = new_load()
    with pytest.raises(InvalidInput):
        sink.load(name, frame, key=PERIOD_KEY, load_id=load_id, replace={"period": MARCH})
    assert sink.read(name) == before
    assert sink.load(name, frame.iloc[:1], key=PERIOD_KEY, load_id=load_id).applied


def test_a_replacing_load_of_the_wrong_type_is_a_conflict_and_changes_nothing(
    sink: TableSink,
) -> None:
    name = new_table()
    sink.load(name, _period_frame(MARCH, [1, 2]), key=PERIOD_KEY, load_id=new_load())
    frame = _period_frame(MARCH, [1]).assign(amount=["text"])
    with pytest.raises(Conflict):
        sink.load(name, frame, key=PERIOD_KEY, load_id=new_load(), replace={"period": MARCH})
    assert [row["id"] for row in sink.read(name)] == [1, 2]


BAD_REPLACE: dict[str, object] = {
    "empty": {},
    "not-a-mapping": [("period", MARCH)],
    "not-a-column": {"other": MARCH},
    "null": {"period": None},
    "wrong-type": {"period": "2024-03-31"},
    "a-row-outside": {"period": JUNE},
    "bad-name": {"per iod": MARCH},
}


@pytest.mark.parametrize("replace", list(BAD_REPLACE.values()), ids=list(BAD_REPLACE))
def test_a_malformed_replace_is_refused_before_anything_is_deleted(
    sink: TableSink, replace: Any
) -> None:
    name = new_table()
    sink.load(name, _period_frame(MARCH, [1, 2]), key=PERIOD_KEY, load_id=new_load())
    with pytest.raises((InvalidInput, InvalidName)):
        sink.load(
            name, _period_frame(MARCH, [1]), key=PERIOD_KEY, load_id=new_load(), replace=replace
        )
    assert [row["id"] for row in sink.read(name)] == [1, 2]


# concurrency


def _race(threads: int, work: Callable[[int], LoadResult]) -> list[LoadResult]:
    start = threading.Barrier(threads)
    results: list[LoadResult] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            results.append(work(i))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    return results


def test_concurrent_identical_loads_land_once(sink: TableSink) -> None:
    name, load_id = new_table(), new_load()
    frame = pd.DataFrame({"id": range(50), "n": range(50)})
    results = _race(4, lambda _: sink.load(name, frame, key=KEY, load_id=load_id))
    assert sorted(result.applied for result in results) == [False, False, False, True]
    assert len({result.loaded_at for result in results}) == 1
    assert sink.read(name) == [{"id": i, "n": i} for i in range(50)]


def test_concurrent_loads_into_one_new_table_all_land(sink: TableSink) -> None:
    name = new_table()

    def load(i: int) -> LoadResult:
        frame = pd.DataFrame({"id": [i, 10 + i], f"c{i}": [i, i]})
        return sink.load(name, frame, key=KEY, load_id=new_load())

    assert all(result.applied for result in _race(4, load))
    rows, ids = sink.read(name), [0, 1, 2, 3, 10, 11, 12, 13]
    assert [row["id"] for row in rows] == ids
    assert [row[f"c{i % 10}"] for row, i in zip(rows, ids, strict=True)] == [i % 10 for i in ids]


# generated


_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
_ROWS = st.lists(
    st.tuples(
        st.integers(0, 6),
        st.none() | st.floats(allow_nan=False, allow_infinity=False),
        st.none() | _TEXT,
    ),
    max_size=5,
    unique_by=lambda row: row[0],
)


def _frame(rows: list[tuple[int, float | None, str | None]]) -> pd.DataFrame:
    ids, amounts, labels = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype="int64"),
            "amount": pd.Series(amounts, dtype="float64"),
            "label": pd.Series(labels, dtype="str"),
        }
    )


@HYPOTHESIS
@given(loads=st.lists(_ROWS, min_size=1, max_size=4), order=st.lists(st.integers(0, 3), max_size=8))
def test_repeated_and_duplicated_loads_equal_each_distinct_load_once(
    sink: TableSink, loads: list[list[tuple[int, float | None, str | None]]], order: list[int]
) -> None:
    name = new_table()
    sequence = [0, *(i % len(loads) for i in order)]
    applied = [
        sink.load(name, _frame(loads[i]), key=KEY, load_id=f"{name}/{i}").applied for i in sequence
    ]
    expected: dict[int, Row] = {}
    for i in dict.fromkeys(sequence):
        for key, amount, label in loads[i]:
            expected[key] = {"id": key, "amount": amount, "label": label}
    assert applied == [i not in sequence[:at] for at, i in enumerate(sequence)]
    assert typed(sink.read(name)) == typed([expected[key] for key in sorted(expected)])


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


@HYPOTHESIS
@given(name=st.text(max_size=70).filter(lambda text: not _IDENTIFIER.fullmatch(text)))
def test_a_name_that_is_not_an_identifier_is_always_refused(
    sink: TableSink, table: str, name: str
) -> None:
    for call in (
        lambda: sink.load(name, pd.DataFrame({"id": [1]}), key=KEY, load_id=new_load()),
        lambda: sink.read(name),
        lambda: sink.drop(name),
        lambda: sink.load(table, pd.DataFrame({"id": [3], name: [1]}), key=KEY, load_id=new_load()),
        lambda: sink.load(table, pd.DataFrame({"id": [3]}), key=[name], load_id=new_load()),
    ):
        with pytest.raises(InvalidName):
            call()
    assert sink.read(table) == BEFORE


# databases: what only a look past the port can show


@pytest.fixture(params=sorted(SQL_URLS))
def database(request: pytest.FixtureRequest) -> Iterator[tuple[SqlTableSink, sa.Engine]]:
    url = SQL_URLS[request.param](request)
    sink, engine = SqlTableSink(url), sa.create_engine(url)
    yield sink, engine
    sink.close()
    engine.dispose()


def _ledger(engine: sa.Engine, load_id: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        query = 'SELECT "table", "rows" FROM "_overlord_loads" WHERE "load_id" = :id'
        return [tuple(row) for row in connection.execute(sa.text(query), {"id": load_id})]


def test_a_row_the_database_refuses_mid_load_rolls_the_whole_load_back(
    database: tuple[SqlTableSink, sa.Engine],
) -> None:
    sink, engine = database
    name, load_id = new_table(), new_load()
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f"CREATE TABLE {name} (id BIGINT NOT NULL PRIMARY KEY, "
                "amount DOUBLE PRECISION CHECK (amount >= 0))"
            )
        )
    sink.load(name, pd.DataFrame({"id": [1], "amount": [1.0]}), key=KEY, load_id=new_load())
    frame = pd.DataFrame({"id": [1, 2, 3], "amount": [10.0, 20.0, -1.0]})
    with pytest.raises(Conflict):
        sink.load(name, frame, key=KEY, load_id=load_id)
    assert sink.read(name) == [{"id": 1, "amount": 1.0}]
    assert _ledger(engine, load_id) == []
    fixed = frame.assign(amount=[10.0, 20.0, 30.0])
    assert sink.load(name, fixed, key=KEY, load_id=load_id).applied
    assert _ledger(engine, load_id) == [(name, 3)]


def test_the_ledger_holds_one_row_per_load_shared_by_every_sink_on_the_database(
    database: tuple[SqlTableSink, sa.Engine],
) -> None:
    sink, engine = database
    name, load_id = new_table(), new_load()
    other = SqlTableSink(engine.url.render_as_string(hide_password=False))
    try:
        frame = pd.DataFrame({"id": [1, 2]})
        results = _race(2, lambda i: (sink, other)[i].load(name, frame, key=KEY, load_id=load_id))
        assert sorted(result.applied for result in results) == [False, True]
        assert other.read(name) == [{"id": 1}, {"id": 2}]
        assert _ledger(engine, load_id) == [(name, 2)]
        other.drop(name)
        assert _ledger(engine, load_id) == []
    finally:
        other.close()


def test_a_row_the_database_refuses_after_a_replace_brings_the_deleted_rows_back(
    database: tuple[SqlTableSink, sa.Engine],
) -> None:
    sink, engine = database
    name, load_id = new_table(), new_load()
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f"CREATE TABLE {name} (id BIGINT NOT NULL, period DATE NOT NULL, "
                "amount DOUBLE PRECISION CHECK (amount >= 0), PRIMARY KEY (id, period))"
            )
        )
    sink.load(name, _period_frame(MARCH, [1, 2, 3]), key=PERIOD_KEY, load_id=new_load())
    frame = _period_frame(MARCH, [1, 5]).assign(amount=[1.0, -1.0])
    with pytest.raises(Conflict):
        sink.load(name, frame, key=PERIOD_KEY, load_id=load_id, replace={"period": MARCH})
    assert [row["id"] for row in sink.read(name)] == [1, 2, 3]
    assert _ledger(engine, load_id) == []


def test_a_table_made_elsewhere_with_other_sql_types_takes_loads(
    database: tuple[SqlTableSink, sa.Engine],
) -> None:
    """Columns of types the sink does not create (INTEGER, REAL, VARCHAR) still load: on
    PostgreSQL, COPY sends them as text for the server to convert."""
    sink, engine = database
    name = new_table()
    with engine.begin() as connection:
        connection.execute(
            sa.text(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, amount REAL, label VARCHAR(9))")
        )
    first = pd.DataFrame({"id": [1, 2], "amount": [1.5, None], "label": ["a", "b"]})
    sink.load(name, first, key=KEY, load_id=new_load())
    sink.load(name, first.assign(amount=[2.5, 0.5]), key=KEY, load_id=new_load())
    assert sink.read(name) == [
        {"id": 1, "amount": 2.5, "label": "a"},
        {"id": 2, "amount": 0.5, "label": "b"},
    ]


def test_sqlite_stores_each_value_as_text_sqlalchemy_would_have_bound(tmp_path: Any) -> None:
    """The SQLite adapter binds rows itself, not through SQLAlchemy's insert: what it stores
    must be byte for byte what SQLAlchemy stores for the same rows, or other clients (and
    comparisons in SQL) would see two formats in one table."""
    url = f"sqlite:///{tmp_path}/tables.sqlite3"
    sink, engine = SqlTableSink(url), sa.create_engine(url)
    try:
        name, twin = new_table(), new_table()
        frame = pd.DataFrame(
            {
                "id": [1, 2, 3],
                "day": [date(1, 2, 3), date(2026, 3, 31), None],
                "seen": pd.to_datetime(
                    ["2026-03-31", "1970-01-01 23:59:59.000007", None], format="ISO8601"
                ),
                "old": [datetime(999, 12, 31, 23, 59, 59, 7), None, datetime(2026, 1, 2)],
                "flag": [True, False, None],
                "amount": [1.0, None, 2.5],
            }
        )
        sink.load(name, frame, key=KEY, load_id=new_load())
        columns = sa.Table(name, sa.MetaData(), autoload_with=engine).columns
        copy = sa.Table(twin, sa.MetaData(), *(sa.Column(c.name, c.type) for c in columns))
        with engine.begin() as connection:
            copy.create(connection)
            connection.execute(sa.insert(copy), sink.read(name))
        stored = "SELECT id, day, seen, old, flag, amount, typeof(flag) FROM {} ORDER BY id"
        with engine.connect() as connection:
            ours = connection.exec_driver_sql(stored.format(name)).all()
            theirs = connection.exec_driver_sql(stored.format(twin)).all()
        assert ours == theirs
        assert ours[0][2] == "2026-03-31 00:00:00.000000"
    finally:
        sink.close()
        engine.dispose()
