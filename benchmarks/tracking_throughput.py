"""How many job state changes per second `TrackingService.apply` records, out of order and twice.

Why: EventBridge delivers Batch's "Job State Change" events late, twice and out of order, and
tracking makes every write a compare-and-set or an insert under a derived id so that any order
gives the same job, runs and logs. This measures what that care costs per event on the memory
and SQLite document stores, and checks that the shuffled, duplicated stream ends in exactly the
records the in-order stream gives.

Each job goes SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING (attempt 1); RUNNABLE, STARTING,
RUNNING again for each retry (a fifth of the jobs retry once, a tenth twice); then SUCCEEDED.
Every attempt wrote two log lines. Half of the events are that sequence once; the other half
are copies drawn at random from it; then the whole stream is shuffled.

Baseline: the least any tracker that persists events must do — one ``get`` and one ``update``
of the job document per event, with no ordering, runs or logs (under a shuffled stream that
naive tracker ends with wrong statuses: it is a floor, not an alternative). Tracking the
deduplicated, in-order sequence is shown too, as the cost of the same records without chaos.
On SQLite a second floor sits below it: a raw ``sqlite3`` compare-and-set of a status and rank
per event, one transaction each, WAL — what the store's machinery costs over SQLite itself.

    python benchmarks/tracking_throughput.py             # 100,000 events
    python benchmarks/tracking_throughput.py --quick     # 3,000 events
    python benchmarks/tracking_throughput.py --events 20000 --stores memory
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attrs import frozen

from overlord.adapters.memory.clock import FixedClock
from overlord.adapters.memory.job_runner import MemoryJobRunner
from overlord.container import Container
from overlord.domain.job_events import JobStateChange
from overlord.domain.jobs import JobStatus
from overlord.settings import Settings
from overlord.testing import batch_event_sequence, memory_container

TENANT, CONNECTOR, DATABASE = "acme", "weather", "overlord-acme"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
FIRST_ATTEMPT = (
    JobStatus.SUBMITTED,
    JobStatus.PENDING,
    JobStatus.RUNNABLE,
    JobStatus.STARTING,
    JobStatus.RUNNING,
)
RETRY = (JobStatus.RUNNABLE, JobStatus.STARTING, JobStatus.RUNNING)
LOG_LINES = 2
SEED = 20260301


@frozen
class Plan:
    """How many attempts each job takes; job ``n`` is submitted with payload ``{"n": n}``."""

    attempts: tuple[int, ...]

    @classmethod
    def for_events(cls, events: int, rng: random.Random) -> Plan:
        """Enough jobs that their distinct events make half of ``events``."""
        attempts: list[int] = []
        distinct = 0
        while distinct < events // 2 or not attempts:
            count = rng.choices((1, 2, 3), weights=(7, 2, 1))[0]
            attempts.append(count)
            distinct += len(FIRST_ATTEMPT) + len(RETRY) * (count - 1) + 1
        return cls(tuple(attempts))


def prepared(plan: Plan, settings: Settings) -> Container:
    """A container with the tenant provisioned, every job submitted to the memory backend and
    every attempt's log lines written there (so tracking fetches and stores them)."""
    container = memory_container(settings, clock=FixedClock(T0))
    container.provisioning().apply(TENANT, CONNECTOR)
    jobs, runner = container.jobs(), container.job_runner()
    if not isinstance(runner, MemoryJobRunner):
        raise SystemExit(f"expected the memory job runner, got {type(runner).__name__}")
    for n, attempts in enumerate(plan.attempts):
        backend_id = jobs.submit(TENANT, CONNECTOR, "ingest", {"n": n}).job.backend_job_id
        assert backend_id is not None
        for attempt in range(1, attempts + 1):
            for line in range(LOG_LINES):
                runner.write_log(backend_id, attempt, f"attempt {attempt} line {line}")
    return container


def in_order_events(container: Container, plan: Plan) -> list[JobStateChange]:
    records = container.document_store().find(DATABASE, "jobs")
    by_payload = {doc["payload"]["n"]: doc for doc in records}
    events: list[JobStateChange] = []
    for n, attempts in enumerate(plan.attempts):
        doc = by_payload[n]
        events.extend(
            batch_event_sequence(TENANT, doc["_id"], doc["backend_job_id"], attempts, start=T0)
        )
    return events


def chaotic(events: list[JobStateChange], total: int, rng: random.Random) -> list[JobStateChange]:
    """Every event once plus random copies up to ``total``, shuffled."""
    stream = [*events, *rng.choices(events, k=max(0, total - len(events)))]
    rng.shuffle(stream)
    return stream


def records(container: Container) -> tuple[list[dict[str, Any]], ...]:
    """The jobs with their runs, and the stored log lines; without the jobs' versions, which
    count saves (fewer in order than shuffled) and are no part of what was recorded."""
    documents = container.document_store()
    jobs = [
        {k: v for k, v in d.items() if k != "version"} for d in documents.find(DATABASE, "jobs")
    ]
    return jobs, documents.find(DATABASE, "logs")


def timed_tracking(container: Container, events: list[JobStateChange]) -> float:
    tracking = container.tracking()
    started = time.perf_counter()
    applied = tracking.apply_all(events)
    elapsed = time.perf_counter() - started
    if applied != len(events):
        raise SystemExit(f"tracking ignored {len(events) - applied} of {len(events)} events")
    return elapsed


