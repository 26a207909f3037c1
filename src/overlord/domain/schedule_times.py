"""When a recurring schedule fires next, computed the way EventBridge Scheduler computes it.

The local scheduler has no AWS to ask, so it does this arithmetic itself. Keeping it pure lets it
be tested exhaustively and keeps local firing times equal to the AWS ones, daylight saving
included: a cron time that does not exist on the wall clock (spring forward) is skipped, and a
time that occurs twice (fall back) fires once, at its first occurrence. A ``rate(...)`` interval is
elapsed time, so ``rate(1 day)`` is always 24 hours.

Supported cron subset: numbers and names (``JAN``, ``MON``), ``*``, ``?``, lists, ranges and
steps; ``L``, ``W`` and ``#`` are refused with a clear error.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from overlord.domain.errors import InvalidInput, InvalidTemplate
from overlord.domain.expressions import (
    rate_interval,
    validate_schedule_expression,
    validate_timezone,
)

# Spelled out rather than taken from `calendar`, whose names follow the process locale.
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_DAYS = {
    name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)
}
_VALUE = r"(\d{1,4}|[A-Za-z]{3})"
_PART = re.compile(rf"^(?:(\*)|{_VALUE}(?:-{_VALUE})?)(?:/(\d{{1,4}}))?$")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_MINUTE = _Field("minutes", 0, 59, {})
_HOUR = _Field("hours", 0, 23, {})
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, {})
_MONTH = _Field("month", 1, 12, _MONTHS)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, _DAYS)
_YEAR = _Field("year", 1970, 2199, {})


def _value(expression: str, spec: _Field, text: str) -> int:
    value = spec.names.get(text.upper()) if not text.isdigit() else int(text)
    if value is None or not spec.low <= value <= spec.high:
        raise InvalidTemplate(
            f"expression {expression!r}: {spec.name} value {text!r} is outside "
            f"{spec.low}-{spec.high}"
        )
    return value


def _parse_field(expression: str, spec: _Field, text: str) -> tuple[int, ...]:
    values: set[int] = set()
    for part in text.split(","):
        match = _PART.fullmatch(part)
        if not match and any(marker in part for marker in "LW#"):
            raise InvalidTemplate(
                f"expression {expression!r}: {spec.name} {part!r} uses 'L', 'W' or '#', "
                "which the local scheduler does not support"
            )
        if not match:
            raise InvalidTemplate(f"expression {expression!r}: cannot read {spec.name} {part!r}")
        star, first, last, step = match.groups()
        if star:
            low, high = spec.low, spec.high
        else:
            low = _value(expression, spec, first)
            # "5/15" runs from 5 to the end of the field; "5" alone is just 5.
            high = spec.high if step and not last else low
            if last:
                high = _value(expression, spec, last)
        if low > high:
            raise InvalidTemplate(f"expression {expression!r}: {spec.name} range {part!r} is empty")
        stride = int(step) if step else 1
        if stride < 1:
            raise InvalidTemplate(f"expression {expression!r}: {spec.name} step must be >= 1")
        values.update(range(low, high + 1, stride))
    return tuple(sorted(values))


def _day_of_week(day: date) -> int:
    """EventBridge numbers days 1 (Sunday) to 7 (Saturday)."""
    return day.isoweekday() % 7 + 1


@dataclass(frozen=True)
class CronExpression:
    """A parsed 6-field EventBridge cron expression; ``None`` stands for ``?`` (any day)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: tuple[int, ...] | None
    months: tuple[int, ...]
    days_of_week: tuple[int, ...] | None
    years: tuple[int, ...]

    @classmethod
    def parse(cls, expression: str) -> CronExpression:
        """Parse ``cron(minutes hours day-of-month month day-of-week year)``.

        >>> CronExpression.parse("cron(0/20 9 ? * MON-FRI *)").minutes
        (0, 20, 40)
        """
        return _parse_cron(expression)

    def day_matches(self, day: date) -> bool:
        return (self.days_of_month is None or day.day in self.days_of_month) and (
            self.days_of_week is None or _day_of_week(day) in self.days_of_week
        )

    def wall_times_from(self, start: datetime) -> Iterator[datetime]:
        """Every matching naive wall-clock minute at or after naive ``start``, in order."""
        first_day = start.date()
        for year in self.years:
            if year < start.year:
                continue
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day_number in range(1, calendar.monthrange(year, month)[1] + 1):
                    day = date(year, month, day_number)
                    if day < first_day or not self.day_matches(day):
                        continue
                    for hour in self.hours:
                        for minute in self.minutes:
                            moment = datetime(year, month, day_number, hour, minute)
                            if moment >= start:
                                yield moment

    def next_after(self, after: datetime, zone: ZoneInfo) -> datetime | None:
        """The first firing instant strictly after aware ``after``, in UTC; None if none is left."""
        after_utc = after.astimezone(UTC)
        start = after_utc.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)
        for wall in self.wall_times_from(start):
            instant = wall.replace(tzinfo=zone).astimezone(UTC)
            if instant.astimezone(zone).replace(tzinfo=None) != wall:
                continue  # not on the wall clock (spring forward): EventBridge skips it too
            if instant > after_utc:
                return instant
        return None


@functools.lru_cache(maxsize=256)
def _parse_cron(expression: str) -> CronExpression:
    validate_schedule_expression(expression)
    if rate_interval(expression) is not None:
        raise InvalidTemplate(f"expression {expression!r} is a rate, not a cron expression")
    minutes, hours, dom, month, dow, year = expression[len("cron(") : -1].split(" ")
    return CronExpression(
        minutes=_parse_field(expression, _MINUTE, minutes),
        hours=_parse_field(expression, _HOUR, hours),
        days_of_month=None if dom == "?" else _parse_field(expression, _DAY_OF_MONTH, dom),
        months=_parse_field(expression, _MONTH, month),
        days_of_week=None if dow == "?" else _parse_field(expression, _DAY_OF_WEEK, dow),
        years=_parse_field(expression, _YEAR, year),
    )


def check_supported(expression: str, timezone: str) -> None:
    """Raise `InvalidTemplate` unless the local scheduler can compute this schedule's times."""
    validate_timezone(timezone)
    validate_schedule_expression(expression)
    if rate_interval(expression) is None:
        _parse_cron(expression)


def next_fire_time(expression: str, timezone: str, after: datetime) -> datetime | None:
    """The first time strictly after ``after`` at which the schedule fires, as aware UTC.

    None when a cron expression's years are all past.

    >>> start = datetime(2024, 3, 9, 12, 0, tzinfo=UTC)
    >>> next_fire_time("cron(30 2 * * ? *)", "America/New_York", start).isoformat()
    '2024-03-11T06:30:00+00:00'
    """
    if after.utcoffset() is None:
        raise InvalidInput(f"{after.isoformat()} has no timezone; schedule times need one")
    check_supported(expression, timezone)
    interval = rate_interval(expression)
    if interval is not None:
        return after.astimezone(UTC) + interval
    return _parse_cron(expression).next_after(after, ZoneInfo(timezone))
