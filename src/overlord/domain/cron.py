"""EventBridge cron expressions, read completely: every field's range, names and day rules.

EventBridge Scheduler judges an expression only when the schedule is created, and provisioning
creates schedules last, so an expression it refuses used to leave a tenant half made. Reading
the whole expression here, when a template is parsed, refuses it before anything is written; and
the local scheduler computes firing times from this same reading, so an expression that passes
here runs alike on both.

``cron(minutes hours day-of-month month day-of-week year)``, each field numbers, ``*``, lists,
ranges and ``/`` steps (day-of-week takes no steps, as in EventBridge); month and day-of-week
also take names (``JAN``, ``MON``). Exactly one of the two day fields is ``?``. Day-of-month
also takes ``L`` (the last day), ``nW`` (the weekday nearest day n, within its month) and ``LW``
(the last weekday); day-of-week takes ``L`` (Saturday, the week's last day), ``nL`` (the month's
last day n) and ``n#k`` (its k-th day n). Those stand alone in their field, as in EventBridge.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from overlord.domain.errors import InvalidTemplate

# Spelled out rather than taken from `calendar`, whose names follow the process locale.
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

# [0-9], not \d: \d also matches other scripts' digits, which EventBridge refuses.
_CRON = re.compile(r"cron\(([^()]*)\)")
_VALUE = r"[0-9]{1,4}|[A-Za-z]{3}"
_PART = re.compile(rf"(\*|{_VALUE})(?:-({_VALUE}))?(?:/([0-9]{{1,4}}))?")
_DAY_OF_MONTH_RULE = re.compile(r"(L)(W)?|([0-9]{1,2})W")
_DAY_OF_WEEK_RULE = re.compile(rf"L|({_VALUE})(?:(L)|#([0-9]))")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: Mapping[str, int]
    max_step: int


_MINUTES = _Field("minutes", 0, 59, {}, 59)
_HOURS = _Field("hours", 0, 23, {}, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, {}, 31)
_MONTH = _Field("month", 1, 12, {n: i for i, n in enumerate(_MONTH_NAMES, 1)}, 12)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, {n: i for i, n in enumerate(_DAY_NAMES, 1)}, 0)
_YEAR = _Field("year", 1970, 2199, {}, 230)


def day_of_week(day: date) -> int:
    """EventBridge numbers days 1 (Sunday) to 7 (Saturday)."""
    return day.isoweekday() % 7 + 1


def _nearest_weekday(day: date, target: int, last_day: int) -> int:
    """The weekday nearest ``target`` in ``day``'s month, never crossing into another month."""
    weekday = day.replace(day=target).weekday()  # Monday 0 ... Sunday 6
    if weekday == 5:  # Saturday: the Friday before, or the Monday after the 1st
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before the month's last day
        return target + 1 if target < last_day else target - 2
    return target


@dataclass(frozen=True)
class DayRule:
    """The days of a month that the day field which is not ``?`` picks.

    ``values`` are days of the month, or days of the week when ``of_week``; ``last``,
    ``weekday`` and ``nth`` carry ``L``, ``W`` and ``#``.
    """

    values: tuple[int, ...]
    of_week: bool = False
    last: bool = False
    weekday: bool = False
    nth: int = 0

    def matches(self, day: date, last_day: int) -> bool:
        """Whether ``day`` is picked; ``last_day`` is the last day of its month."""
        if self.of_week:
            if day_of_week(day) not in self.values:
                return False
            if self.last:
                return day.day + 7 > last_day
            return not self.nth or (day.day - 1) // 7 + 1 == self.nth
        if self.weekday:
            target = last_day if self.last else self.values[0]
            return target <= last_day and day.day == _nearest_weekday(day, target, last_day)
        if self.last:
            return day.day == last_day
        return day.day in self.values


