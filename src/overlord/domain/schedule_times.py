"""When a schedule fires next, computed the way EventBridge Scheduler computes it.

The local scheduler has no AWS to ask, so it does this arithmetic itself. Keeping it pure lets it
be tested exhaustively and keeps local firing times equal to the AWS ones, daylight saving
included: a cron time that does not exist on the wall clock (spring forward) is skipped, and a
time that occurs twice (fall back) fires once, at its first occurrence. A ``rate(...)`` interval is
elapsed time, so ``rate(1 day)`` is always 24 hours; an ``at(...)`` time fires once.

Every expression `overlord.domain.expressions` accepts is computed here, ``L``, ``W`` and ``#``
included (`overlord.domain.cron` reads them), so a template that parses runs on every profile.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from overlord.domain.cron import CronExpression, parse_cron
from overlord.domain.errors import InvalidInput
from overlord.domain.expressions import (
    at_time,
    rate_interval,
    validate_schedule_expression,
    validate_timezone,
)


def wall_times_from(cron: CronExpression, start: datetime) -> Iterator[datetime]:
    """Every matching naive wall-clock minute at or after naive ``start``, in order."""
    first_day = start.date()
    for year in cron.years:
        if year < start.year:
            continue
        for month in cron.months:
            if (year, month) < (start.year, start.month):
                continue
            last_day = calendar.monthrange(year, month)[1]
            for day_number in range(1, last_day + 1):
                day = date(year, month, day_number)
                if day < first_day or not cron.days.matches(day, last_day):
                    continue
                for hour in cron.hours:
                    for minute in cron.minutes:
                        moment = datetime(year, month, day_number, hour, minute)
                        if moment >= start:
                            yield moment


def next_cron_time(cron: CronExpression, after: datetime, zone: ZoneInfo) -> datetime | None:
    """The first firing instant strictly after aware ``after``, in UTC; None if none is left."""
    after_utc = after.astimezone(UTC)
    start = after_utc.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)
    for wall in wall_times_from(cron, start):
        instant = wall.replace(tzinfo=zone).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) != wall:
            continue  # not on the wall clock (spring forward): EventBridge skips it too
        if instant > after_utc:
            return instant
    return None


def check_supported(expression: str, timezone: str) -> None:
    """Raise `InvalidTemplate` unless the local scheduler can compute this schedule's times,
    which is exactly when EventBridge Scheduler would take them."""
    validate_timezone(timezone)
    validate_schedule_expression(expression)


def next_fire_time(expression: str, timezone: str, after: datetime) -> datetime | None:
    """The first time strictly after ``after`` at which the schedule fires, as aware UTC.

    None when a cron expression's years are all past, or an ``at(...)`` time has passed.

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
    zone = ZoneInfo(timezone)
    once = at_time(expression)
    if once is not None:
        instant = once.replace(tzinfo=zone).astimezone(UTC)
        return instant if instant > after else None
    return next_cron_time(parse_cron(expression), after, zone)
