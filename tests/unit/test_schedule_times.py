"""When schedules fire: the pure next-fire arithmetic, by example and by property."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overlord.domain.errors import InvalidInput, InvalidTemplate
from overlord.domain.schedule_times import check_supported, next_fire_time

NEW_YORK = "America/New_York"


def at(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    zone: str = "UTC",
) -> datetime:
    """An instant given as wall-clock time in ``zone``, returned in UTC."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def fires(expression: str, zone: str, after: datetime, count: int) -> list[datetime]:
    found: list[datetime] = []
    for _ in range(count):
        following = next_fire_time(expression, zone, after)
        assert following is not None
        found.append(following)
        after = following
    return found


# Examples


def test_a_rate_fires_one_interval_of_elapsed_time_later_even_across_dst() -> None:
    before_spring_forward = at(2024, 3, 9, 12, 0, zone=NEW_YORK)

    assert next_fire_time("rate(1 day)", NEW_YORK, before_spring_forward) == (
        before_spring_forward + timedelta(hours=24)
    )


def test_every_fifteen_minutes_on_weekdays_skips_the_weekend() -> None:
    friday_evening = at(2024, 6, 7, 17, 50)

    assert fires("cron(0/15 9-17 ? * MON-FRI *)", "UTC", friday_evening, 3) == [
        at(2024, 6, 10, 9, 0),
        at(2024, 6, 10, 9, 15),
        at(2024, 6, 10, 9, 30),
    ]


def test_cron_is_evaluated_on_the_schedules_wall_clock() -> None:
    assert next_fire_time("cron(0 9 * * ? *)", "Asia/Kolkata", at(2024, 1, 1)) == at(
        2024, 1, 1, 3, 30
    )


def test_a_time_the_wall_clock_skips_in_spring_does_not_fire() -> None:
    assert fires("cron(30 2 * * ? *)", NEW_YORK, at(2024, 3, 9, 12, 0), 2) == [
        at(2024, 3, 11, 2, 30, zone=NEW_YORK),
        at(2024, 3, 12, 2, 30, zone=NEW_YORK),
    ]


def test_a_time_the_wall_clock_repeats_in_autumn_fires_once() -> None:
    assert fires("cron(0 * * * ? *)", NEW_YORK, at(2024, 11, 3, 4, 30), 3) == [
        at(2024, 11, 3, 5, 0),  # 01:00 EDT; 01:00 EST, an hour later, is the same wall time
        at(2024, 11, 3, 7, 0),  # 02:00 EST
        at(2024, 11, 3, 8, 0),
    ]


def test_the_next_fire_is_strictly_after_a_fire_time() -> None:
    assert next_fire_time("cron(0 12 * * ? *)", "UTC", at(2024, 5, 1, 12, 0)) == at(
        2024, 5, 2, 12, 0
    )


def test_names_lists_and_day_of_month_work_together() -> None:
    assert fires("cron(0 0 1,15 JAN,JUL ? *)", "UTC", at(2024, 1, 20), 3) == [
        at(2024, 7, 1),
        at(2024, 7, 15),
        at(2025, 1, 1),
    ]


def test_no_fire_is_left_once_the_years_are_past() -> None:
    assert next_fire_time("cron(0 0 1 1 ? 2020-2022)", "UTC", at(2022, 1, 1)) is None
    assert next_fire_time("cron(0 0 30 2 ? *)", "UTC", at(2024, 1, 1)) is None


@pytest.mark.parametrize(
    ("expression", "after", "fires_at"),
    [
        ("cron(0 9 L * ? *)", at(2024, 2, 1), at(2024, 2, 29, 9)),  # leap year
        ("cron(0 9 15W * ? *)", at(2024, 6, 1), at(2024, 6, 14, 9)),  # the 15th is a Saturday
        ("cron(0 9 1W * ? *)", at(2024, 8, 2), at(2024, 9, 2, 9)),  # Sunday the 1st: Monday
        ("cron(0 9 1W * ? *)", at(2024, 5, 2), at(2024, 6, 3, 9)),  # Saturday the 1st: Monday
        ("cron(0 9 31W * ? *)", at(2024, 4, 1), at(2024, 5, 31, 9)),  # April has no 31st
        ("cron(0 9 LW * ? *)", at(2024, 8, 1), at(2024, 8, 30, 9)),  # the 31st is a Saturday
        ("cron(0 9 ? * 6#3 *)", at(2024, 6, 1), at(2024, 6, 21, 9)),  # third Friday
        ("cron(0 9 ? * 2#5 *)", at(2024, 6, 1), at(2024, 7, 29, 9)),  # June has 4 Mondays
        ("cron(0 9 ? * 6L *)", at(2024, 6, 1), at(2024, 6, 28, 9)),  # last Friday
        ("cron(0 9 ? * FRIL *)", at(2024, 6, 1), at(2024, 6, 28, 9)),
        ("cron(0 9 ? * L *)", at(2024, 6, 3), at(2024, 6, 8, 9)),  # L alone: Saturday
    ],
)
def test_last_weekday_and_nth_day_rules_fire_on_the_day_eventbridge_picks(
    expression: str, after: datetime, fires_at: datetime
) -> None:
    assert next_fire_time(expression, "UTC", after) == fires_at


