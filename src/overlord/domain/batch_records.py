"""A running batch as two kinds of record: one `BatchRecord` (the original system's BatchTable
row) and one `ChunkRecord` per chunk holding its items' requests (its RequestTable rows).

Items are kept per chunk because every writer works a chunk at a time: a step records the
outcome of all its items in one write, never one write per item, and writers of different
chunks never contend. Outcomes arrive late, twice or out of order (Step Functions retries,
racing threads, a resumed batch), so an item moves only forward: a step is applied to an item
only while the item is unfinished, in the same attempt, and waiting for exactly that step. A
retry or resume starts a new attempt; an outcome of an older attempt then matches nothing.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import repeat

from attrs import define, field, frozen

from overlord.domain.batches import BatchStatus, RequestStatus
from overlord.domain.errors import Conflict, IllegalTransition
from overlord.domain.pipeline_templates import Workers

# Attempt numbers and step positions are stored one character each (base 36) so that a chunk
# record stays small: a pipeline has at most MAX_STEPS steps, a batch at most MAX_ATTEMPTS.
MAX_ATTEMPTS = 35


class AttemptKind(enum.StrEnum):
    START = "start"
    RETRY = "retry"
    RESUME = "resume"


@frozen(kw_only=True)
class BatchAttempt:
    number: int
    kind: AttemptKind
    started_at: datetime
    chunks: int
    items: int
    execution_id: str | None = None


@frozen(kw_only=True)
class ItemView:
    """One request as people read it: where it got to, how often it was tried, and when."""

    item_id: str
    status: RequestStatus
    step: str | None
    attempts: int
    attempt: int
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


_FINISHED = frozenset((RequestStatus.SUCCEEDED, RequestStatus.FAILED, RequestStatus.CANCELLED))
_UNANSWERED = object()  # an item the results do not mention: it does not move


_COUNT_KEYS = tuple(status.value.lower() for status in RequestStatus)
_COUNT_KEY = {status: status.value.lower() for status in RequestStatus}


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(_COUNT_KEYS, 0)


@define(kw_only=True)
class ChunkRecord:
    """The requests of one chunk, as parallel lists (see the module docstring)."""

    batch_id: str
    chunk: int
    item_ids: tuple[str, ...]
    status: list[RequestStatus]
    reached: list[int]  # steps each item has completed
    rounds: list[int]  # the attempt each item is in
    tries: list[int]  # how many attempts each item has run in
    errors: dict[int, tuple[int, str]] = field(factory=dict)  # index -> (step, message)
    times: dict[tuple[int, int], tuple[datetime, datetime]] = field(factory=dict)
    version: int = 0

    @classmethod
    def new(cls, batch_id: str, chunk: int, item_ids: Sequence[str]) -> ChunkRecord:
        n = len(item_ids)
        return cls(
            batch_id=batch_id,
            chunk=chunk,
            item_ids=tuple(item_ids),
            status=[RequestStatus.PENDING] * n,
            reached=[0] * n,
            rounds=[0] * n,
            tries=[0] * n,
        )

    def counts(self) -> dict[str, int]:
        counts = zero_counts()
        for status, number in Counter(self.status).items():
            counts[_COUNT_KEY[status]] = number
        return counts

    def unfinished(self, attempt: int | None = None) -> list[int]:
        rounds = self.rounds
        return [
            i
            for i, status in enumerate(self.status)
            if status not in _FINISHED and (attempt is None or rounds[i] == attempt)
        ]

    def waiting_for(self, step: int, attempt: int) -> list[int]:
        """Positions of the items that step ``step`` of attempt ``attempt`` may run."""
        status, rounds, reached = self.status, self.rounds, self.reached
        n = len(status)
        if (
            reached.count(step) == n
            and rounds.count(attempt) == n
            and status.count(RequestStatus.PENDING) + status.count(RequestStatus.RUNNING) == n
        ):
            return list(range(n))  # the usual case, the chunk moving as one, counted in C
        return [
            i
            for i, state in enumerate(status)
            if state not in _FINISHED and rounds[i] == attempt and reached[i] == step
        ]

    def record_step(
        self,
        step: int,
        attempt: int,
        results: Mapping[str, str | None],
        *,
        last: bool,
        started: datetime,
        finished: datetime,
    ) -> int:
        """Apply a step's ``{item: error or None}``; return how many items moved."""
        waiting = self.waiting_for(step, attempt)
        ids = self.item_ids
        n = len(ids)
        if len(waiting) == n:  # (in C: every item's answer, in order)
            answers = list(map(results.get, ids, repeat(_UNANSWERED, n)))
        else:
            answers = [results.get(ids[i], _UNANSWERED) for i in waiting]
        moved = len(answers) - answers.count(_UNANSWERED)
        if not moved:
            return 0
        done = RequestStatus.SUCCEEDED if last else RequestStatus.RUNNING
        if len(waiting) == n and answers.count(None) == n:
            # Every item waited and succeeded: the same change for all, made list by list.
            pending = self.status.count(RequestStatus.PENDING)
            tries = self.tries
            if pending == n and tries.count(tries[0]) == n:
                tries[:] = [tries[0] + 1] * n  # every item starting its first (or next) try
            elif pending == n:
                tries[:] = [count + 1 for count in tries]
            elif pending:
                self._count_tries(range(n))
            self.status[:] = [done] * n
            self.reached[:] = [step + 1] * n
        else:
            self._count_tries(
                i for i, a in zip(waiting, answers, strict=True) if a is not _UNANSWERED
            )
            for i, error in zip(waiting, answers, strict=True):
                if error is _UNANSWERED:
                    continue
                if error is not None:
                    self.status[i] = RequestStatus.FAILED
                    self.errors[i] = (step, error)  # type: ignore[assignment]
                else:
                    self.reached[i] = step + 1
                    self.status[i] = done
        self.times[(attempt, step)] = (started, finished)
        return moved

    def _count_tries(self, positions: Iterable[int]) -> None:
        """A PENDING item that runs a step starts a new try."""
        for i in positions:
            if self.status[i] is RequestStatus.PENDING:
                self.tries[i] += 1

    def fail_unfinished(self, attempt: int, error: str, step: int | None = None) -> int:
        """Fail the items of ``attempt`` that never finished (their chunk broke as a whole)."""
        failed = 0
        for i in self.unfinished(attempt):
            if self.status[i] is RequestStatus.PENDING and self.reached[i] == 0:
                self.tries[i] += 1
            self.status[i] = RequestStatus.FAILED
            self.errors[i] = (self.reached[i] if step is None else step, error)
            failed += 1
        return failed

    def cancel(self, *, started_too: bool) -> int:
        """CANCELLED for items that never started (and, ``started_too``, every unfinished one:
        the execution has ended, so their remaining steps will never run)."""
        cancelled = 0
        for i in self.unfinished():
            never_ran = self.status[i] is RequestStatus.PENDING and self.reached[i] == 0
            if never_ran or started_too:
                self.status[i] = RequestStatus.CANCELLED
                cancelled += 1
        return cancelled

    def retry_failed(self, attempt: int) -> int:
        """FAILED items back to PENDING in ``attempt``, to run again from the step that failed
        them (the steps they passed are not repeated)."""
        retried = 0
        for i, status in enumerate(self.status):
            if status is RequestStatus.FAILED:
                self.status[i] = RequestStatus.PENDING
                self.rounds[i] = attempt
                self.reached[i] = self.errors.pop(i, (self.reached[i], ""))[0]
                retried += 1
        return retried

    def resume(self, attempt: int) -> int:
        """Unfinished items move to ``attempt``, keeping the steps they completed."""
        resumed = 0
        for i in self.unfinished():
            self.status[i] = RequestStatus.PENDING
            self.rounds[i] = attempt
            resumed += 1
        return resumed

    def views(self, steps: Sequence[str]) -> Iterator[ItemView]:
        for i, item in enumerate(self.item_ids):
            status, attempt = self.status[i], self.rounds[i]
            failed = self.errors.get(i)
            step_index = failed[0] if failed else self.reached[i] - 1
            ran = sorted(s for a, s in self.times if a == attempt)
            started = self.times[(attempt, ran[0])][0] if ran else None
            end = self.times.get((attempt, step_index)) if status.finished else None
            yield ItemView(
                item_id=item,
                status=status,
                step=steps[step_index] if 0 <= step_index < len(steps) else None,
                attempts=self.tries[i],
                attempt=attempt,
                error=failed[1] if failed else None,
                started_at=started,
                finished_at=end[1] if end else None,
            )


