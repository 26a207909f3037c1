"""Pipelines run on a thread pool, with every execution recorded under the local home.

The local profile has no service that outlives a command, so the process that starts an
execution runs its chunks on its own threads (and, at exit, waits for them: Python joins pool
threads before it ends). What they do is written to one JSON file per execution, atomically and
under a lock (`JsonStateFile`), so any other process over the same home, the CLI or
``overlord serve``, can describe or stop it. If the running process dies, the execution would
stay RUNNING forever; `describe` reports it FAILED instead, as Step Functions would report a
broken execution, without rewriting the file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from attrs import evolve

from overlord.adapters import pipeline_runs as runs
from overlord.adapters.local.state_file import JsonStateFile
from overlord.domain.errors import NotFound
from overlord.domain.pipelines import (
    ExecutionRequest,
    ExecutionState,
    ExecutionStatus,
    PipelineSpec,
)
from overlord.ports.clock import Clock
from overlord.ports.workflow import StepFunction


class LocalWorkflow:
    """Pipelines in ``root / "pipelines.json"``; executions in
    ``root / "executions" / <pipeline> / <execution name>.json``.

    At most ``max_workers`` chunks run at once in this process, whatever the pipelines'
    ``max_concurrency`` (which bounds Step Functions' Map; here the pool is the bound).

    >>> import tempfile
    >>> from overlord.domain.names import ConnectorName, TenantName
    >>> root = Path(tempfile.mkdtemp())
    >>> workflow = LocalWorkflow(root, {"fetch": lambda call: None})
    >>> spec = PipelineSpec(name="acme-orders", steps=("fetch",), chunk_size=10)
    >>> workflow.ensure_pipeline(spec)
    >>> request = ExecutionRequest.create(pipeline=spec, tenant=TenantName("acme"),
    ...     connector=ConnectorName("orders"), batch_id="b-1", item_ids=["a", "b"])
    >>> execution_id = workflow.start(request)
    >>> workflow.close()  # waits for the running chunks
    >>> LocalWorkflow(root, {}).describe(execution_id).status.value
    'SUCCEEDED'
    """

    def __init__(
        self,
        root: Path,
        steps: Mapping[str, StepFunction],
        clock: Clock | None = None,
        *,
        max_workers: int = 4,
    ) -> None:
        if clock is None:
            from overlord.adapters.system import SystemClock

            clock = SystemClock()
        self._root = root.absolute()
        self._pipelines = JsonStateFile(self._root / "pipelines.json")
        self._steps = dict(steps)
        self._clock = clock
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def ensure_pipeline(self, spec: PipelineSpec) -> None:
        runs.check_steps(spec, self._steps)
        wanted = runs.spec_document(spec)
        if self._pipelines.read().get(spec.name) == wanted:
            return
        with self._pipelines.update() as pipelines:
            pipelines[spec.name] = wanted

    def start(self, request: ExecutionRequest) -> str:
        document = self._pipelines.read().get(request.pipeline)
        if document is None:
            raise NotFound(f"pipeline {request.pipeline} does not exist; ensure it first")
        spec = runs.spec_of(request.pipeline, document)
        execution_id = runs.execution_id(request.pipeline, request.name)
        state = self._file(request.pipeline, request.name)
        if state.read():
            return execution_id
        runs.check_steps(spec, self._steps)  # this process runs it, so it needs every step
        created = False
        with state.update() as record:
            if not record:  # checked again under the lock: another process may have won
                record.update(runs.new_record(request, spec, self._clock.now()), pid=os.getpid())
                created = True
        if created:
            pool = self._executor()
            for index in range(len(request.chunks)):
                pool.submit(self._run_chunk, state, request, spec.steps, index)
        return execution_id

    def describe(self, execution_id: str) -> ExecutionState | None:
        parsed = runs.parse_execution_id(execution_id)
        record = {} if parsed is None else self._file(*parsed).read()
        if not record:
            return None
        state = runs.state_of(execution_id, record)
        pid = record.get("pid")
        if state.status is ExecutionStatus.RUNNING and isinstance(pid, int) and not _alive(pid):
            return evolve(
                state,
                status=ExecutionStatus.FAILED,
                error=f"the process running it (pid {pid}) exited before it finished",
            )
        return state

    def stop(self, execution_id: str, reason: str) -> None:
        parsed = runs.parse_execution_id(execution_id)
        state = self.describe(execution_id)
        if parsed is None or state is None or state.status.finished:
            return  # (one whose process died is reported finished, and stays as reported)
        with self._file(*parsed).update() as record:
            if record:
                runs.end(record, ExecutionStatus.ABORTED, reason, self._clock.now())

    def close(self) -> None:
        """Wait for the chunks this instance started, then release its threads."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _run_chunk(
        self, state: JsonStateFile, request: ExecutionRequest, steps: tuple[str, ...], index: int
    ) -> None:
        try:
            document = runs.run_chunk(
                request, steps, index, self._steps, lambda: runs.is_running(state.read())
            )
            if document is not None:
                with state.update() as record:
                    runs.record_outcome(record, document, self._clock.now())
        except Exception as exc:
            # Not a step's error (those fail the chunk): the runner itself broke, e.g. the disk
            # is full. Nothing would ever finish the execution, so end it, if that still works.
            with contextlib.suppress(Exception), state.update() as record:
                reason = f"local runner failed on chunk {index}: {type(exc).__name__}: {exc}"
                runs.end(record, ExecutionStatus.FAILED, reason, self._clock.now())

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._max_workers, thread_name_prefix="overlord-pipeline"
                )
            return self._pool

    def _file(self, pipeline: str, name: str) -> JsonStateFile:
        return JsonStateFile(self._root / "executions" / pipeline / f"{name}.json")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True