def test_a_one_time_schedule_fires_once_on_its_wall_clock() -> None:
    expression = "at(2026-03-01T09:30:00)"
    first = at(2026, 3, 1, 9, 30, zone=NEW_YORK)

    assert next_fire_time(expression, NEW_YORK, at(2026, 1, 1)) == first
    assert next_fire_time(expression, NEW_YORK, first) is None


@pytest.mark.parametrize(
    "expression",
    [
        "cron(60 9 * * ? *)",
        "cron(0 9 * 13 ? *)",
        "cron(0 9 ? * 8 *)",
        "cron(0 9-5 * * ? *)",
        "cron(0 9 L-2 * ? *)",
        "at(2026-02-30T09:00:00)",
    ],
)
def test_out_of_range_cron_fields_are_refused(expression: str) -> None:
    with pytest.raises(InvalidTemplate):
        next_fire_time(expression, "UTC", at(2024, 1, 1))


def test_a_naive_after_is_refused() -> None:
    with pytest.raises(InvalidInput):
        next_fire_time("rate(1 hour)", "UTC", datetime(2024, 1, 1))


def test_days_of_the_week_count_from_sunday_as_in_eventbridge() -> None:
    sunday = at(2024, 6, 9)

    assert next_fire_time("cron(0 0 ? * 1 *)", "UTC", at(2024, 6, 3)) == sunday
    assert next_fire_time("cron(0 0 ? * SUN *)", "UTC", at(2024, 6, 3)) == sunday


# Properties: a field is drawn as cron text together with the set of values it means.

ZONES = ["UTC", NEW_YORK, "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"]
Field = tuple[str, frozenset[int]]


def field(
    low: int,
    high: int,
    names: dict[int, str] | None = None,
    mostly_any: bool = False,
    steps: bool = True,
) -> st.SearchStrategy[Field]:
    """Cron text for one field with the values it means; ``mostly_any`` favours ``*`` so that
    the other fields decide, and fires come often enough to check every minute between them.
    Day-of-week takes no steps (``steps=False``), as in EventBridge."""
    value = st.integers(low, high)

    def show(number: int, use_name: bool) -> str:
        return names[number] if names and use_name else str(number)

    star = st.just(("*", frozenset(range(low, high + 1))))
    single = st.builds(lambda v, n: (show(v, n), frozenset({v})), value, st.booleans())
    ranged = st.builds(
        lambda a, b, n: (
            f"{show(min(a, b), n)}-{show(max(a, b), n)}",
            frozenset(range(min(a, b), max(a, b) + 1)),
        ),
        value,
        value,
        st.booleans(),
    )
    stepped = st.builds(
        lambda a, s: (f"{a}/{s}", frozenset(range(a, high + 1, s))),
        value,
        st.integers(1, min(20, high)),  # EventBridge takes steps up to the field's top value
    )
    kinds = [star, single, ranged, stepped] if steps else [star, single, ranged]
    parts = st.lists(st.one_of(*kinds), min_size=1, max_size=3).map(
        lambda parts: (",".join(t for t, _ in parts), frozenset().union(*(v for _, v in parts)))
    )
    return st.one_of(star, star, star, parts) if mostly_any else parts


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTH_NAMES = dict(enumerate(MONTHS, start=1))
DAY_NAMES = dict(enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1))
ANY: Field = ("?", frozenset())