@define(kw_only=True)
class BatchRecord:
    """A batch's own record. Its ``counts`` and ``status`` are folded from its chunks by the
    service (`settle`); ``request_digest`` is how a repeated start recognises the same body."""

    id: str
    tenant: str
    connector: str
    pipeline: str
    steps: tuple[str, ...]
    batch_size: int
    total_items: int
    chunk_count: int
    current_batch: int
    workers: Workers
    request_digest: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    status: BatchStatus = BatchStatus.RUNNING
    counts: dict[str, int] = field(factory=zero_counts)
    attempts: list[BatchAttempt] = field(factory=list)
    cancel_reason: str | None = None
    version: int = 0

    @property
    def finished(self) -> bool:
        return self.status is not BatchStatus.RUNNING

    @property
    def current(self) -> BatchAttempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def cancelling(self) -> bool:
        return self.cancel_reason is not None

    def begin(self, kind: AttemptKind, *, chunks: int, items: int, at: datetime) -> BatchAttempt:
        if kind is not AttemptKind.START and self.cancelling:
            raise IllegalTransition(f"batch {self.id} was cancelled")
        if len(self.attempts) >= MAX_ATTEMPTS:
            raise Conflict(
                f"batch {self.id} has had its {MAX_ATTEMPTS} attempts; start a new batch "
                "with the items that are left"
            )
        attempt = BatchAttempt(
            number=len(self.attempts), kind=kind, started_at=at, chunks=chunks, items=items
        )
        self.attempts.append(attempt)
        self.status = BatchStatus.RUNNING
        self.finished_at = None
        self.updated_at = max(self.updated_at, at)
        return attempt

    def request_cancel(self, reason: str, *, at: datetime) -> None:
        if self.finished:
            raise IllegalTransition(f"batch {self.id} has already finished ({self.status})")
        self.cancel_reason = reason
        self.updated_at = max(self.updated_at, at)

    def started(self, number: int, execution_id: str) -> None:
        old = self.attempts[number]
        self.attempts[number] = BatchAttempt(
            number=old.number,
            kind=old.kind,
            started_at=old.started_at,
            chunks=old.chunks,
            items=old.items,
            execution_id=execution_id,
        )

    def settle(self, counts: Mapping[str, int], at: datetime) -> bool:
        """Take the counts folded from the chunks; the status follows them. True if changed."""
        before = (self.status, self.counts)
        self.counts = dict(counts)
        if counts.get("pending", 0) or counts.get("running", 0):
            status = BatchStatus.RUNNING
        elif counts.get("cancelled", 0):
            status = BatchStatus.CANCELLED
        elif not counts.get("failed", 0):
            status = BatchStatus.SUCCEEDED
        elif not counts.get("succeeded", 0):
            status = BatchStatus.FAILED
        else:
            status = BatchStatus.PARTIALLY_FAILED
        self.status = status
        if (self.status, self.counts) == before:
            return False
        self.updated_at = max(self.updated_at, at)
        self.finished_at = at if self.finished else None
        return True
