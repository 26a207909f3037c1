"""Buckets as folders and objects as files: the embedded default needs nothing installed.

A key is walked one folder at a time, each opened with ``O_NOFOLLOW`` relative to the folder
before it, so neither a hostile key nor a symlink planted in a bucket (even one swapped in while
we walk) can lead outside the bucket: a symlink is never an object nor a folder here. Writes go to
a temporary file that is renamed into place, so a reader sees the old object or the new, never
half of one. Store state (bucket metadata, temporary files) lives in ``root/.overlord``: bucket
names cannot start with a dot, so it never clashes with a bucket and is never listed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from overlord.adapters.local.durable_batch import DurableBatch, replace, store_errors
from overlord.adapters.object_rules import check_bucket, check_data, check_prefixes
from overlord.domain.errors import BackendError, Conflict, InvalidName, NotFound
from overlord.domain.infrastructure import BucketSpec, ObjectInfo
from overlord.domain.names import validate_object_key

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# O_NONBLOCK: opening a FIFO someone left in a bucket must not hang; it is then refused.
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
_ATTEMPTS = 5  # a concurrent delete may prune a folder a put has just walked into


class LocalObjectStore:
    """ObjectStore on the local filesystem (POSIX), under ``root``.

    >>> import tempfile, pathlib
    >>> store = LocalObjectStore(pathlib.Path(tempfile.mkdtemp()))
    >>> store.ensure_bucket(BucketSpec("overlord-acme-weather"))
    >>> store.put_object("overlord-acme-weather", "raw/a.csv", b"x,y")
    >>> store.get_object("overlord-acme-weather", "raw/a.csv")
    b'x,y'
    """

    def __init__(self, root: Path, *, on_created: Callable[[str, str], None] | None = None) -> None:
        """``on_created(bucket, key)`` is told of every object once it has landed, as S3 tells
        an event notification: the local profile's object-created events (one process's own
        writes; an error it raises is the writer's)."""
        self._root = Path(root)
        self._state = self._root / ".overlord"
        self._on_created = on_created

    # buckets

    def _is_bucket(self, name: str) -> bool:
        try:
            return stat.S_ISDIR(os.lstat(self._root / check_bucket(name)).st_mode)
        except FileNotFoundError:
            return False

    def _meta(self, name: str) -> Path:
        return self._state / "buckets" / f"{name}.json"

    def describe_bucket(self, name: str) -> BucketSpec | None:
        if not self._is_bucket(name):
            return None
        try:
            meta = json.loads(self._meta(name).read_text("utf-8"))
        except FileNotFoundError:
            return BucketSpec(name)  # created, then interrupted before its metadata: private
        except ValueError as exc:
            raise BackendError(f"unreadable metadata of bucket {name!r}: {exc}") from exc
        return BucketSpec(name, tuple(meta["public_read_prefixes"]))

    def ensure_bucket(self, spec: BucketSpec) -> None:
        name = check_bucket(spec.name)
        prefixes = check_prefixes(spec.public_read_prefixes)
        self._root.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(self._root / name)
        if not self._is_bucket(name):
            raise Conflict(f"{self._root / name} exists and is not a bucket folder")
        current = self.describe_bucket(name)
        if current is None or current.public_read_prefixes != prefixes:
            meta = json.dumps({"public_read_prefixes": list(prefixes)}).encode()
            self._meta(name).parent.mkdir(parents=True, exist_ok=True)
            temporary = self._write_temporary(meta)
            try:
                os.replace(temporary, self._meta(name))
            finally:
                _discard(temporary)

    def delete_bucket(self, name: str, *, purge: bool = False) -> None:
        if not self._is_bucket(name):
            return
        if not purge and self.list_objects(name):
            raise Conflict(f"bucket {name!r} is not empty; purge it to delete it")
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self._root / name)  # unlinks symlinks, never follows them
        _discard(str(self._meta(name)))

    # objects

    @contextlib.contextmanager
    def _folders(
        self,
        bucket: str,
        folders: Sequence[str],
        *,
        create: bool,
        created: list[tuple[str, ...]] | None = None,
    ) -> Iterator[list[int]]:
        """Descriptors of the bucket folder and of each folder below it, none of them a link.

        With ``create``, a missing folder is made (and, when ``created`` is given, appended to
        it), but only after opening it failed: the usual folder exists, and a ``mkdir`` first
        would be a refused system call per level. Raises `NotFound` for a missing bucket, and
        ``OSError`` (ENOENT, ENOTDIR) when a folder is missing or something other than a
        folder stands in the way.
        """
        descriptors: list[int] = []
        try:
            try:
                descriptors.append(os.open(self._root / check_bucket(bucket), _FOLDER))
            except OSError as exc:
                if exc.errno in _GONE:
                    raise NotFound(f"bucket {bucket!r} does not exist") from None
                raise
            for depth, folder in enumerate(folders):
                try:
                    descriptors.append(os.open(folder, _FOLDER, dir_fd=descriptors[-1]))
                    continue
                except FileNotFoundError:
                    if not create:
                        raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(folder, dir_fd=descriptors[-1])
                    if created is not None:
                        created.append(tuple(folders[: depth + 1]))
                descriptors.append(os.open(folder, _FOLDER, dir_fd=descriptors[-1]))
            yield descriptors
        finally:
            for descriptor in reversed(descriptors):
                os.close(descriptor)

    def _open_folder(
        self, bucket: str, folders: tuple[str, ...]
    ) -> tuple[int, list[tuple[str, ...]]]:
        """A descriptor of the folder (made if missing) and the folders this call created."""
        created: list[tuple[str, ...]] = []
        for _ in range(_ATTEMPTS):
            with (
                contextlib.suppress(FileNotFoundError),
                self._folders(bucket, folders, create=True, created=created) as descriptors,
            ):
                return os.dup(descriptors[-1]), created
        raise BackendError(f"could not open {bucket}/{'/'.join(folders)}: it kept disappearing")

    def _write_temporary(self, data: bytes) -> str:
        """A durable temporary copy of ``data`` on the same filesystem as the buckets."""
        folder = self._state / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, path = tempfile.mkstemp(dir=folder)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
        except BaseException:
            _discard(path)
            raise
        return path

    def put_object(
        self, bucket: str, key: str, data: bytes, *, content_type: str | None = None
    ) -> None:
        self.put_many(bucket, {key: data}, concurrency=1)

    def _place(self, bucket: str, key: str, parts: list[str], temporary: str) -> None:
        with store_errors(key), self._folders(bucket, parts[:-1], create=True) as descriptors:
            replace(temporary, parts[-1], descriptors[-1], key)

    def get_object(self, bucket: str, key: str) -> bytes:
        parts = validate_object_key(key).split("/")
        try:
            with self._folders(bucket, parts[:-1], create=False) as descriptors:
                descriptor = os.open(parts[-1], _FILE, dir_fd=descriptors[-1])
        except OSError as exc:
            if exc.errno in (*_GONE, errno.ENAMETOOLONG):
                raise NotFound(f"no object {key!r} in bucket {bucket!r}") from None
            raise
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # a folder, a FIFO, a device
            os.close(descriptor)
            raise NotFound(f"no object {key!r} in bucket {bucket!r}")
        with os.fdopen(descriptor, "rb") as file:
            return file.read()

    def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        folder = prefix.rpartition("/")[0]
        try:
            start = validate_object_key(folder).split("/") if folder else []
        except InvalidName:
            start = None  # no valid key can start with this prefix
        found: list[ObjectInfo] = []
        try:
            with self._folders(bucket, start or [], create=False) as descriptors:
                if start is not None:
                    found = _walk(descriptors[-1], folder + "/" if folder else "", prefix)
        except OSError as exc:
            if exc.errno not in _GONE:
                raise
        return sorted(found, key=lambda info: info.key)

    def delete_object(self, bucket: str, key: str) -> None:
        parts = validate_object_key(key).split("/")
        try:
            with self._folders(bucket, parts[:-1], create=False) as descriptors:
                info = os.stat(parts[-1], dir_fd=descriptors[-1], follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode):
                    return
                os.unlink(parts[-1], dir_fd=descriptors[-1])
                for depth in range(len(parts) - 1, 0, -1):  # prune folders left empty
                    try:
                        os.rmdir(parts[depth - 1], dir_fd=descriptors[depth - 1])
                    except OSError:
                        break
        except OSError as exc:
            if exc.errno not in (*_GONE, errno.ENAMETOOLONG):
                raise

    def put_many(self, bucket: str, objects: Mapping[str, bytes], *, concurrency: int = 16) -> None:
        """Every object lands whole and durably, as `put_object` does; see `DurableBatch` for
        how the batch shares its fsyncs (and why not one ``sync``)."""
        items = [(validate_object_key(key), check_data(data)) for key, data in objects.items()]
        if not self._is_bucket(bucket):
            raise NotFound(f"bucket {bucket!r} does not exist")
        if not items:
            return
        scratch_path = self._state / "tmp"
        scratch_path.mkdir(parents=True, exist_ok=True)
        scratch = os.open(scratch_path, _FOLDER)
        try:
            DurableBatch(
                scratch,
                str(scratch_path),
                lambda folders: self._open_folder(bucket, folders),
                lambda key, temporary: self._settle(bucket, key, temporary),
            ).put(items, concurrency)
        finally:
            os.close(scratch)
        if self._on_created is not None:
            for key, _ in items:
                self._on_created(bucket, key)

    def _settle(self, bucket: str, key: str, temporary: str) -> None:
        """Rename ``temporary`` into place as ``key``, as `put_object` does."""
        parts = key.split("/")
        for _ in range(_ATTEMPTS):
            with contextlib.suppress(FileNotFoundError):
                self._place(bucket, key, parts, temporary)
                return
        raise BackendError(f"could not write {bucket}/{key}: its folder kept disappearing")

    def get_many(
        self, bucket: str, keys: Sequence[str], *, concurrency: int = 16
    ) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(validate_object_key(key) for key in keys))
        if not self._is_bucket(bucket):
            raise NotFound(f"bucket {bucket!r} does not exist")
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(wanted) or 1))) as pool:
            found = list(pool.map(lambda key: self.get_object(bucket, key), wanted))
        return dict(zip(wanted, found, strict=True))


def _walk(descriptor: int, base: str, prefix: str) -> list[ObjectInfo]:
    """Regular files under an open folder whose key starts with ``prefix``; links are skipped."""
    found: list[ObjectInfo] = []
    for path, _, files, folder in os.fwalk(".", dir_fd=descriptor, follow_symlinks=False):
        below = "" if path == "." else path[2:] + "/"
        for name in files:
            key = base + below + name
            if not key.startswith(prefix):
                continue
            try:
                info = os.stat(name, dir_fd=folder, follow_symlinks=False)
                validate_object_key(key)
            except (FileNotFoundError, InvalidName):
                continue
            if stat.S_ISREG(info.st_mode):
                found.append(ObjectInfo(key, info.st_size))
    return found


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
