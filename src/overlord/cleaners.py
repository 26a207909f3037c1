"""Cleaners by name: the ``@overlord.cleaner("name")`` decorator and the ``overlord.cleaners``
entry-point group.

A cleaner is a pandas function ``(files, context) -> DataFrame``: it gets a raw folder's files
(paths, or readable binary streams) and a `CleanerContext` (dataset, period, table, a logger),
and returns the frame to load into the dataset's table. A dataset names its cleaner
(`Dataset.cleaner`). Decorating a function registers it in this process; a package that declares

.. code-block:: toml

    [project.entry-points."overlord.cleaners"]
    acme-orders = "acme_cleaners:orders"     # a function: registered under that name
    acme = "acme_cleaners"                   # a module: importing it runs its decorators

adds its cleaners to Overlord once it is installed, without anyone touching Overlord. The
bundled ``call-reports`` cleaner (`overlord.samples.call_reports`) is always there. Installed
cleaners are loaded on the first lookup, not at import, so ``import overlord`` stays cheap (and
pandas-free) and a broken plugin cannot stop the CLI from starting.

>>> import overlord
>>> @overlord.cleaner("upper-names")
... def upper_names(files, context):
...     import pandas as pd
...     return pd.DataFrame({"name": [file_name(f).upper() for f in files]})
>>> default_registry().get("upper-names") is upper_names
True
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import BinaryIO, TypeVar

from overlord.domain.cleaners import CleanerContext, CleanerFile, CleanerFunction, cleaner_name
from overlord.domain.errors import InvalidInput, NotFound

__all__ = [
    "ENTRY_POINT_GROUP",
    "CleanerContext",
    "CleanerFile",
    "CleanerRegistry",
    "cleaner",
    "default_registry",
    "file_name",
    "open_file",
]

ENTRY_POINT_GROUP = "overlord.cleaners"
# Bundled cleaners by reference, so that every registry has them, not only the default one
# their decorators add to.
_BUNDLED = {"call-reports": ("overlord.samples.call_reports", "clean_call_reports")}
_log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., object])


class CleanerRegistry:
    """Cleaners by name; the bundled and installed ones are loaded on the first lookup."""

    def __init__(self, *, installed: bool = True) -> None:
        self._cleaners: dict[str, CleanerFunction] = {}
        self._lock = threading.RLock()
        self._installed = installed
        self._loaded = False
        self._problems: list[str] = []

    def register(self, name: str, function: CleanerFunction) -> None:
        """Register ``function`` as ``name``; the same function again is harmless, another
        function under a taken name is refused (two packages would otherwise race)."""
        name = cleaner_name(name)
        if not callable(function):
            raise InvalidInput(f"cleaner {name}: {function!r:.60} is not callable")
        with self._lock:
            found = self._cleaners.get(name)
            if found is not None and found is not function and not _same(found, function):
                raise InvalidInput(
                    f"cleaner {name} is already registered by {_where(found)}; "
                    f"{_where(function)} cannot take its name"
                )
            self._cleaners[name] = function

    def names(self) -> list[str]:
        self._load()
        with self._lock:
            return sorted(self._cleaners)

    def get(self, name: str) -> CleanerFunction:
        self._load()
        with self._lock:
            found = self._cleaners.get(name)
            if found is not None:
                return found
            known = ", ".join(sorted(self._cleaners)) or "none"
        problems = f"; could not load: {'; '.join(self._problems)}" if self._problems else ""
        raise NotFound(f"no cleaner {name!r} is registered (registered: {known}){problems}")

    def _load(self) -> None:
        with self._lock:
            if self._loaded or not self._installed:
                return
            self._loaded = True
            for name, (module, attribute) in _BUNDLED.items():
                self.register(name, getattr(importlib.import_module(module), attribute))
            for point in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    loaded = point.load()
                    if callable(loaded):
                        self.register(point.name, loaded)
                except Exception as exc:  # a broken plugin must not take the others down
                    problem = f"{point.name} ({point.value}): {type(exc).__name__}: {exc}"
                    _log.warning("cleaner entry point not loaded: %s", problem)
                    self._problems.append(problem)


def _same(a: object, b: object) -> bool:
    """The same function object reloaded (a module imported twice, as ``__main__`` and by
    name in a worker process) is the same cleaner."""
    keys = ("__module__", "__qualname__")
    return all(getattr(a, k, None) == getattr(b, k, None) for k in keys)


def _where(function: object) -> str:
    module = getattr(function, "__module__", "?")
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"


_DEFAULT = CleanerRegistry()


def default_registry() -> CleanerRegistry:
    """The registry `cleaner` adds to, which Overlord's processing jobs take cleaners from."""
    return _DEFAULT


def cleaner(name: str) -> Callable[[F], F]:
    """Register the decorated function as the cleaner ``name``.

    A cleaner gets a raw folder's files (paths or binary streams) and a `CleanerContext`, and
    returns the pandas DataFrame to load.
    """
    checked = cleaner_name(name)

    def register(function: F) -> F:
        _DEFAULT.register(checked, function)
        return function

    return register


def file_name(file: CleanerFile) -> str:
    """The base name of a path, or of a stream's ``name``; `InvalidInput` for a nameless stream.

    >>> file_name("raw/call_rcb/FFIEC CDR Call Schedule RCB 03312026(1 of 2).txt")
    'FFIEC CDR Call Schedule RCB 03312026(1 of 2).txt'
    """
    name = file if isinstance(file, str | os.PathLike) else getattr(file, "name", None)
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{file!r:.60} has no name: give a path, or a stream with a name")
    return os.path.basename(name)


@contextmanager
def open_file(file: CleanerFile) -> Iterator[BinaryIO]:
    """A binary stream of ``file``: a path is opened (and closed after), a stream is given as
    it is and left open for its owner."""
    if isinstance(file, str | os.PathLike):
        with open(file, "rb") as stream:
            yield stream
    else:
        yield file
