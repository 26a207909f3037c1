"""One step of one chunk of a batch: what ``pipeline_step_handler`` does on AWS and what the
local and memory engines call for every step.

The chunk's items come from its request record (chunks travel by reference); the step runs the
items that are waiting for it in this attempt, and their outcomes are written back in one
compare-and-set of that record. A repeated call (Step Functions retrying a Lambda whose answer
was lost) finds its items already past the step and runs nothing; a call of an attempt since
retried or resumed matches no item. The record the store last wrote is used when it still has
it (`BatchStore.recent`): the version check on every write, not that copy, keeps it right.
"""

from __future__ import annotations

import threading
from typing import Any

from attrs import frozen

from overlord.domain.batch_records import ChunkRecord
from overlord.domain.errors import BackendError, InvalidInput, NotFound
from overlord.domain.pipeline_templates import Workers
from overlord.domain.pipelines import StepCall
from overlord.domain.tasks import TaskContext, unanswered
from overlord.ports.clock import Clock
from overlord.ports.tasks import TaskRunner
from overlord.services.batch_store import BatchStore

_WRITE_TRIES = 20


@frozen
class StepReport:
    chunk: int
    step: str
    ran: int
    succeeded: int
    failed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "chunk": self.chunk,
            "step": self.step,
            "ran": self.ran,
            "succeeded": self.succeeded,
            "failed": self.failed,
        }


@frozen
class _Header:
    pipeline: str
    steps: tuple[str, ...]
    workers: Workers


class BatchSteps:
    def __init__(self, *, store: BatchStore, runner: TaskRunner, clock: Clock) -> None:
        self._store = store
        self._runner = runner
        self._clock = clock
        self._lock = threading.Lock()
        self._headers: dict[tuple[str, str], _Header] = {}

    def run(self, call: StepCall) -> StepReport:
        """Run ``call.step`` over the chunk's waiting items and record their outcomes."""
        ref = call.batch
        if ref is None:
            raise InvalidInput("step call: a batch step needs its batch (tenant, batch_id)")
        header = self._header(ref.tenant, ref.batch_id)
        if call.step not in header.steps:
            raise InvalidInput(f"batch {ref.batch_id} runs {list(header.steps)}, not {call.step}")
        position = header.steps.index(call.step)
        key = (ref.tenant, ref.batch_id, call.chunk)
        chunk = self._store.recent(*key) or self._reload(key)
        todo = _waiting(chunk, position, ref.attempt)
        if not todo:  # a kept record may be behind: only the stored one can say "nothing"
            chunk = self._reload(key)
            todo = _waiting(chunk, position, ref.attempt)
        if not todo:
            return StepReport(call.chunk, call.step, 0, 0, 0)
        context = TaskContext(
            tenant=ref.tenant,
            connector=ref.connector,
            batch_id=ref.batch_id,
            pipeline=header.pipeline,
            step=call.step,
            attempt=ref.attempt,
            chunk=call.chunk,
        )
        started = self._clock.now()
        outcome = self._runner.run(call.step, todo, context, workers=header.workers)
        finished = self._clock.now()
        # What the task answered for stands; the rest failed with its exception, if any.
        results = outcome.results
        if len(results) != len(todo) or not all(map(results.__contains__, todo)):
            missing = outcome.error or unanswered(call.step)
            results = {item: results.get(item, missing) for item in todo}
        last = position == len(header.steps) - 1
        for _ in range(_WRITE_TRIES):
            moved = chunk.record_step(
                position, ref.attempt, results, last=last, started=started, finished=finished
            )
            if not moved or self._store.save_chunk(ref.tenant, chunk):
                break  # (nothing moved: cancelled meanwhile, or another call was first)
            chunk = self._reload(key)
        else:
            raise BackendError(f"chunk {call.chunk} of batch {ref.batch_id}: too many writers")
        failed = len(results) - list(results.values()).count(None)
        return StepReport(call.chunk, call.step, len(todo), len(todo) - failed, failed)

    def _header(self, tenant: str, batch_id: str) -> _Header:
        with self._lock:
            found = self._headers.get((tenant, batch_id))
        if found is None:
            record = self._store.batch(tenant, batch_id)
            if record is None:
                raise NotFound(f"tenant {tenant!r} has no batch {batch_id!r}")
            found = _Header(record.pipeline, record.steps, record.workers)
            with self._lock:  # a batch's steps never change, so this is never stale
                self._headers[(tenant, batch_id)] = found
        return found

    def _reload(self, key: tuple[str, str, int]) -> ChunkRecord:
        found = self._store.chunk(*key)
        if found is None:
            raise NotFound(f"batch {key[1]} of tenant {key[0]!r} has no chunk {key[2]}")
        return found


def _waiting(chunk: ChunkRecord, position: int, attempt: int) -> list[str]:
    """The ids of the items waiting for the step (usually all of them, copied in one go)."""
    waiting = chunk.waiting_for(position, attempt)
    if len(waiting) == len(chunk.item_ids):
        return list(chunk.item_ids)
    return [chunk.item_ids[i] for i in waiting]
