"""Windows split into requests that cover them exactly; the cursor only moves forward."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.errors import InvalidInput
from overlord.domain.records import flatten
from overlord.domain.windows import (
    Window,
    cadence_window,
    instant_text,
    moved_cursor,
    parse_instant,
)

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    start=instants,
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30)),
    span=st.timedeltas(min_value=timedelta(minutes=5), max_value=timedelta(days=2)),
)
def test_a_split_covers_the_window_exactly_in_spans_no_wider_than_asked(
    start: datetime, length: timedelta, span: timedelta
) -> None:
    window = Window(start, start + length)
    parts = window.split(span)

    assert parts[0].start == window.start
    assert parts[-1].end == window.end
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))
    assert all(p.end - p.start <= span for p in parts)


@given(cursor=st.one_of(st.none(), instants), start=instants, length=st.integers(1, 10**7))
def test_the_cursor_never_moves_back(cursor: datetime | None, start: datetime, length: int) -> None:
    landed = Window(start, start + timedelta(seconds=length))
    moved = moved_cursor(cursor, landed)

    assert cursor is None or moved >= cursor
    assert moved >= landed.end or (cursor is not None and moved == cursor)


def test_a_cadence_window_runs_from_the_cursor_to_now_and_refuses_an_empty_one() -> None:
    now = T0 + timedelta(minutes=7, microseconds=5)
    assert str(cadence_window(T0, now, timedelta(hours=1))) == (
        "2026-01-05T06:00:00Z/2026-01-05T06:07:00Z"
    )
    assert cadence_window(None, now, timedelta(hours=1)).start == T0 + timedelta(minutes=-53)
    with pytest.raises(InvalidInput, match="landed up to 2026-01-05T06:07:00Z already"):
        cadence_window(T0 + timedelta(minutes=7), now, timedelta(hours=1))


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-01-05T07:00:00Z", "2026-01-05T06:00:00Z", "before it starts"),
        ("yesterday", "2026-01-05T06:00:00Z", "start 'yesterday'"),
        ("2026-01-05T06:00:00Z", 5, "end: expected an ISO 8601 time"),
        # An offset that carries the time past year 9999 or before year 1.
        ("2026-01-05T06:00:00Z", "9999-12-31T23:59:59-01:00", "end '9999-12-31T23:59:59"),
        ("0001-01-01T00:30:00+01:00", "2026-01-05T06:00:00Z", "start '0001-01-01"),
        ("0999-12-31T00:00:00Z", "2026-01-05T06:00:00Z", "between 1000 and 9998"),
        ("2026-01-05T06:00:00Z", "9999-01-01T00:00:00Z", "between 1000 and 9998"),
        # Within one second: the window its payload spells (whole seconds) would be empty.
        ("2026-01-05T06:00:00.25Z", "2026-01-05T06:00:00.75Z", "before it starts"),
    ],
)
def test_a_bad_window_is_refused(start: object, end: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Window.of(start, end)


@given(moment=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9998, 12, 31)))
def test_an_instant_reads_back_as_it_is_spelled_and_its_window_from_its_name(
    moment: datetime,
) -> None:
    start = parse_instant(instant_text(moment.replace(tzinfo=UTC)), "start")
    window = Window(start, start + timedelta(hours=1))

    assert start == moment.replace(tzinfo=UTC, microsecond=0)
    assert Window.from_name(window.name) == window


def test_times_without_an_offset_are_utc_and_names_are_stable() -> None:
    window = Window.of("2026-01-05T06:00:00", "2026-01-05T08:00:00+01:00")
    assert instant_text(window.start) == "2026-01-05T06:00:00Z"
    assert window.name == "20260105T060000Z-20260105T070000Z"


def test_records_flatten_to_the_same_columns_whatever_they_hold() -> None:
    assert flatten({"a": {"b": [1, 2]}, "c d": {}, "e": None}) == {
        "a_b": "[1, 2]",
        "c_d": "{}",
        "e": None,
    }
    with pytest.raises(InvalidInput):
        flatten([1])  # type: ignore[arg-type]
