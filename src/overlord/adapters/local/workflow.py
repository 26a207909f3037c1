"""Pipelines run on a thread pool, with every execution recorded under the local home.

The local profile has no service that outlives a command, so the process that starts an
execution runs its chunks on its own threads (and, at exit, waits for them: Python joins pool
threads before it ends). What they do is written to one JSON file per execution, atomically and
under a lock (`JsonStateFile`), so any other process over the same home, the CLI or
``overlord serve``, can describe or stop it. If the running process dies, the execution would
stay RUNNING forever; `describe` reports it FAILED instead, as Step Functions would report a
broken execution, without rewriting the file.

Chunk outcomes are appended to a second file, one JSON line each, instead of rewriting the
execution's file (and syncing it to disk twice) per chunk: a batch of a thousand chunks would
spend seconds on that alone. An append survives the process being killed (the page cache keeps
it); a power cut may lose the last lines, as SQLite's ``synchronous=NORMAL`` may lose its last
commits, and the batch records, not these lines, are what a resumed batch goes by. Only the
process running an execution appends to it, so it counts its own chunks and ends the execution
when the last one is in.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

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

_LINE = json.JSONEncoder(separators=(",", ":"))  # one for every outcome line


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
        self._steps = steps  # looked up at each call: steps registered later are found
        self._clock = clock
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # Chunks still to finish, and the outcome file, per execution this process runs.
        self._left: dict[str, int] = {}
        self._outcome_files: dict[str, BinaryIO] = {}
        self._status_cache: dict[Path, tuple[tuple[int, int, int], bool]] = {}

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
            with self._pool_lock:
                self._left[execution_id] = request.chunk_count
            for index in range(request.chunk_count):
                pool.submit(self._run_chunk, state, request, spec.steps, index)
        return execution_id

    def describe(self, execution_id: str) -> ExecutionState | None:
        parsed = runs.parse_execution_id(execution_id)
        state_file = None if parsed is None else self._file(*parsed)
        record = {} if state_file is None else state_file.read()
        if not record or state_file is None:
            return None
        for document in _read_lines(_outcomes_path(state_file)):
            record["outcomes"].setdefault(str(document["chunk"]), document)
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
        """Wait for the chunks this instance started, then release its threads and files."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._pool_lock:
            files, self._outcome_files = list(self._outcome_files.values()), {}
        for handle in files:
            handle.close()

    def _run_chunk(
        self, state: JsonStateFile, request: ExecutionRequest, steps: tuple[str, ...], index: int
    ) -> None:
        try:
            document = runs.run_chunk(
                request, steps, index, self._steps, lambda: self._running(state)
            )
            execution_id = runs.execution_id(request.pipeline, request.name)
            if document is not None:
                self._append(execution_id, _outcomes_path(state), document)
            if self._chunk_done(execution_id):
                with state.update() as record:
                    if runs.is_running(record):
                        record.update(
                            status=ExecutionStatus.SUCCEEDED.value,
                            stopped_at=self._clock.now().isoformat(),
                        )
        except Exception as exc:
            # Not a step's error (those fail the chunk): the runner itself broke, e.g. the disk
            # is full. Nothing would ever finish the execution, so end it, if that still works.
            with contextlib.suppress(Exception), state.update() as record:
                reason = f"local runner failed on chunk {index}: {type(exc).__name__}: {exc}"
                runs.end(record, ExecutionStatus.FAILED, reason, self._clock.now())

    def _append(self, execution_id: str, path: Path, document: Mapping[str, Any]) -> None:
        """One outcome line, written whole (this process is the only writer of the file, and
        writes it under its lock through one handle kept open while the execution runs)."""
        line = (_LINE.encode(document) + "\n").encode("utf-8")
        with self._pool_lock:
            handle = self._outcome_files.get(execution_id)
            if handle is None:
                handle = self._outcome_files[execution_id] = open(path, "ab")  # noqa: SIM115
            handle.write(line)
            handle.flush()  # in the page cache now: a killed process keeps it

    def _chunk_done(self, execution_id: str) -> bool:
        """Count a chunk of an execution this process runs; True for its last one."""
        with self._pool_lock:
            left = self._left[execution_id] - 1
            if left:
                self._left[execution_id] = left
                return False
            del self._left[execution_id]
            handle = self._outcome_files.pop(execution_id, None)
        if handle is not None:
            handle.close()
        return True

    def _running(self, state: JsonStateFile) -> bool:
        """Whether the execution is still running (not stopped), asked before every step: the
        file is parsed again only when it was replaced since the last look."""
        try:
            stat = state.path.stat()
        except FileNotFoundError:
            return False
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = self._status_cache.get(state.path)
        if cached is not None and cached[0] == signature:
            return cached[1]
        running = runs.is_running(state.read())
        self._status_cache[state.path] = (signature, running)
        return running

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._max_workers, thread_name_prefix="overlord-pipeline"
                )
            return self._pool

    def _file(self, pipeline: str, name: str) -> JsonStateFile:
        return JsonStateFile(self._root / "executions" / pipeline / f"{name}.json")


def _outcomes_path(state: JsonStateFile) -> Path:
    return state.path.with_name(state.path.stem + ".outcomes.jsonl")


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """Whole lines only: a line being appended right now is not yet an outcome."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    found = []
    for line in text.splitlines(keepends=True):
        if line.endswith("\n"):
            with contextlib.suppress(ValueError):
                document = json.loads(line)
                if isinstance(document, dict) and "chunk" in document:
                    found.append(document)
    return found


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