@st.composite
def crons(draw: st.DrawFn) -> tuple[str, Callable[[datetime], bool]]:
    minutes, hours = draw(field(0, 59)), draw(field(0, 23))
    months = draw(field(1, 12, MONTH_NAMES, mostly_any=True))
    by_week = draw(st.booleans())
    dom = ANY if by_week else draw(field(1, 31, mostly_any=True))
    dow = draw(field(1, 7, DAY_NAMES, mostly_any=True, steps=False)) if by_week else ANY
    years = draw(
        st.sampled_from(
            [("*", frozenset(range(1970, 2200))), ("2000-2045", frozenset(range(2000, 2046)))]
        )
    )
    text = f"cron({minutes[0]} {hours[0]} {dom[0]} {months[0]} {dow[0]} {years[0]})"

    def matches(wall: datetime) -> bool:
        day_ok = wall.isoweekday() % 7 + 1 in dow[1] if by_week else wall.day in dom[1]
        return (
            wall.minute in minutes[1]
            and wall.hour in hours[1]
            and wall.month in months[1]
            and wall.year in years[1]
            and day_ok
        )

    return text, matches


@functools.cache
def transitions(name: str) -> tuple[datetime, ...]:
    """The instants at which ``name`` changes its UTC offset, 2020-2030."""
    zone, moment, found = ZoneInfo(name), datetime(2020, 1, 1, tzinfo=UTC), []
    step = timedelta(hours=6)
    while moment.year < 2031:
        if moment.astimezone(zone).utcoffset() != (moment + step).astimezone(zone).utcoffset():
            offset, low, high = moment.astimezone(zone).utcoffset(), 0, 6 * 60
            while high - low > 1:
                middle = (low + high) // 2
                later = (moment + timedelta(minutes=middle)).astimezone(zone).utcoffset()
                low, high = (middle, high) if later == offset else (low, middle)
            found.append(moment + timedelta(minutes=high))
        moment += step
    return tuple(found)


plain_moments = st.datetimes(datetime(2000, 1, 1), datetime(2040, 12, 31)).map(
    lambda moment: moment.replace(tzinfo=UTC)
)


def moments_in(name: str) -> st.SearchStrategy[datetime]:
    """Any moment, or one near a daylight-saving change of the zone, where bugs hide."""
    if not transitions(name):
        return plain_moments
    near = st.builds(
        lambda moment, minutes: moment + timedelta(minutes=minutes),
        st.sampled_from(transitions(name)),
        st.integers(-3 * 60, 2 * 60),
    )
    return st.one_of(plain_moments, near, near)


zoned_moments = st.sampled_from(ZONES).flatmap(
    lambda name: st.tuples(st.just(name), moments_in(name))
)


def is_fire(instant: datetime, zone: ZoneInfo, matches: Callable[[datetime], bool]) -> bool:
    """The independent oracle: the wall time matches and is its first occurrence."""
    local = instant.astimezone(zone)
    return local.fold == 0 and local.second == 0 and matches(local.replace(tzinfo=None))


def check_next_fire(
    expression: str, matches: Callable[[datetime], bool], zone_name: str, after: datetime
) -> None:
    """The next fire is strictly after, a fire by the oracle, and no fire comes between
    (checked minute by minute for up to two days)."""
    zone = ZoneInfo(zone_name)

    following = next_fire_time(expression, zone_name, after)

    window_end = after + timedelta(days=2)
    if following is not None:
        assert following > after
        assert following.utcoffset() == timedelta(0)
        assert is_fire(following, zone, matches)
        window_end = min(window_end, following)
    probe = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while probe < window_end:
        assert not is_fire(probe, zone, matches), f"{probe} was skipped"
        probe += timedelta(minutes=1)


@settings(max_examples=200, deadline=None)
@given(crons(), zoned_moments)
def test_the_next_cron_fire_is_the_first_matching_instant_after(
    cron: tuple[str, Callable[[datetime], bool]], zoned: tuple[str, datetime]
) -> None:
    check_next_fire(*cron, *zoned)


@st.composite
def around_a_clock_change(
    draw: st.DrawFn,
) -> tuple[str, Callable[[datetime], bool], str, datetime]:
    """A daily cron whose hours include a wall-clock hour that a DST change skips or repeats,
    and a moment shortly before or after that change."""
    name = draw(st.sampled_from([zone for zone in ZONES if transitions(zone)]))
    change = draw(st.sampled_from(transitions(name)))
    old_offset = (change - timedelta(minutes=1)).astimezone(ZoneInfo(name)).utcoffset()
    assert old_offset is not None
    changing_hours = {(change + old_offset).hour, change.astimezone(ZoneInfo(name)).hour}
    minutes = draw(field(0, 59))
    hours = draw(st.sets(st.sampled_from(sorted(changing_hours)), min_size=1))
    hours |= draw(st.sets(st.integers(0, 23), max_size=3))
    expression = f"cron({minutes[0]} {','.join(map(str, sorted(hours)))} * * ? *)"
    after = change + timedelta(minutes=draw(st.integers(-150, 90)))

    def matches(wall: datetime) -> bool:
        return wall.minute in minutes[1] and wall.hour in hours

    return expression, matches, name, after


