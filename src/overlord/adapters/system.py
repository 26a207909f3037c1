"""The real clock and real random ids, for every profile that is not a test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


class SystemClock:
    """The machine's clock, as an aware UTC datetime."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIdFactory:
    """Random 128-bit ids (uuid4) as 32 lowercase hex characters."""

    def new_id(self) -> str:
        return uuid.uuid4().hex
