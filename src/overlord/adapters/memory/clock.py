"""A clock that moves only when told and ids that count up, so tests are deterministic."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta


class FixedClock:
    """Returns ``start`` until `advance` moves it.

    >>> clock = FixedClock(datetime(2024, 1, 1, tzinfo=UTC))
    >>> clock.advance(90)
    >>> clock.now().isoformat()
    '2024-01-01T00:01:30+00:00'
    """

    def __init__(self, start: datetime) -> None:
        if start.utcoffset() is None:
            raise ValueError(f"FixedClock needs an aware start, got {start.isoformat()}")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward; a clock never goes back."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds} seconds)")
        with self._lock:
            self._now += timedelta(seconds=seconds)


class SequentialIdFactory:
    """Ids 1, 2, 3, ... rendered as 32 lowercase hex characters.

    >>> SequentialIdFactory().new_id()
    '00000000000000000000000000000001'
    """

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            return f"{next(self._counter):032x}"