@settings(max_examples=200, deadline=None)
@given(around_a_clock_change())
def test_around_a_clock_change_the_next_fire_is_the_first_matching_instant_after(
    case: tuple[str, Callable[[datetime], bool], str, datetime],
) -> None:
    check_next_fire(*case)


@given(
    st.integers(1, 999).flatmap(
        lambda n: st.sampled_from(
            [f"rate({n} {u}{'s' if n > 1 else ''})" for u in ("minute", "hour", "day")]
        )
    ),
    zoned_moments,
)
def test_a_rate_fires_exactly_one_interval_after(
    expression: str, zoned: tuple[str, datetime]
) -> None:
    zone, after = zoned
    following = next_fire_time(expression, zone, after)

    assert following is not None
    assert following > after
    count, unit = expression[5:-1].split(" ")
    seconds = {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
    assert following - after == timedelta(seconds=int(count) * seconds)


# Properties of the day rules: each is checked against a plain reading of its definition.


def month_days(year: int, month: int) -> list[date]:
    days, day = [], date(year, month, 1)
    while day.month == month:
        days.append(day)
        day += timedelta(days=1)
    return days


def eventbridge_day(day: date) -> int:
    return day.isoweekday() % 7 + 1  # 1 Sunday ... 7 Saturday


def picked_days(rule: str, year: int, month: int) -> set[int]:
    """The days of the month ``rule`` (a day field's text) means, from its definition."""
    days = month_days(year, month)
    weekdays = [d.day for d in days if d.isoweekday() <= 5]
    if rule == "L":
        return {days[-1].day}
    if rule == "LW":
        return {weekdays[-1]}
    if rule.endswith("W"):
        target = int(rule[:-1])
        if target > len(days):
            return set()
        return {min(weekdays, key=lambda d: abs(d - target))}
    if rule.endswith("L"):  # day-of-week nL: the month's last such day
        return {max(d.day for d in days if eventbridge_day(d) == int(rule[:-1]))}
    weekday, nth = map(int, rule.split("#"))
    same = [d.day for d in days if eventbridge_day(d) == weekday]
    return {same[nth - 1]} if nth <= len(same) else set()


day_rules = st.one_of(
    st.sampled_from([("dom", "L"), ("dom", "LW")]),
    st.integers(1, 31).map(lambda n: ("dom", f"{n}W")),
    st.integers(1, 7).map(lambda n: ("dow", f"{n}L")),
    st.builds(lambda n, k: ("dow", f"{n}#{k}"), st.integers(1, 7), st.integers(1, 5)),
)


@settings(max_examples=300, deadline=None)
@given(rule=day_rules, year=st.integers(1990, 2100), month=st.integers(1, 12))
def test_a_day_rule_fires_on_exactly_the_days_its_definition_picks(
    rule: tuple[str, str], year: int, month: int
) -> None:
    where, text = rule
    dom, dow = (text, "?") if where == "dom" else ("?", text)
    expression = f"cron(0 12 {dom} {month} {dow} {year})"

    fired: set[int] = set()
    moment: datetime | None = at(year, month, 1)
    while (moment := next_fire_time(expression, "UTC", moment)) is not None:
        assert (moment.year, moment.month, moment.hour, moment.minute) == (year, month, 12, 0)
        fired.add(moment.day)

    assert fired == picked_days(text, year, month)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["*", "?", "L", "W", "#", "/", "-", ",", "1", "5", "7", "MON"]),
        min_size=1,
        max_size=3,
    )
    .map("".join)
    .flatmap(lambda a: st.tuples(st.just(a), st.sampled_from(["?", "*", "1", "MON"])))
)
def test_every_expression_that_validates_is_computed_by_the_local_scheduler(
    fields: tuple[str, str],
) -> None:
    for expression in (
        f"cron(0 0 {fields[0]} * {fields[1]} *)",
        f"cron(0 0 {fields[1]} * {fields[0]} *)",
    ):
        try:
            check_supported(expression, "UTC")
        except InvalidTemplate:
            continue
        next_fire_time(expression, "UTC", at(2024, 1, 1))
