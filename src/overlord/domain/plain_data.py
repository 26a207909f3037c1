"""Typed, path-aware reading of plain data (TOML or JSON) for the domain's parsers.

Connector templates and datasets are both written by hand, so every complaint names the path of
the offending value; one reader keeps those messages alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

from overlord.domain.errors import InvalidName, InvalidTemplate
from overlord.domain.names import slug

E = TypeVar("E")


class Reader:
    """Typed access to one mapping, remembering its path for messages."""

    def __init__(self, data: object, path: str, known: set[str]) -> None:
        if not isinstance(data, Mapping):
            raise InvalidTemplate(f"{path or 'template'}: expected a table/object")
        unknown = sorted(set(map(str, data)) - known)
        if unknown:
            raise InvalidTemplate(f"{self._at(path, unknown[0])}: unknown field")
        self.data = data
        self.path = path

    @staticmethod
    def _at(path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def at(self, key: str) -> str:
        return self._at(self.path, key)

    def has(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or (value == "" and default is None):
            raise InvalidTemplate(f"{self.at(key)}: expected a non-empty string")
        return value

    def integer(self, key: str, default: int | None = None, low: int = 0, high: int = 2**31) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidTemplate(f"{self.at(key)}: expected an integer from {low} to {high}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidTemplate(f"{self.at(key)}: expected a number")
        # The range check comes first: math.isfinite overflows on an integer too big for a float.
        if not low <= value <= high or not math.isfinite(value):
            raise InvalidTemplate(f"{self.at(key)}: expected a number from {low} to {high}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise InvalidTemplate(f"{self.at(key)}: expected true or false")
        return value

    def texts(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        value = self.data.get(key, [] if not required else None)
        if (
            not isinstance(value, list)
            or (required and not value)
            or not all(isinstance(v, str) and v for v in value)
        ):
            raise InvalidTemplate(f"{self.at(key)}: expected a list of non-empty strings")
        return tuple(value)

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise InvalidTemplate(f"{self.at(key)}: expected a list")
        return value

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise InvalidTemplate(f"{self.at(key)}: expected a table/object")
        return value

    def choice(self, key: str, enum: type[E], default: E) -> E:
        value = self.data.get(key, default)
        try:
            return enum(value)  # type: ignore[call-arg]
        except ValueError:
            options = ", ".join(str(m.value) for m in enum)  # type: ignore[attr-defined]
            raise InvalidTemplate(f"{self.at(key)}: expected one of {options}") from None

    def slug(self, key: str, kind: str) -> str:
        try:
            return slug(kind, self.data.get(key))
        except InvalidName as exc:
            raise InvalidTemplate(f"{self.at(key)}: {exc.message}") from None
