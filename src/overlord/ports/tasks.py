"""Batch tasks by name, and somewhere to run one over a chunk.

A task is user code (`overlord.task`); the step runner never calls it directly but through a
`TaskRunner`, so the same records code drives a task in the calling thread, in a worker
process (CPU-bound tasks on the local engine) or inside the step Lambda.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from attrs import frozen

from overlord.domain.pipeline_templates import Workers
from overlord.domain.tasks import TaskContext, TaskFunction


@frozen(kw_only=True)
class TaskRun:
    """What one call of a task gave: ``{item: error or None}`` for the items it answered for,
    and ``error`` if it raised (its unanswered items then fail with that message)."""

    results: dict[str, str | None]
    error: str | None = None


class TaskRegistry(Protocol):
    def names(self) -> list[str]:
        """Every registered task name, sorted."""

    def get(self, name: str) -> TaskFunction:
        """The task function; `NotFound` naming the registered ones when there is none."""


class TaskRunner(Protocol):
    def run(
        self, task: str, items: Sequence[str], context: TaskContext, *, workers: Workers
    ) -> TaskRun:
        """Run ``task`` over ``items``; never raises for what the task does (that is in the
        `TaskRun`), only `NotFound` for a task nobody registered."""
