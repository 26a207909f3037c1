"""Folding what the engine knows into a batch's records, and saving records safely.

Steps record their own items. What they cannot record is what happened to a chunk as a whole:
its step Lambda failed for good, the execution was stopped (cancel), or it died (the local
process killed, a Step Functions execution failed). Once an execution has ended, its
unfinished items of that attempt are FAILED (their chunk failed), CANCELLED (the batch was
cancelled) or left for `resume` (anything else: the batch is *interrupted*). The batch's counts
and status are always recomputed from its chunks, never incremented, so a fold repeated after a
crash lands on the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial

from overlord.domain.batch_records import BatchRecord, ChunkRecord, zero_counts
from overlord.domain.batches import RequestStatus
from overlord.domain.chunk_outcomes import ChunkOutcome, chunk_outcomes, failure_text
from overlord.domain.errors import BackendError, NotFound
from overlord.domain.pipelines import ExecutionState, ExecutionStatus
from overlord.domain.step_calls import FinishCall
from overlord.ports.clock import Clock
from overlord.ports.workflow import Workflow
from overlord.services.batch_store import BatchStore

_TRIES = 20
NO_OUTCOME = "its chunk ended without an outcome for this item"
MAP_FAILED = "its chunk's step failed for good; see the execution"


class Folding:
    def __init__(self, store: BatchStore, workflow: Workflow, clock: Clock) -> None:
        self._store = store
        self._workflow = workflow
        self._clock = clock

    def update(self, record: BatchRecord, change: Callable[[BatchRecord], object]) -> BatchRecord:
        """Apply ``change`` and save; re-read and re-apply on losing a race. A change that
        returns False changed nothing and is not written."""
        for _ in range(_TRIES):
            if change(record) is False:
                return record
            if self._store.save_batch(record):
                return record
            fresh = self._store.batch(record.tenant, record.id)
            if fresh is None:
                raise NotFound(f"batch {record.id} is gone")
            record = fresh
        raise BackendError(f"batch {record.id}: too many concurrent writers")

    def change_chunk(
        self, tenant: str, chunk: ChunkRecord, change: Callable[[ChunkRecord], int]
    ) -> ChunkRecord:
        """Apply ``change`` (returning how many items it moved) and save, as `update` does."""
        for _ in range(_TRIES):
            if not change(chunk) or self._store.save_chunk(tenant, chunk):
                return chunk
            fresh = self._store.chunk(tenant, chunk.batch_id, chunk.chunk)
            if fresh is None:
                raise NotFound(f"chunk {chunk.chunk} of batch {chunk.batch_id} is gone")
            chunk = fresh
        raise BackendError(f"chunk {chunk.chunk} of batch {chunk.batch_id}: too many writers")

    def _state(self, record: BatchRecord) -> ExecutionState | None:
        attempt = record.current
        if attempt is None or attempt.execution_id is None:
            return None
        return self._workflow.describe(attempt.execution_id)

    def interrupted(self, record: BatchRecord) -> bool:
        """Unfinished, not being cancelled, and nothing is running it any more."""
        if record.finished or record.cancelling:
            return False
        state = self._state(record)
        return state is None or state.status.finished

    def refresh(self, record: BatchRecord) -> BatchRecord:
        """Fold an ended execution in, then settle counts and status from the chunks."""
        if record.finished:
            return record
        counts = self._store.chunk_counts(record.tenant, record.id)
        state = self._state(record)
        attempt = record.current
        if attempt is not None and state is not None and state.status.finished:
            open_chunks = [n for n, c in counts.items() if c.get("pending") or c.get("running")]
            chunks = [
                c for n in open_chunks if (c := self._store.chunk(record.tenant, record.id, n))
            ]
            if state.status is ExecutionStatus.SUCCEEDED:
                chunks = self._fail_unfinished(record, attempt.number, chunks, state.chunks)
            elif record.cancelling:
                chunks = [
                    self.change_chunk(record.tenant, c, lambda c: c.cancel(started_too=True))
                    for c in chunks
                ]
            counts.update((c.chunk, c.counts()) for c in chunks)
        return self._settle(record, counts.values())

    def finish(self, record: BatchRecord, call: FinishCall) -> BatchRecord:
        """What a state machine's last state reports: chunk documents, and the failure of the
        whole map over the chunks, if it failed."""
        chunks = self._store.chunks(record.tenant, record.id)
        outcomes = list(chunk_outcomes(call.outcomes))
        default = failure_text(call.failure) if call.failure is not None else MAP_FAILED
        chunks = self._fail_unfinished(record, call.batch.attempt, chunks, outcomes, default)
        return self._settle(record, [c.counts() for c in chunks])

    def _fail_unfinished(
        self,
        record: BatchRecord,
        attempt: int,
        chunks: list[ChunkRecord],
        outcomes: Iterable[ChunkOutcome],
        default: str = NO_OUTCOME,
    ) -> list[ChunkRecord]:
        failed = {o.chunk: o for o in outcomes if o.status is RequestStatus.FAILED}
        folded = []
        for chunk in chunks:
            if chunk.unfinished(attempt):
                outcome = failed.get(chunk.chunk)
                error = outcome.error if outcome and outcome.error else default
                step = None
                if outcome is not None and outcome.step in record.steps:
                    step = record.steps.index(outcome.step)
                chunk = self.change_chunk(
                    record.tenant,
                    chunk,
                    partial(ChunkRecord.fail_unfinished, attempt=attempt, error=error, step=step),
                )
            folded.append(chunk)
        return folded

    def _settle(self, record: BatchRecord, chunks: Iterable[Mapping[str, int]]) -> BatchRecord:
        counts = _sum(chunks)
        now = self._clock.now()
        return self.update(record, lambda r: r.settle(counts, now))


def _sum(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total = zero_counts()
    for one in counts:
        for key, value in one.items():
            total[key] = total.get(key, 0) + value
    return total
