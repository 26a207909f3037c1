"""Batch tasks by name: the ``@overlord.task("name")`` decorator and the ``overlord.tasks``
entry-point group.

A task is a plain function ``(items, context) -> results`` (see `overlord.domain.tasks` for
what it may return). Decorating it registers it in this process; a package that declares

.. code-block:: toml

    [project.entry-points."overlord.tasks"]
    enrich-orders = "acme_tasks:enrich"      # a function: registered under that name
    acme = "acme_tasks"                      # a module: importing it runs its decorators

adds its tasks to every Overlord command, API and Lambda once it is installed, without anyone
touching Overlord. The sample tasks ``process-task-1`` and ``process-task-2`` ship inside
Overlord and are always there. Installed tasks are loaded on the first lookup, not at import,
so ``import overlord`` stays cheap and a broken plugin cannot stop the CLI from starting.

>>> import overlord
>>> @overlord.task("shout")
... def shout(items, context):
...     return {item: None if item.islower() else f"{item} is not lower case" for item in items}
>>> default_registry().get("shout") is shout
True
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from overlord.domain.errors import InvalidInput, NotFound
from overlord.domain.tasks import TaskContext, TaskFunction, task_name

__all__ = ["ENTRY_POINT_GROUP", "TaskContext", "TaskRegistry", "default_registry", "task"]

ENTRY_POINT_GROUP = "overlord.tasks"
_BUNDLED = ("overlord.samples.batch_tasks",)
_log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., object])


class TaskRegistry:
    """Tasks by name; the bundled and installed ones are loaded on the first lookup."""

    def __init__(self, *, installed: bool = True) -> None:
        self._tasks: dict[str, TaskFunction] = {}
        self._lock = threading.RLock()
        self._installed = installed
        self._loaded = False
        self._problems: list[str] = []

    def register(self, name: str, function: TaskFunction) -> None:
        """Register ``function`` as ``name``; the same function again is harmless, another
        function under a taken name is refused (two packages would otherwise race)."""
        name = task_name(name)
        if not callable(function):
            raise InvalidInput(f"task {name}: {function!r:.60} is not callable")
        with self._lock:
            found = self._tasks.get(name)
            if found is not None and found is not function and not _same(found, function):
                raise InvalidInput(
                    f"task {name} is already registered by {_where(found)}; "
                    f"{_where(function)} cannot take its name"
                )
            self._tasks[name] = function

    def names(self) -> list[str]:
        self._load()
        with self._lock:
            return sorted(self._tasks)

    def get(self, name: str) -> TaskFunction:
        self._load()
        with self._lock:
            found = self._tasks.get(name)
            if found is not None:
                return found
            known = ", ".join(sorted(self._tasks)) or "none"
        problems = f"; could not load: {'; '.join(self._problems)}" if self._problems else ""
        raise NotFound(f"no task {name!r} is registered (registered: {known}){problems}")

    def _load(self) -> None:
        with self._lock:
            if self._loaded or not self._installed:
                return
            self._loaded = True
            for module in _BUNDLED:
                importlib.import_module(module)
            for point in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    loaded = point.load()
                    if callable(loaded):
                        self.register(point.name, loaded)
                except Exception as exc:  # a broken plugin must not take the others down
                    problem = f"{point.name} ({point.value}): {type(exc).__name__}: {exc}"
                    _log.warning("task entry point not loaded: %s", problem)
                    self._problems.append(problem)


def _same(a: object, b: object) -> bool:
    """The same function object reloaded (a module imported twice, as ``__main__`` and by
    name in a worker process) is the same task."""
    keys = ("__module__", "__qualname__")
    return all(getattr(a, k, None) == getattr(b, k, None) for k in keys)


def _where(function: object) -> str:
    module = getattr(function, "__module__", "?")
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"


_DEFAULT = TaskRegistry()


def default_registry() -> TaskRegistry:
    """The registry `task` adds to, which every Overlord entrypoint runs tasks from."""
    return _DEFAULT


def task(name: str) -> Callable[[F], F]:
    """Register the decorated function as the batch task ``name``.

    A task gets the chunk's item ids and a `TaskContext`, and returns ``None`` (all
    succeeded), ``{item: None | message | exception}``, or yields ``(item, result)`` pairs.
    """
    checked = task_name(name)

    def register(function: F) -> F:
        _DEFAULT.register(checked, function)
        return function

    return register
