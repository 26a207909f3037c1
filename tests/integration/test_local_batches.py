"""Batches on the local profile: SQLite records, chunks on the local engine's threads, tasks in
worker processes when a pipeline asks, and a batch whose process is killed mid-run resumed
without redoing what was recorded as done.

The tasks live in a module written to ``tmp_path`` and put on the path of this process and of
every child, as a user's own package would be installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import overlord
from overlord.container import Container
from overlord.domain.batches import BatchStatus, RequestStatus
from overlord.settings import Settings
from overlord.tasks import TaskContext

TASKS = """
import os
import sys
from pathlib import Path

import overlord

@overlord.task("crash-log")
def log_items(items, context):
    log = Path(os.environ["CRASH_TASKS_LOG"])
    block = log.with_name("block")
    if "e" in items and block.exists():
        print("blocked", flush=True)
        sys.stdin.readline()  # the test kills the process while it waits here
    with log.open("a") as out:
        out.write("".join(f"{item}\\n" for item in items))


@overlord.task("where-am-i")
def where(items, context):
    return {item: f"pid {os.getpid()}" for item in items}
"""

RUNNER = """
import sys
from pathlib import Path

import crash_tasks  # registers the tasks
from overlord.container import Container
from overlord.settings import Settings

container = Container.from_settings(Settings(profile="local", home=Path(sys.argv[1])))
body = {"batchId": "crashy", "totalItems": 6, "batchSize": 2, "currentBatch": 0,
        "itemIds": ["a", "b", "c", "d", "e", "f"]}
