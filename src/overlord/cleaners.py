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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import EntryPoint, entry_points
from typing import BinaryIO, TypeVar

from overlord.domain.cleaners import CleanerContext, CleanerFile, CleanerFunction, cleaner_name
from overlord.domain.errors import InvalidInput
from overlord.registries import NamedRegistry

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
_BUNDLED = {
    "call-reports": ("overlord.samples.call_reports", "clean_call_reports"),
    "weather-observations": ("overlord.samples.weather", "clean_observations"),
}
_log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., object])


class CleanerRegistry(NamedRegistry[CleanerFunction]):
    """Cleaners by name; the bundled and installed ones are loaded on the first lookup."""

    kind = "cleaner"
    logger = _log

    def check_name(self, name: str) -> str:
        return cleaner_name(name)

    def _load_bundled(self) -> None:
        for name, (module, attribute) in _BUNDLED.items():
            self.register(name, getattr(importlib.import_module(module), attribute))

    def _entry_points(self) -> Iterable[EntryPoint]:
        return entry_points(group=ENTRY_POINT_GROUP)


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
