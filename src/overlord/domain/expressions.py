"""Schedule expressions and timezones, checked as EventBridge Scheduler would check them.

Validating here keeps the local scheduler and the AWS one in agreement: an expression that
passes runs on both. The three kinds are EventBridge Scheduler's: ``rate(...)`` and
``cron(...)`` recur, ``at(yyyy-mm-ddThh:mm:ss)`` fires once, on the schedule's wall clock.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from overlord.domain.cron import parse_cron
from overlord.domain.errors import InvalidTemplate

# [0-9], not \d: \d also matches other scripts' digits, which EventBridge refuses.
_RATE = re.compile(r"rate\(([0-9]{1,6}) (minute|minutes|hour|hours|day|days)\)")
_AT = re.compile(r"at\(([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\)")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_KINDS = "expected 'rate(N minutes|hours|days)', 'cron(...)' or 'at(yyyy-mm-ddThh:mm:ss)'"


def rate_interval(expression: str) -> timedelta | None:
    """The interval of a ``rate(...)`` expression, or None for the other kinds."""
    match = _RATE.fullmatch(expression)
    if not match:
        return None
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).rstrip("s")])


def at_time(expression: str) -> datetime | None:
    """The naive wall-clock time of an ``at(...)`` expression, or None for the other kinds.

    >>> at_time("at(2026-03-01T09:30:00)").isoformat()
    '2026-03-01T09:30:00'
    """
    match = _AT.fullmatch(expression)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError as exc:  # a day or a time that does not exist: 2026-02-30, 24:00:00
        raise InvalidTemplate(f"expression {expression!r}: {exc}") from None


def validate_schedule_expression(expression: str) -> None:
    """`InvalidTemplate` saying what is wrong, unless EventBridge Scheduler takes ``expression``."""
    match = _RATE.fullmatch(expression)
    if match:
        value, unit = int(match.group(1)), match.group(2)
        if value < 1:
            raise InvalidTemplate(f"expression {expression!r}: the rate must be at least 1")
        if (value == 1) != (not unit.endswith("s")):
            raise InvalidTemplate(
                f"expression {expression!r}: use a singular unit for 1 and plural otherwise"
            )
        return
    if expression.startswith("cron("):
        parse_cron(expression)
        return
    if at_time(expression) is None:
        raise InvalidTemplate(f"expression {expression!r}: {_KINDS}")


def validate_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTemplate(f"timezone {name!r} is not an IANA timezone") from None
