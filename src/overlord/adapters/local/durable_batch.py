"""Many objects made durable together: what `LocalObjectStore.put_many` pays for each of them.

Each object is written to its own temporary file, fsynced, and only then renamed into place, so
a reader sees the old object or the new and a crash never leaves a torn one under a key. Each
folder that gained an entry (and the parent of each folder the batch created) is fsynced after
its renames, so when `put_many` returns the names are on disk too: a manifest written after it
can never survive a crash that its files did not.

Why it is shaped this way, measured on an ext4 virtio disk (2 shared cores, 2,000 files of
16 KiB): an ``fsync`` costs about 0.45 ms of waiting on its own, but concurrent ones share a
journal commit, so the threads each take a contiguous run of the batch (one task each, not one
per object: a future per object cost more than the work) and keep the last folder open while
its keys follow each other. One ``sync``/``syncfs`` for the batch would be cheaper still, but it
waits for every dirty page of the filesystem, other processes' included, which held processes
for tens of seconds under the test suite's load; a per-file ``fsync`` waits only for its own.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from overlord.domain.errors import Conflict, InvalidName

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC

# folders -> (descriptor of the last one, folders this call created), raising OSError
OpenFolder = Callable[[tuple[str, ...]], tuple[int, list[tuple[str, ...]]]]


@contextlib.contextmanager
def store_errors(key: str) -> Iterator[None]:
    """The errors of placing ``key`` as the ObjectStore port names them."""
    try:
        yield
    except NotADirectoryError:
        raise Conflict(f"key {key!r} needs a folder where an object or link is") from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise InvalidName(f"key {key[:60]!r} has a segment too long for a file") from None
        raise


def replace(temporary: str, name: str, folder: int, key: str, source: int | None = None) -> None:
    """Rename ``temporary`` to ``name`` in the open ``folder``; an empty folder in the way goes."""
    try:
        os.replace(temporary, name, src_dir_fd=source, dst_dir_fd=folder)
    except IsADirectoryError:
        try:
            os.rmdir(name, dir_fd=folder)  # only an empty leftover folder goes
        except OSError:
            raise Conflict(f"key {key!r} is already a folder of other objects") from None
        os.replace(temporary, name, src_dir_fd=source, dst_dir_fd=folder)


def write_durably(folder: int, name: str, data: bytes) -> None:
    """A new file ``name`` in the open ``folder`` holding ``data``, on disk when this returns."""
    descriptor = os.open(name, _NEW, 0o644, dir_fd=folder)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class DurableBatch:
    """One `put_many`: temporary files in ``scratch`` (an open folder on the buckets'
    filesystem), renamed into the folders ``open_folder`` walks to.

    ``fallback(key, path)`` places a temporary file by walking again, for the rare key whose
    folder a concurrent delete pruned between our walk and our rename.
    """

    def __init__(
        self,
        scratch: int,
        scratch_path: str,
        open_folder: OpenFolder,
        fallback: Callable[[str, str], None],
    ) -> None:
        self._scratch = scratch
        self._scratch_path = scratch_path
        self._open_folder = open_folder
        self._fallback = fallback

    def put(self, items: Sequence[tuple[str, bytes]], workers: int) -> None:
        """Write ``items`` (key, data), sorted by key so that a folder's keys are adjacent."""
        ordered = sorted(items, key=lambda item: item[0])
        workers = max(1, min(workers, len(ordered)))
        if workers == 1:
            self._run(ordered)
            return
        bounds = [len(ordered) * i // workers for i in range(workers + 1)]
        runs = [ordered[start:end] for start, end in itertools.pairwise(bounds)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(self._run, runs))

    def _run(self, run: Sequence[tuple[str, bytes]]) -> None:
        """Place one thread's contiguous run, then fsync every folder whose entries it changed.

        A folder is fsynced by the thread that changed it, after its last change there: the
        folder it leaves at once, through the descriptor still open, the parents of folders it
        made at the end of the run. A folder two runs share is fsynced by both, each after its
        own renames, so every name is on disk when the pool is done. Fsyncing in the threads
        rather than one folder after another once all are placed lets the folders' fsyncs share
        journal commits as the files' do (on the disk of `DurableBatch`'s figures the
        sequential pass was a third of a 720-partition write), and saves walking to each again.
        """
        later: set[tuple[str, ...]] = set()
        current: tuple[str, ...] | None = None
        folder = -1
        try:
            for key, data in run:
                *parents, name = key.split("/")
                folders = tuple(parents)
                with store_errors(key):
                    if folders != current:
                        if current is not None:
                            current = None
                            self._leave(folder)
                        folder, created = self._open_folder(folders)
                        current = folders
                        later.update(made[:-1] for made in created)
                    if not self._place(key, name, folder, data):
                        later.add(folders)  # placed by walking again: fsynced below
                        os.close(folder)
                        current = None
            if current is not None:
                current = None
                self._leave(folder)
        finally:
            if current is not None:
                os.close(folder)
        for folders in sorted(later):
            descriptor, _ = self._open_folder(folders)
            self._leave(descriptor)

    @staticmethod
    def _leave(folder: int) -> None:
        """Fsync the open ``folder`` (its new names reach the disk), then close it."""
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def _place(self, key: str, name: str, folder: int, data: bytes) -> bool:
        """Write and rename one object; False if ``folder`` was found pruned (walk it again)."""
        temporary = uuid.uuid4().hex
        write_durably(self._scratch, temporary, data)
        try:
            replace(temporary, name, folder, key, self._scratch)
        except FileNotFoundError:  # a concurrent delete pruned the folder since we opened it
            try:
                self._fallback(key, os.path.join(self._scratch_path, temporary))
            finally:
                self._discard(temporary)
            return False
        except BaseException:
            self._discard(temporary)
            raise
        return True  # renamed: no temporary file is left to remove (86,400 unlinks by minute)

    def _discard(self, temporary: str) -> None:
        """Remove ``temporary`` if it is still in the scratch folder (a rename that failed)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=self._scratch)
