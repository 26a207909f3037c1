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
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar

from overlord.domain.tasks import TaskContext, TaskFunction, task_name
from overlord.registries import NamedRegistry

__all__ = ["ENTRY_POINT_GROUP", "TaskContext", "TaskRegistry", "default_registry", "task"]

ENTRY_POINT_GROUP = "overlord.tasks"
_BUNDLED = ("overlord.samples.batch_tasks",)
_log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., object])


class TaskRegistry(NamedRegistry[TaskFunction]):
    """Tasks by name; the bundled and installed ones are loaded on the first lookup."""

    kind = "task"
    logger = _log

    def check_name(self, name: str) -> str:
        return task_name(name)

    def _load_bundled(self) -> None:
        for module in _BUNDLED:
            importlib.import_module(module)

    def _entry_points(self) -> Iterable[EntryPoint]:
        return entry_points(group=ENTRY_POINT_GROUP)


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
