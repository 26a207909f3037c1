"""Functions by name, from decorators, bundled modules and installed packages' entry points.

Batch tasks (`overlord.tasks`) and dataset cleaners (`overlord.cleaners`) are both plain
functions that a user's package adds without touching Overlord; this is the one registry both
use. The bundled and installed ones are loaded on the first lookup, not at import, so that
``import overlord`` stays cheap and a broken plugin cannot stop the CLI from starting.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Iterable
from importlib.metadata import EntryPoint
from typing import ClassVar, Generic, TypeVar

from overlord.domain.errors import InvalidInput, NotFound

FunctionT = TypeVar("FunctionT")


class NamedRegistry(abc.ABC, Generic[FunctionT]):
    """Functions of one kind by name; a subclass says which kind, how a name is checked, what
    ships with Overlord and where installed packages declare theirs."""

    kind: ClassVar[str]
    logger: ClassVar[logging.Logger]

    def __init__(self, *, installed: bool = True) -> None:
        self._functions: dict[str, FunctionT] = {}
        self._lock = threading.RLock()
        self._installed = installed
        self._loaded = False
        self._problems: list[str] = []

    @abc.abstractmethod
    def check_name(self, name: str) -> str:
        """The name, checked; `InvalidName` when it cannot name one of these."""

    @abc.abstractmethod
    def _load_bundled(self) -> None:
        """Register what ships with Overlord."""

    @abc.abstractmethod
    def _entry_points(self) -> Iterable[EntryPoint]:
        """The installed packages' entry points of this kind."""

    def register(self, name: str, function: FunctionT) -> None:
        """Register ``function`` as ``name``; the same function again is harmless, another
        function under a taken name is refused (two packages would otherwise race)."""
        name = self.check_name(name)
        if not callable(function):
            raise InvalidInput(f"{self.kind} {name}: {function!r:.60} is not callable")
        with self._lock:
            found = self._functions.get(name)
            if found is not None and found is not function and not _same(found, function):
                raise InvalidInput(
                    f"{self.kind} {name} is already registered by {_where(found)}; "
                    f"{_where(function)} cannot take its name"
                )
            self._functions[name] = function

    def names(self) -> list[str]:
        self._load()
        with self._lock:
            return sorted(self._functions)

    def get(self, name: str) -> FunctionT:
        self._load()
        with self._lock:
            found = self._functions.get(name)
            if found is not None:
                return found
            known = ", ".join(sorted(self._functions)) or "none"
        problems = f"; could not load: {'; '.join(self._problems)}" if self._problems else ""
        raise NotFound(f"no {self.kind} {name!r} is registered (registered: {known}){problems}")

    def _load(self) -> None:
        with self._lock:
            if self._loaded or not self._installed:
                return
            self._loaded = True
            self._load_bundled()
            for point in self._entry_points():
                try:
                    loaded = point.load()
                    if callable(loaded):
                        self.register(point.name, loaded)
                except Exception as exc:  # a broken plugin must not take the others down
                    problem = f"{point.name} ({point.value}): {type(exc).__name__}: {exc}"
                    self.logger.warning("%s entry point not loaded: %s", self.kind, problem)
                    self._problems.append(problem)


def _same(a: object, b: object) -> bool:
    """The same function object reloaded (a module imported twice, as ``__main__`` and by
    name in a worker process) is the same function."""
    keys = ("__module__", "__qualname__")
    return all(getattr(a, k, None) == getattr(b, k, None) for k in keys)


def _where(function: object) -> str:
    module = getattr(function, "__module__", "?")
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"
