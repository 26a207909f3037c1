"""Contract every Clock and IdFactory passes, then what the deterministic ones add for tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from overlord.adapters.memory.clock import FixedClock, SequentialIdFactory
from overlord.adapters.system import RandomIdFactory, SystemClock
from overlord.ports.clock import Clock, IdFactory

FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Clock]] = {
    "memory": lambda request: FixedClock(datetime(2024, 2, 29, 23, 59, 30, tzinfo=UTC)),
    "local": lambda request: SystemClock(),
}

ID_FACTORIES: dict[str, Callable[[pytest.FixtureRequest], IdFactory]] = {
    "memory": lambda request: SequentialIdFactory(),
    "local": lambda request: RandomIdFactory(),
}

_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(params=sorted(FACTORIES))
def clock(request: pytest.FixtureRequest) -> Clock:
    return FACTORIES[request.param](request)


@pytest.fixture(params=sorted(ID_FACTORIES))
def ids(request: pytest.FixtureRequest) -> IdFactory:
    return ID_FACTORIES[request.param](request)


def test_now_is_aware_utc(clock: Clock) -> None:
    now = clock.now()

    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_now_never_goes_back(clock: Clock) -> None:
    readings = [clock.now() for _ in range(100)]

    assert readings == sorted(readings)


def test_ids_are_32_lowercase_hex_characters(ids: IdFactory) -> None:
    for _ in range(10):
        assert _ID.fullmatch(ids.new_id())


def test_ids_are_unique(ids: IdFactory) -> None:
    assert len({ids.new_id() for _ in range(1000)}) == 1000


def test_a_fixed_clock_moves_only_when_advanced() -> None:
    clock = FixedClock(datetime(2024, 2, 29, 23, 59, 30, tzinfo=UTC))

    assert clock.now() == clock.now() == datetime(2024, 2, 29, 23, 59, 30, tzinfo=UTC)
    clock.advance(45.5)
    assert clock.now() == datetime(2024, 3, 1, 0, 0, 15, 500000, tzinfo=UTC)


def test_a_fixed_clock_reports_utc_whatever_zone_it_started_in() -> None:
    start = datetime(2024, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    now = FixedClock(start).now()

    assert now == start
    assert now.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "action",
    [
        lambda: FixedClock(datetime(2024, 1, 1)),
        lambda: FixedClock(datetime(2024, 1, 1, tzinfo=UTC)).advance(-1),
    ],
    ids=["naive-start", "backwards"],
)
def test_a_fixed_clock_refuses_naive_times_and_going_back(action: Callable[[], None]) -> None:
    with pytest.raises(ValueError, match=r"aware|cannot go back"):
        action()


def test_sequential_ids_count_up_from_one() -> None:
    ids = SequentialIdFactory()

    assert [ids.new_id() for _ in range(3)] == [f"{n:032x}" for n in (1, 2, 3)]
    assert SequentialIdFactory().new_id() == "0" * 31 + "1"
