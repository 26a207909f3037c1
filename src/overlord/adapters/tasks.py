"""Running batch tasks in process: in the calling thread, or in a pool of worker processes.

Threads suit I/O-bound tasks (most: calling APIs, moving files) and cost nothing to start; a
CPU-bound task holds the GIL, so a pipeline whose engine option says ``workers = "processes"``
sends each chunk's task call to a worker process instead. Workers are *spawned*, not forked:
forking a process that runs threads can copy a lock some thread holds and hang the child.
The task function travels to the worker by reference (its module and name, as pickle sends
functions), so it must be a module-level function; only the items, the context and the
outcomes cross over, and the records are still written by the step runner in the parent.

`TaskSteps` makes every registered task a step function for the in-process Workflow engines.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

from overlord.domain.errors import NotFound
from overlord.domain.pipeline_templates import Workers
from overlord.domain.pipelines import StepCall
from overlord.domain.tasks import TaskContext, TaskFunction, error_text, read_results
from overlord.ports.tasks import TaskRegistry, TaskRun
from overlord.ports.workflow import StepFunction


def call_task(function: TaskFunction, items: Sequence[str], context: TaskContext) -> TaskRun:
    """Call a task and read its answers; an exception it raises becomes the run's error."""
    results: dict[str, str | None] = {}
    try:
        read_results(items, function(list(items), context), results)
    except Exception as exc:
        return TaskRun(results=results, error=error_text(exc))
    return TaskRun(results=results)


class InProcessTaskRunner:
    """Tasks from ``registry`` in this thread, or (``Workers.PROCESSES``) in up to
    ``processes`` spawned workers, started on first use."""

    def __init__(self, registry: TaskRegistry, *, processes: int | None = None) -> None:
        self._registry = registry
        self._processes = processes or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(
        self, task: str, items: Sequence[str], context: TaskContext, *, workers: Workers
    ) -> TaskRun:
        function = self._registry.get(task)  # NotFound here, in the caller, for any worker kind
        if workers is Workers.PROCESSES:
            return self._workers().submit(call_task, function, list(items), context).result()
        return call_task(function, items, context)

    def _workers(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self._processes, mp_context=multiprocessing.get_context("spawn")
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


class TaskSteps(Mapping[str, StepFunction]):
    """Every task the registry has now, as a step that runs it over a chunk of a batch."""

    def __init__(self, registry: TaskRegistry, run_step: Callable[[StepCall], object]) -> None:
        """``run_step`` runs a call and records its items (`BatchSteps.run`, which the
        container hands in: an adapter never imports a service)."""
        self._registry = registry
        self._run_step = run_step

    def _run(self, call: StepCall) -> None:
        self._run_step(call)

    def __getitem__(self, name: str) -> StepFunction:
        try:
            self._registry.get(name)  # a lookup, where names() would sort them all per step
        except NotFound:
            raise KeyError(name) from None
        return self._run

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.names())

    def __len__(self) -> int:
        return len(self._registry.names())