def timed_raw_writes(container: Container, events: list[JobStateChange]) -> float:
    """The floor: read the job document and overwrite its status, once per event."""
    documents = container.document_store()
    started = time.perf_counter()
    for event in events:
        if documents.get(DATABASE, "jobs", event.job_id) is None:
            raise SystemExit(f"job {event.job_id} vanished")
        documents.update(
            DATABASE,
            "jobs",
            event.job_id,
            {"status": event.status.value, "attempt": event.attempt, "updated_at": str(event.at)},
        )
    return time.perf_counter() - started


def timed_raw_sqlite(events: list[JobStateChange], path: Path) -> float:
    """The raw floor on SQLite: one ``UPDATE ... WHERE id = ? AND rank < ?`` compare-and-set per
    event in its own transaction, WAL and ``synchronous=NORMAL`` as the store uses, through
    Python's ``sqlite3`` with no documents, validation or records at all."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, status TEXT, rank INTEGER)")
    ids = sorted({event.job_id for event in events})
    connection.executemany("INSERT INTO jobs VALUES (?, 'SUBMITTED', 0)", [(i,) for i in ids])
    started = time.perf_counter()
    for event in events:
        rank = event.attempt * 100 + event.status.rank
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "UPDATE jobs SET status = ?, rank = ? WHERE id = ? AND rank < ?",
            (event.status.value, rank, event.job_id, rank),
        )
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


@frozen
class StoreResult:
    store: str
    raw: float
    in_order: float
    shuffled: float
    distinct: int
    total: int
    same_records: bool
    floor: float | None


def measure(store: str, plan: Plan, total: int, home: Path) -> StoreResult:
    ordered_container = prepared(plan, Settings(document_store=store, home=home / store / "a"))
    chaotic_container = prepared(plan, Settings(document_store=store, home=home / store / "b"))
    ordered = in_order_events(ordered_container, plan)
    if ordered != in_order_events(chaotic_container, plan):
        raise SystemExit("the two containers gave the jobs different ids")
    stream = chaotic(ordered, total, random.Random(SEED))
    in_order = timed_tracking(ordered_container, ordered)
    shuffled = timed_tracking(chaotic_container, stream)
    same = records(ordered_container) == records(chaotic_container)
    # The floor runs last, on the ordered container: it overwrites statuses it does not order.
    raw = timed_raw_writes(ordered_container, stream)
    floor = timed_raw_sqlite(stream, home / store / "floor.db") if store == "sqlite" else None
    return StoreResult(store, raw, in_order, shuffled, len(ordered), len(stream), same, floor)


def rows(result: StoreResult) -> Iterator[tuple[str, int, float]]:
    if result.floor is not None:
        yield "raw sqlite3 compare-and-set", result.total, result.floor
    yield "raw get+update of the job doc", result.total, result.raw
    yield "tracking, in order, deduplicated", result.distinct, result.in_order
    yield "tracking, shuffled + duplicated", result.total, result.shuffled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the stream")
    parser.add_argument("--quick", action="store_true", help="3,000 events, for a smoke run")
    parser.add_argument("--stores", default="memory,sqlite", help="comma-separated: memory, sqlite")
    args = parser.parse_args()
    total = 3_000 if args.quick else args.events
    plan = Plan.for_events(total, random.Random(SEED))
    results = []
    with tempfile.TemporaryDirectory(prefix="overlord-bench-") as home:
        for store in args.stores.split(","):
            results.append(measure(store.strip(), plan, total, Path(home)))
    retried = sum(a > 1 for a in plan.attempts)
    print(
        f"{len(plan.attempts)} jobs ({retried} with retries), {results[0].distinct} distinct "
        f"events, {total} in the shuffled stream; {LOG_LINES} log lines per attempt"
    )
    print(f"{'store':<8}{'what':<34}{'events':>8}{'seconds':>9}{'events/s':>10}{'vs raw':>9}")
    for result in results:
        floor = result.total / result.raw
        for name, count, elapsed in rows(result):
            rate = count / elapsed
            print(
                f"{result.store:<8}{name:<34}{count:>8}{elapsed:>9.2f}{rate:>10.0f}"
                f"{rate / floor:>8.2f}x"
            )
        verdict = "OK" if result.same_records else "MISMATCH"
        print(f"{result.store:<8}shuffled stream's jobs, runs, logs == in-order ones: {verdict}")
    print(
        json.dumps(
            {
                r.store: {
                    "raw": round(r.raw, 3),
                    "in_order": round(r.in_order, 3),
                    "shuffled": round(r.shuffled, 3),
                    "same_records": r.same_records,
                    "sqlite3_floor": None if r.floor is None else round(r.floor, 3),
                }
                for r in results
            }
        )
    )
    print(
        "baseline: one get + one update of the job document per event, no ordering, runs or "
        "logs — the least a tracker that persists events does; ratios are events/s over it. "
        "Floor (sqlite): one raw sqlite3 compare-and-set per event, no documents at all"
    )
    if not all(r.same_records for r in results):
        raise SystemExit("MISMATCH: the shuffled stream did not give the in-order records")


if __name__ == "__main__":
    main()