container.batches().start("acme", "weather", body, pipeline="crash-log")
"""

WAIT_SECONDS = 30


@pytest.fixture
def tasks_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "crash_tasks.py").write_text(TASKS)
    monkeypatch.setenv("CRASH_TASKS_LOG", str(tmp_path / "ran.log"))
    monkeypatch.syspath_prepend(str(folder))
    __import__("crash_tasks")
    return folder


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    container = Container.from_settings(Settings(profile="local", home=tmp_path / "home"))
    container.provisioning().apply("acme", "weather")
    container.provisioning().apply("acme", "batch-manager")
    yield container
    container.workflow().close()
    container.task_runner().close()


def body(items: list[str], batch_id: str, size: int = 2) -> dict[str, object]:
    return {
        "batchId": batch_id,
        "totalItems": len(items),
        "batchSize": size,
        "currentBatch": 0,
        "itemIds": items,
    }


def test_a_local_batch_runs_on_threads_and_its_records_are_in_sqlite(
    container: Container,
) -> None:
    items = [f"item-{n:03d}" for n in range(25)] + ["fail-x"]
    batches = container.batches()
    started = batches.start("acme", "batch-manager", body(items, "local-1", size=4))
    container.workflow().close()  # waits for the chunks the engine runs on its threads
    batch = batches.get("acme", "local-1")
    assert started.created
    assert batch.status is BatchStatus.PARTIALLY_FAILED
    assert (batch.counts["succeeded"], batch.counts["failed"], batch.chunk_count) == (25, 1, 7)
    store = container.document_store()
    assert store.count("overlord-acme", "requests", {"batch_id": "local-1"}) == 7  # per chunk
    retried = batches.retry("acme", "local-1")
    container.workflow().close()
    assert retried.attempts[-1].items == 1
    assert batches.get("acme", "local-1").status is BatchStatus.SUCCEEDED


def test_a_pipeline_may_run_its_tasks_in_worker_processes(
    container: Container, tasks_dir: Path
) -> None:
    batches = container.batches()
    batches.start(
        "acme", "batch-manager", body(["p", "q", "r"], "procs"), pipeline="cpu"
    )  # the sample tasks, on the cpu pipeline's process workers
    container.workflow().close()
    assert batches.get("acme", "procs").status is BatchStatus.SUCCEEDED
    assert batches.get("acme", "procs").workers.value == "processes"


def test_a_task_in_a_worker_process_really_runs_elsewhere(
    container: Container, tasks_dir: Path
) -> None:
    from overlord.adapters.tasks import InProcessTaskRunner
    from overlord.domain.pipeline_templates import Workers
    from overlord.tasks import TaskContext

    runner = InProcessTaskRunner(container.task_registry(), processes=1)
    context = TaskContext(
        tenant="acme",
        connector="weather",
        batch_id="b",
        pipeline="p",
        step="where-am-i",
        attempt=0,
        chunk=0,
    )
    try:
        here = runner.run("where-am-i", ["x"], context, workers=Workers.THREADS)
        there = runner.run("where-am-i", ["x"], context, workers=Workers.PROCESSES)
    finally:
        runner.close()
    assert here.results == {"x": f"pid {os.getpid()}"}
    assert there.results["x"] not in (None, f"pid {os.getpid()}")


def _ran(tmp_path: Path) -> list[str]:
    log = tmp_path / "ran.log"
    return log.read_text().split() if log.exists() else []


def test_a_batch_whose_process_was_killed_is_resumed_without_redoing_done_items(
    container: Container, tasks_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "block").touch()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tasks_dir), *sys.path])}
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(RUNNER), str(tmp_path / "home")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "blocked"
        batches = container.batches()
        deadline = time.monotonic() + WAIT_SECONDS
        # The other two chunks run on the dying process's other threads: wait for their records.
        while batches.get("acme", "crashy").counts["succeeded"] < 4:
            assert time.monotonic() < deadline, "the first chunks never finished"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    assert sorted(_ran(tmp_path)) == ["a", "b", "c", "d"]
    batch = batches.get("acme", "crashy")
    assert batch.status is BatchStatus.RUNNING
    assert batches.show("acme", "crashy").interrupted

    (tmp_path / "block").unlink()
    [resumed] = batches.sweep("acme")
    container.workflow().close()
    assert (resumed.batch_id, resumed.attempt, resumed.items) == ("crashy", 1, 2)
    assert sorted(_ran(tmp_path)) == ["a", "b", "c", "d", "e", "f"]  # nothing ran twice
    view = batches.show("acme", "crashy")
    assert view.batch.status is BatchStatus.SUCCEEDED
    attempts = {r.item_id: (r.status, r.attempt, r.attempts) for r in view.requests}
    assert attempts["a"] == (RequestStatus.SUCCEEDED, 0, 1)
    assert attempts["e"] == (RequestStatus.SUCCEEDED, 1, 1)


RELEASE = threading.Event()
STARTED: list[str] = []
_STARTED_LOCK = threading.Lock()
ALL_BUSY = threading.Barrier(4 + 1)  # the engine's four threads, and the test


@overlord.task("hold-until-released")
def hold(items: Sequence[str], context: TaskContext) -> None:
    with _STARTED_LOCK:
        STARTED.extend(items)
    ALL_BUSY.wait(WAIT_SECONDS)
    assert RELEASE.wait(WAIT_SECONDS)


def test_cancel_stops_chunks_from_starting_and_ends_the_batch_cancelled(
    container: Container,
) -> None:
    RELEASE.clear()
    STARTED.clear()
    batches = container.batches()
    items = [f"item-{n}" for n in range(8)]
    batches.start(
        "acme", "weather", body(items, "to-cancel", size=1), pipeline="hold-until-released"
    )
    ALL_BUSY.wait(WAIT_SECONDS)  # four chunks are in their step, four wait for a thread
    try:
        cancelled = batches.cancel("acme", "to-cancel", "not needed after all")
    finally:
        RELEASE.set()
    container.workflow().close()
    assert cancelled.cancel_reason == "not needed after all"
    assert len(STARTED) == 4  # the chunks waiting for a thread never started
    view = batches.show("acme", "to-cancel")
    assert view.batch.status is BatchStatus.CANCELLED
    assert {r.status for r in view.requests} == {RequestStatus.CANCELLED}
    assert view.batch.counts["cancelled"] == 8


def test_racing_starts_of_the_same_batch_record_and_run_it_once(
    container: Container, tasks_dir: Path, tmp_path: Path
) -> None:
    batches = container.batches()
    items = [f"r{n}" for n in range(6)]
    gate = threading.Barrier(6)
    results, errors = [], []

    def start() -> None:
        gate.wait(WAIT_SECONDS)
        try:
            results.append(
                batches.start("acme", "weather", body(items, "raced"), pipeline="crash-log")
            )
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    container.workflow().close()
    assert errors == []
    assert sum(result.created for result in results) == 1
    batch = batches.get("acme", "raced")
    assert (batch.status, len(batch.attempts)) == (BatchStatus.SUCCEEDED, 1)
    assert sorted(_ran(tmp_path)) == items  # every item ran once
