"""What running a batch through Overlord's local engine costs per item, with every record.

Why: a batch manager earns its keep with records (the batch, each item's status, step, attempts,
error and timings), chunking, retry and resume; this says what those cost against doing the
same work with no platform at all. 100,000 items in chunks of 100 go through two trivial tasks:

- **plain loop** — a Python loop calling the two task functions on each chunk in turn;
- **ThreadPoolExecutor.map** — the same calls, one chunk per call, on 4 threads (the local
  engine's default pool size);
- **BatchService, local engine** — ``BatchService.start`` on the local profile: the batch and
  its 1,000 request records in SQLite, chunks by reference on the local engine's 4 threads,
  each step's outcomes written per chunk, the batch settled from its chunks at the end;
- **... with records in memory** — the same engine with the memory document store, to show
  how much of the figure is SQLite.

All rows run in one process, one after the other, on the same chunks; each figure is printed
beside both baselines as a ratio, and the overhead per item is the difference to each baseline
divided by the number of items. The last column is the CPU time the process spent on the row
(every thread): on a shared host the wall time also holds the time other processes had the
cores, and the CPU time is the figure that does not move with them.

    python benchmarks/batch_overhead.py             # 100,000 items, chunks of 100
    python benchmarks/batch_overhead.py --quick     # 10,000 items
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dependency_injector import providers

import overlord
from overlord.adapters.memory.document_store import MemoryDocumentStore
from overlord.container import Container
from overlord.domain.batches import BatchStatus
from overlord.settings import Settings
from overlord.tasks import TaskContext

CHUNK = 100
WORKERS = 4


@overlord.task("bench-first")
def first(items: Sequence[str], context: TaskContext) -> None:
    """Trivial work: nothing to fail, so the figure is the platform's."""


@overlord.task("bench-second")
def second(items: Sequence[str], context: TaskContext) -> None:
    """The second trivial step."""


CONTEXT = TaskContext(
    tenant="acme", connector="weather", batch_id="b", pipeline="p", step="s", attempt=0, chunk=0
)


Timing = tuple[float, float]  # wall seconds, and CPU seconds of this process (all threads)


def _now() -> Timing:
    return time.perf_counter(), time.process_time()


def _since(started: Timing) -> Timing:
    wall, cpu = _now()
    return wall - started[0], cpu - started[1]


def plain(chunks: list[list[str]]) -> Timing:
    started = _now()
    for chunk in chunks:
        first(chunk, CONTEXT)
        second(chunk, CONTEXT)
    return _since(started)


def pooled(chunks: list[list[str]]) -> Timing:
    def both(chunk: list[str]) -> None:
        first(chunk, CONTEXT)
        second(chunk, CONTEXT)

    started = _now()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(both, chunks))
    return _since(started)


def engine(items: list[str], *, memory_records: bool) -> Timing:
    home = Path(tempfile.mkdtemp(prefix="overlord-bench-"))
    container = Container.from_settings(Settings(profile="local", home=home))
    if memory_records:
        container.document_store.override(providers.Object(MemoryDocumentStore()))
    container.provisioning().apply("acme", "weather")
    body = {
        "batchId": "bench",
        "totalItems": len(items),
        "batchSize": CHUNK,
        "currentBatch": 0,
        "itemIds": items,
    }
    batches = container.batches()
    started = _now()
    batches.start("acme", "weather", body, pipeline=["bench-first", "bench-second"])
    container.workflow().close()  # every chunk has run and written its records
    batch = batches.get("acme", "bench")  # folded and settled from the chunk records
    elapsed = _since(started)
    if batch.status is not BatchStatus.SUCCEEDED or batch.counts["succeeded"] != len(items):
        raise SystemExit(f"the batch ended {batch.status} with {batch.counts}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 items instead of 100,000")
    args = parser.parse_args()
    n = 10_000 if args.quick else 100_000
    items = [f"item-{i:07d}" for i in range(n)]
    chunks = [items[i : i + CHUNK] for i in range(0, n, CHUNK)]
    plain(chunks)  # warm up
    rows: list[tuple[str, Callable[[], Timing]]] = [
        ("plain loop", lambda: plain(chunks)),
        (f"ThreadPoolExecutor.map ({WORKERS} threads)", lambda: pooled(chunks)),
        (
            "BatchService, local engine (SQLite records)",
            lambda: engine(items, memory_records=False),
        ),
        ("BatchService, local engine (memory records)", lambda: engine(items, memory_records=True)),
    ]
    results = []
    for name, run in rows:
        gc.collect()  # each row starts without the garbage of the one before
        results.append((name, *run()))
    base_loop, base_pool = results[0][1], results[1][1]
    print(f"{n:,} items in {len(chunks):,} chunks of {CHUNK}, two trivial steps")
    print(
        f"{'':46} {'seconds':>9} {'x loop':>9} {'x pool':>9} {'us/item vs loop':>16} "
        f"{'us/item vs pool':>16} {'CPU s':>7}"
    )
    for name, seconds, cpu in results:
        print(
            f"{name:46} {seconds:9.3f} {seconds / base_loop:9.1f} {seconds / base_pool:9.1f} "
            f"{(seconds - base_loop) / n * 1e6:16.2f} {(seconds - base_pool) / n * 1e6:16.2f} "
            f"{cpu:7.3f}"
        )
    summary = {"items": n, "chunk": CHUNK, "seconds": {name: s for name, s, _ in results}}
    summary["cpu_seconds"] = {name: cpu for name, _, cpu in results}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
