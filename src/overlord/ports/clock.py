"""Time and ids come in through ports so tests can fix them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""


class IdFactory(Protocol):
    def new_id(self) -> str:
        """A fresh, unique, URL-safe id (32 lowercase hex characters)."""