@dataclass(frozen=True)
class CronExpression:
    """A parsed 6-field EventBridge cron expression."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: DayRule
    months: tuple[int, ...]
    years: tuple[int, ...]

    @classmethod
    def parse(cls, expression: str) -> CronExpression:
        """Parse ``cron(minutes hours day-of-month month day-of-week year)``.

        >>> CronExpression.parse("cron(0/20 9 ? * MON-FRI *)").minutes
        (0, 20, 40)
        >>> CronExpression.parse("cron(0 9 ? * 6#3 *)").days
        DayRule(values=(6,), of_week=True, last=False, weekday=False, nth=3)
        """
        return parse_cron(expression)


class _Reader:
    """One expression's fields, read with messages that quote the expression."""

    def __init__(self, expression: str) -> None:
        self.expression = expression

    def refuse(self, problem: str) -> InvalidTemplate:
        return InvalidTemplate(f"expression {self.expression!r}: {problem}")

    def value(self, spec: _Field, text: str) -> int:
        value = int(text) if text.isdigit() else spec.names.get(text.upper())
        if value is None:
            raise self.refuse(f"{spec.name} value {text!r} is not one of {_span(spec)}")
        if not spec.low <= value <= spec.high:
            raise self.refuse(f"{spec.name} value {text!r} is outside {_span(spec)}")
        return value

    def values(self, spec: _Field, text: str) -> tuple[int, ...]:
        found: set[int] = set()
        for part in text.split(","):
            match = _PART.fullmatch(part)
            if not match or (match.group(1) == "*" and match.group(2)):
                hint = "; L, W and # stand alone in their field" if set(part) & set("LW#") else ""
                raise self.refuse(f"cannot read {spec.name} {part!r}{hint}")
            first, last, step = match.groups()
            if first == "*":
                low, high = spec.low, spec.high
            else:
                low = self.value(spec, first)
                # "5/15" runs from 5 to the end of the field; "5" alone is just 5.
                high = self.value(spec, last) if last else (spec.high if step else low)
            stride = 1
            if step is not None:
                if not spec.max_step:
                    raise self.refuse(f"{spec.name} takes no '/' steps ({part!r})")
                stride = int(step)
                if not 1 <= stride <= spec.max_step:
                    raise self.refuse(f"{spec.name} step {step!r} is outside 1-{spec.max_step}")
            if low > high:
                raise self.refuse(f"{spec.name} range {part!r} is empty")
            found.update(range(low, high + 1, stride))
        return tuple(sorted(found))

    def day_of_month(self, text: str) -> DayRule:
        special = _DAY_OF_MONTH_RULE.fullmatch(text)
        if not special:
            return DayRule(self.values(_DAY_OF_MONTH, text))
        last, last_weekday, day = special.groups()
        if last:
            return DayRule((), last=True, weekday=bool(last_weekday))
        return DayRule((self.value(_DAY_OF_MONTH, day),), weekday=True)

    def day_of_week(self, text: str) -> DayRule:
        special = _DAY_OF_WEEK_RULE.fullmatch(text)
        if not special:
            return DayRule(self.values(_DAY_OF_WEEK, text), of_week=True)
        day, last, nth = special.groups()
        if day is None:  # "L" alone: the last day of the week
            return DayRule((_DAY_OF_WEEK.high,), of_week=True)
        if last:
            return DayRule((self.value(_DAY_OF_WEEK, day),), of_week=True, last=True)
        if not 1 <= int(nth) <= 5:
            raise self.refuse(f"day-of-week {text!r}: a month has a 1st to a 5th of a day")
        return DayRule((self.value(_DAY_OF_WEEK, day),), of_week=True, nth=int(nth))


def _span(spec: _Field) -> str:
    if not spec.names:
        return f"{spec.low}-{spec.high}"
    names = list(spec.names)
    return f"{spec.low}-{spec.high} or {names[0]}-{names[-1]}"


@functools.lru_cache(maxsize=256)
def parse_cron(expression: str) -> CronExpression:
    """Read a cron expression; `InvalidTemplate` saying which field is wrong and why."""
    reader = _Reader(expression)
    match = _CRON.fullmatch(expression)
    if not match:
        raise reader.refuse("expected 'cron(minutes hours day-of-month month day-of-week year)'")
    fields = match.group(1).split(" ")
    if len(fields) != 6:
        raise reader.refuse(
            "cron needs 6 fields separated by single spaces "
            "(minutes hours day-of-month month day-of-week year)"
        )
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise reader.refuse("one of day-of-month or day-of-week must be '?', and the other not")
    return CronExpression(
        minutes=reader.values(_MINUTES, minutes),
        hours=reader.values(_HOURS, hours),
        days=reader.day_of_week(dow) if dom == "?" else reader.day_of_month(dom),
        months=reader.values(_MONTH, month),
        years=reader.values(_YEAR, year),
    )
