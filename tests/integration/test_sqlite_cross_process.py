"""The embedded default under real concurrency: OS processes sharing files on one disk.

Threads in one process cannot show that SQLite's compare-and-set holds across processes, nor that
the local object store never follows a link someone planted in a bucket folder; these tests use
separate ``spawn`` processes and a real filesystem.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.adapters.local.document_store import SqliteDocumentStore
from overlord.adapters.local.object_store import LocalObjectStore
from overlord.domain.errors import Conflict, DuplicateKey, InvalidName, NotFound
from overlord.domain.infrastructure import BucketSpec

DATABASE = "overlord-acme"
PROCESSES = 4
INCREMENTS = 40  # per process
LOST = 3  # exit status of a process whose insert was refused


def _increment(root: str, worker: int, start: Barrier) -> None:
    store = SqliteDocumentStore(Path(root))
    start.wait()
    done = 0
    while done < INCREMENTS:
        current = store.get(DATABASE, "counters", "counter")
        assert current is not None
        n = current["n"]
        if store.update(DATABASE, "counters", "counter", {"n": n + 1}, expected={"n": n}):
            done += 1


def _claim(root: str, worker: int, start: Barrier) -> None:
    store = SqliteDocumentStore(Path(root))
    start.wait()
    try:
        store.insert(DATABASE, "claims", {"_id": "leader", "worker": worker})
    except DuplicateKey:
        sys.exit(LOST)


def _remake(root: str) -> None:
    store = SqliteDocumentStore(Path(root))
    store.drop_database(DATABASE)
    store.ensure_collection(DATABASE, "jobs")
    store.insert(DATABASE, "jobs", {"_id": "new", "n": 2})


def _run(target: Callable[[str, int, Barrier], None], root: Path) -> list[int]:
    """Exit codes of ``target(root, worker, barrier)`` in processes released all at once."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES, timeout=120)
    processes = [
        context.Process(target=target, args=(str(root), worker, start))
        for worker in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    codes: list[int] = []
    for process in processes:
        process.join(timeout=180)
        if process.exitcode is None:
            process.kill()
            pytest.fail(f"worker process {process.pid} did not finish")
        codes.append(process.exitcode)
    return codes


def test_processes_racing_a_compare_and_set_lose_no_increment(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path)
    store.ensure_collection(DATABASE, "counters")
    store.insert(DATABASE, "counters", {"_id": "counter", "n": 0})
    assert _run(_increment, tmp_path) == [0] * PROCESSES
    expected = {"_id": "counter", "n": PROCESSES * INCREMENTS}
    assert store.get(DATABASE, "counters", "counter") == expected


def test_processes_inserting_the_same_id_have_exactly_one_winner(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path)
    store.ensure_collection(DATABASE, "claims")
    codes = _run(_claim, tmp_path)
    assert sorted(codes) == [0] + [LOST] * (PROCESSES - 1)
    winner = codes.index(0)
    assert store.find(DATABASE, "claims") == [{"_id": "leader", "worker": winner}]


# the local object store and symlinks


@pytest.fixture
def planted(tmp_path: Path) -> tuple[LocalObjectStore, Path, Path]:
    """A bucket holding a link to an outside folder and a link to an outside file."""
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_bucket(BucketSpec("overlord-acme-weather"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    bucket = tmp_path / "objects" / "overlord-acme-weather"
    (bucket / "folder-link").symlink_to(outside, target_is_directory=True)
    (bucket / "file-link").symlink_to(outside / "secret.txt")
    return store, bucket, outside


def test_a_link_in_a_bucket_is_never_read_through(
    planted: tuple[LocalObjectStore, Path, Path],
) -> None:
    store, _, _ = planted
    for key in ("file-link", "folder-link/secret.txt"):
        with pytest.raises(NotFound):
            store.get_object("overlord-acme-weather", key)
    assert store.list_objects("overlord-acme-weather") == []
    assert store.list_objects("overlord-acme-weather", "folder-link/") == []


def test_a_link_in_a_bucket_is_never_written_or_deleted_through(
    planted: tuple[LocalObjectStore, Path, Path],
) -> None:
    store, bucket, outside = planted
    with pytest.raises(Conflict):
        store.put_object("overlord-acme-weather", "folder-link/new.txt", b"escaped")
    with pytest.raises(Conflict):
        store.put_many("overlord-acme-weather", {"folder-link/a/b.txt": b"escaped"})
    store.delete_object("overlord-acme-weather", "folder-link/secret.txt")
    store.delete_object("overlord-acme-weather", "file-link")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"
    store.put_object("overlord-acme-weather", "file-link", b"replaces the link itself")
    assert not (bucket / "file-link").is_symlink()
    assert (outside / "secret.txt").read_bytes() == b"secret"
    store.delete_bucket("overlord-acme-weather", purge=True)
    assert (outside / "secret.txt").read_bytes() == b"secret"


def test_a_bucket_folder_that_is_a_link_is_not_a_bucket(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.ensure_bucket(BucketSpec("real-bucket"))
    (tmp_path / "objects" / "linked-bucket").symlink_to(tmp_path / "objects" / "real-bucket")
    assert store.describe_bucket("linked-bucket") is None
    with pytest.raises(NotFound):
        store.put_object("linked-bucket", "k", b"x")
    with pytest.raises(Conflict):
        store.ensure_bucket(BucketSpec("linked-bucket"))


_PIECE = st.sampled_from(["..", ".", "", "a", "b", "\\", "/", "~", "é", "\x00", "x" * 300])


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=st.lists(st.lists(_PIECE, max_size=6).map("".join), max_size=6))
def test_no_key_writes_outside_its_bucket(tmp_path: Path, keys: list[str]) -> None:
    root = tmp_path / f"case-{os.urandom(6).hex()}"
    store = LocalObjectStore(root / "objects")
    store.ensure_bucket(BucketSpec("overlord-acme-weather"))
    stored = set()
    for key in keys:
        try:
            store.put_object("overlord-acme-weather", key, b"x")
            stored.add(key)
        except (InvalidName, Conflict):
            pass
    written = {str(path.relative_to(root)) for path in root.rglob("*") if not path.is_dir()} - {
        "objects/.overlord/buckets/overlord-acme-weather.json"
    }
    assert written == {f"objects/overlord-acme-weather/{key}" for key in stored}


def test_a_kept_connection_never_outlives_a_database_dropped_and_made_again(
    tmp_path: Path,
) -> None:
    # Each store keeps its connections open between calls: a database another store dropped
    # and made again must be read afresh, never through the connection to the deleted file.
    keeper, other = SqliteDocumentStore(tmp_path), SqliteDocumentStore(tmp_path)
    keeper.ensure_collection(DATABASE, "jobs")
    keeper.insert(DATABASE, "jobs", {"_id": "old", "n": 1})

    other.drop_database(DATABASE)
    with pytest.raises(NotFound):
        keeper.get(DATABASE, "jobs", "old")
    other.ensure_collection(DATABASE, "jobs")
    other.insert(DATABASE, "jobs", {"_id": "new", "n": 2})

    assert [d["_id"] for d in keeper.find(DATABASE, "jobs", {})] == ["new"]
    keeper.insert(DATABASE, "jobs", {"_id": "newer", "n": 3})
    assert other.count(DATABASE, "jobs", {}) == 2


def test_the_writing_connection_never_outlives_a_database_another_process_made_again(
    tmp_path: Path,
) -> None:
    # This process's threads write through one kept connection: after another process drops
    # the database and makes it again, writes must land in the new file, not the deleted one.
    keeper = SqliteDocumentStore(tmp_path)
    keeper.ensure_collection(DATABASE, "jobs")
    keeper.insert(DATABASE, "jobs", {"_id": "old", "n": 1})
    assert keeper.update(DATABASE, "jobs", "old", {"n": 10}, expected={"n": 1})

    child = multiprocessing.get_context("spawn").Process(target=_remake, args=(str(tmp_path),))
    child.start()
    child.join(timeout=180)
    assert child.exitcode == 0

    assert not keeper.update(DATABASE, "jobs", "old", {"n": 11})  # gone with the old file
    keeper.insert(DATABASE, "jobs", {"_id": "newer", "n": 3})
    assert keeper.update(DATABASE, "jobs", "new", {"n": 20}, expected={"n": 2})
    other = SqliteDocumentStore(tmp_path)
    assert other.find(DATABASE, "jobs", fields=["n"]) == [
        {"_id": "new", "n": 20},
        {"_id": "newer", "n": 3},
    ]
