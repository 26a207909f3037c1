"""Local submission throughput: jobs per second `JobService.submit` records on the local profile.

Why: on the local profile a submission is a SQLite ledger insert, the backend submit and the
compare-and-set that records the backend id. This separates the platform's own cost (submitting
to the in-process memory runner) from the cost of the real local runner, which writes a job
directory and starts a detached supervisor process per job, and compares both with writing the
same job records straight into SQLite.

Baseline: `SqliteDocumentStore.insert` of the very documents submit writes (the one write a
submission cannot skip). For reference, plain ``sqlite3`` inserting the same JSON on one open
connection, one committed transaction per record, shows what the adapter's connection-per-call
design costs. Everything lives under a temporary OVERLORD_HOME; the tenant is provisioned with
the weather connector, and the real runner's jobs are waited for, so none outlives the run.

    python benchmarks/local_submission.py                # 2,000 jobs; 100 on the real runner
    python benchmarks/local_submission.py --quick        # 200 jobs; 10 on the real runner
    python benchmarks/local_submission.py --jobs 500 --local-jobs 20
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dependency_injector import providers

from overlord.adapters.local.document_store import SqliteDocumentStore
from overlord.adapters.memory.job_runner import MemoryJobRunner
from overlord.container import Container
from overlord.domain.jobs import Job, JobStatus
from overlord.domain.names import ConnectorName, TenantName
from overlord.services.job_records import job_to_document
from overlord.settings import Settings

TENANT, CONNECTOR, JOB_TYPE = "acme", "weather", "ingest"
HOUR0 = datetime(2026, 1, 1, tzinfo=UTC)
WAIT_SECONDS = 300


def payloads(count: int, offset: int = 0) -> list[dict[str, Any]]:
    """Distinct requests (so each names a new job) that the weather sample job accepts."""
    return [
        {"stations": ["KSEA"], "hour": (HOUR0 + timedelta(hours=offset + n)).isoformat()}
        for n in range(count)
    ]


def local_container(home: Path) -> Container:
    """The local profile from OVERLORD_HOME alone, with the tenant provisioned."""
    settings = Settings.load(
        environ={"OVERLORD_PROFILE": "local", "OVERLORD_HOME": str(home)},
        config_file=home / "overlord.toml",  # absent: ignore any overlord.toml in the cwd
    )
    container = Container.from_settings(settings)
    container.provisioning().apply(TENANT, CONNECTOR)
    return container


def timed(action: Callable[[dict[str, Any]], None], requests: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for payload in requests:
        action(payload)
    return time.perf_counter() - started


def submit_with(container: Container, requests: list[dict[str, Any]]) -> float:
    jobs = container.jobs()

    def submit(payload: dict[str, Any]) -> None:
        if not jobs.submit(TENANT, CONNECTOR, JOB_TYPE, payload).created:
            raise SystemExit(f"{payload} was already submitted")

    return timed(submit, requests)


def wait_until_finished(container: Container, count: int) -> int:
    """Refresh until every local job has finished; returns how many succeeded."""
    jobs = container.jobs()
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        jobs.refresh(TENANT)
        listed = jobs.list(TENANT)
        if len(listed) == count and all(job.finished for job in listed):
            return sum(job.status is JobStatus.SUCCEEDED for job in listed)
        time.sleep(0.5)
    raise SystemExit(f"the local jobs did not finish within {WAIT_SECONDS} s")


def documents_of(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The job documents submit inserts for these requests (before the backend id is set)."""
    now = datetime.now(UTC)
    tenant, connector = TenantName(TENANT), ConnectorName(CONNECTOR)
    return [
        job_to_document(
            Job.request(tenant=tenant, connector=connector, job_type=JOB_TYPE, payload=p, at=now)
        )
        for p in requests
    ]


def adapter_inserts(home: Path, documents: list[dict[str, Any]]) -> float:
    store = SqliteDocumentStore(home)
    store.ensure_collection("baseline", "jobs")
    started = time.perf_counter()
    for document in documents:
        store.insert("baseline", "jobs", document)
    return time.perf_counter() - started


def plain_sqlite_inserts(home: Path, documents: list[dict[str, Any]]) -> float:
    connection = sqlite3.connect(home / "plain.sqlite3", isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE jobs (_id TEXT PRIMARY KEY, doc TEXT) WITHOUT ROWID")
        started = time.perf_counter()
        for document in documents:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT INTO jobs VALUES (?, ?)", (document["_id"], json.dumps(document))
            )
            connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs for the memory runner")
    parser.add_argument("--local-jobs", type=int, default=100, help="jobs for the real runner")
    parser.add_argument("--quick", action="store_true", help="200 and 10 jobs, for a smoke run")
    args = parser.parse_args()
    count, local_count = (200, 10) if args.quick else (args.jobs, args.local_jobs)
    requests = payloads(count)
    with tempfile.TemporaryDirectory(prefix="overlord-bench-") as tmp:
        home = Path(tmp)
        plain = plain_sqlite_inserts(home, documents_of(requests))
        baseline = adapter_inserts(home / "baseline", documents_of(requests))

        memory_runner = local_container(home / "memory-runner")
        memory_runner.job_runner.override(providers.Object(MemoryJobRunner()))
        with_memory_runner = submit_with(memory_runner, requests)

        real_runner = local_container(home / "local-runner")
        with_local_runner = submit_with(real_runner, payloads(local_count, offset=count))
        succeeded = wait_until_finished(real_runner, local_count)

    rate = count / baseline
    print(f"local profile, SQLite documents under a temporary OVERLORD_HOME; tenant {TENANT}")
    print(f"{'what':<48}{'jobs':>6}{'seconds':>9}{'jobs/s':>9}{'vs insert':>11}")
    for name, jobs, elapsed in (
        ("plain sqlite3 INSERT, one open connection", count, plain),
        ("SqliteDocumentStore.insert (baseline)", count, baseline),
        ("JobService.submit, memory runner", count, with_memory_runner),
        ("JobService.submit, real local runner", local_count, with_local_runner),
    ):
        per_second = jobs / elapsed
        print(f"{name:<48}{jobs:>6}{elapsed:>9.2f}{per_second:>9.0f}{per_second / rate:>10.2f}x")
    print(f"real local runner: {succeeded} of {local_count} jobs SUCCEEDED")
    print(
        json.dumps(
            {
                "plain_sqlite3": round(plain, 3),
                "adapter_insert": round(baseline, 3),
                "submit_memory_runner": round(with_memory_runner, 3),
                "submit_local_runner": round(with_local_runner, 3),
            }
        )
    )
    print(
        "baseline: SqliteDocumentStore.insert of the same job documents; ratios are jobs/s "
        "over its jobs/s"
    )


if __name__ == "__main__":
    main()
