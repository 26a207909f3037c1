"""A SQLite document store gives its files back: on `close`, and when it is dropped unclosed.

A process that opens stores under many homes (a test run, a service hosting many platforms)
would otherwise hold descriptors for every database it ever wrote to, and a worker that has
run all day meets the descriptor limit, or ``select()``'s 1,024.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from pathlib import Path

from overlord.adapters.local.document_store import SqliteDocumentStore


def open_under(root: Path) -> list[str]:
    found = []
    for entry in os.scandir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(entry.path)
            if target.startswith(str(root)):
                found.append(target)
    return found


def write_from_threads(store: SqliteDocumentStore) -> None:
    store.ensure_collection("overlord-acme", "runs")
    threads = [
        threading.Thread(target=store.insert, args=("overlord-acme", "runs", {"_id": f"r{i}"}))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_a_closed_store_holds_no_file_and_works_again_when_used(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path)
    write_from_threads(store)
    assert open_under(tmp_path) != []

    store.close()

    assert open_under(tmp_path) == []
    store.insert("overlord-acme", "runs", {"_id": "after"})
    assert store.count("overlord-acme", "runs") == 5


def test_a_store_dropped_unclosed_gives_its_files_back(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path)
    write_from_threads(store)
    other = SqliteDocumentStore(tmp_path)  # shares the writer while either is alive
    other.insert("overlord-acme", "runs", {"_id": "other"})

    del store
    gc.collect()
    assert other.count("overlord-acme", "runs") == 5
    del other
    gc.collect()

    assert open_under(tmp_path) == []
