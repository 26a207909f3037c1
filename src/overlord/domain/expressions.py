"""Schedule expressions and timezones, checked as EventBridge Scheduler would check them.

Validating here keeps the local scheduler and the AWS one in agreement: an expression that
passes runs on both.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from overlord.domain.errors import InvalidTemplate

# [0-9], not \d: \d also matches other scripts' digits, which EventBridge refuses.
_RATE = re.compile(r"^rate\(([0-9]{1,6}) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(([^()]+)\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/\-#L W]+$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_interval(expression: str) -> timedelta | None:
    """The interval of a ``rate(...)`` expression, or None for cron expressions."""
    match = _RATE.fullmatch(expression)
    if not match:
        return None
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).rstrip("s")])


def validate_schedule_expression(expression: str) -> None:
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
    cron = _CRON.fullmatch(expression)
    if cron:
        fields = cron.group(1).split(" ")
        if len(fields) != 6 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
            raise InvalidTemplate(
                f"expression {expression!r}: cron needs 6 fields "
                "(minutes hours day-of-month month day-of-week year)"
            )
        if "?" not in (fields[2], fields[4]):
            raise InvalidTemplate(
                f"expression {expression!r}: one of day-of-month or day-of-week must be '?'"
            )
        return
    raise InvalidTemplate(
        f"expression {expression!r}: expected 'rate(N minutes|hours|days)' or 'cron(...)'"
    )


def validate_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTemplate(f"timezone {name!r} is not an IANA timezone") from None
