"""Time windows of an API dataset's runs, and the cursor that says how far it has landed.

A run covers ``[start, end)``. Given explicitly (a backfill), the window is the request; on the
dataset's cadence it runs from where the last fully landed window ended to now. Either way it is
fixed on the run's first attempt, so a retry covers the same window, and it is fetched in
requests no wider than the recipe's ``max_span``. The cursor moves only forward and only when a
window has fully landed: a failed run leaves it, and a backfill of older data never moves it
back, so the next cadence run starts where the data really stops.

>>> w = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 2, 30, tzinfo=UTC))
>>> [str(part) for part in w.split(timedelta(hours=1))]
['2026-01-01T00:00:00Z/2026-01-01T01:00:00Z', '2026-01-01T01:00:00Z/2026-01-01T02:00:00Z', \
'2026-01-01T02:00:00Z/2026-01-01T02:30:00Z']
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attrs import frozen

from overlord.domain.errors import InvalidInput

MAX_REQUESTS = 10_000  # a window split finer than this is a mistake in the request or recipe
MIN_YEAR, MAX_YEAR = 1000, 9998


def parse_instant(value: object, what: str) -> datetime:
    """An ISO 8601 instant, to the whole second as `instant_text` spells it (so a window read
    is the window a job's payload carries); one without an offset is taken as UTC."""
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput(f"{what}: expected an ISO 8601 time such as 2026-01-05T06:00:00Z")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999
        raise InvalidInput(
            f"{what} {value!r}: expected an ISO 8601 time such as 2026-01-05T06:00:00Z"
        ) from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        # Names and cursors spell the year in four digits, and a partition's end is the next
        # one's start: outside these years neither holds.
        raise InvalidInput(f"{what} {value!r}: expected a time between {MIN_YEAR} and {MAX_YEAR}")
    return moment.replace(microsecond=0)


def record_instant(value: object) -> datetime | None:
    """A record's time: ISO 8601 with an offset (``Z`` included) or epoch seconds; None for
    anything else, so a caller names the record it cannot place."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def instant_text(moment: datetime) -> str:
    """``2026-01-05T06:00:00Z``: the one spelling windows, names and cursors use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@frozen
class Window:
    start: datetime
    end: datetime

    def __attrs_post_init__(self) -> None:
        for moment in (self.start, self.end):
            if moment.tzinfo is None:
                raise InvalidInput("a window's times must be aware (UTC)")
        if self.end <= self.start:
            raise InvalidInput(
                f"the window ends ({instant_text(self.end)}) before it starts "
                f"({instant_text(self.start)})"
            )

    def __str__(self) -> str:
        return f"{instant_text(self.start)}/{instant_text(self.end)}"

    @property
    def name(self) -> str:
        """A folder name for the window: ``20260105T060000Z-20260105T070000Z``."""
        return "-".join(
            m.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") for m in (self.start, self.end)
        )

    @classmethod
    def of(cls, start: object, end: object) -> Window:
        return cls(parse_instant(start, "start"), parse_instant(end, "end"))

    @classmethod
    def from_name(cls, name: str) -> Window | None:
        """The window a folder `name` names, or None for a name that is not a window's."""
        start, _, end = name.partition("-")
        try:
            bounds = [
                datetime.strptime(t, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) for t in (start, end)
            ]
            return cls(*bounds)
        except (ValueError, InvalidInput):
            return None

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def split(self, max_span: timedelta | None) -> list[Window]:
        """Consecutive windows no wider than ``max_span`` covering this one (itself if None)."""
        if max_span is None:
            return [self]
        if max_span <= timedelta(0):
            raise InvalidInput("max_span must be positive")
        if (self.end - self.start) / max_span > MAX_REQUESTS:
            raise InvalidInput(
                f"window {self} would take over {MAX_REQUESTS} requests of {max_span}; "
                "ask for a shorter window"
            )
        parts = []
        start = self.start
        while start < self.end:
            end = min(start + max_span, self.end)
            parts.append(Window(start, end))
            start = end
        return parts


def cadence_window(cursor: datetime | None, now: datetime, first_span: timedelta) -> Window:
    """The window a cadence run covers: from the cursor to now, or the last ``first_span``
    when nothing has landed yet. Now is taken to the whole second, so a name is stable."""
    end = now.astimezone(UTC).replace(microsecond=0)
    start = cursor if cursor is not None else end - first_span
    if start >= end:
        raise InvalidInput(
            f"nothing to fetch: the dataset has landed up to {instant_text(start)} already"
        )
    return Window(start, end)


def moved_cursor(cursor: datetime | None, landed: Window) -> datetime:
    """The cursor after ``landed`` has fully landed: its end if that is later, else unchanged
    (a backfill of older data never moves it back)."""
    if cursor is None or landed.end > cursor:
        return landed.end
    return cursor
