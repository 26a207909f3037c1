"""Unpack a zip into a folder: all of it, checked, or nothing.

A gatherer downloads a bulk zip into its run's staging folder; this turns it into the files the
upload step sends. The archive is untrusted, so `unpack`:

1. reads the first bytes (a zip starts ``PK\\x03\\x04``, or ``PK\\x05\\x06`` when empty) and
   then the central directory, and judges every member from its headers before writing a byte:
   names (`overlord.domain.archives.member_path`), types (no symlinks or devices), compression
   (stored or deflated only: zipfile inflates bzip2 and LZMA without an output bound, so one
   read of those could fill memory), two members landing on one file, and the limits;
2. streams each member in `CHUNK_BYTES` pieces into a hidden sibling folder of the target,
   counting what it writes, so a member whose headers understate it is stopped once it passes
   what they declared or the limits allow, whatever the headers said; zipfile checks each
   member's CRC when its stream ends;
3. renames the sibling folder onto the target only when every member passed. On any failure the
   sibling folder is removed: the target is left as it was and nothing is written outside
   ``target.parent``.

Files are not fsynced one by one: the target is a scratch folder of one run, and a crash means
unpacking again, which is cheaper than thousands of fsyncs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import struct
import uuid
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO

from overlord.domain.archives import (
    DEFAULT_LIMITS,
    ArchiveLimits,
    ExtractedFile,
    collision_key,
    member_path,
)
from overlord.domain.errors import (
    BackendError,
    Conflict,
    InvalidArchive,
    InvalidInput,
    PayloadTooLarge,
)

CHUNK_BYTES = 1 << 16
STAGING_PREFIX = ".overlord-unpack-"
_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# What zipfile raises for an archive that is cut off or corrupt, while reading its central
# directory or a member's stream (zlib.error for bad deflate data, EOFError for a stream that
# ends early, UnicodeDecodeError for a name flagged UTF-8 that is not).
_CORRUPT = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    UnicodeDecodeError,
    ValueError,
    struct.error,
    NotImplementedError,
)


class _Plan:
    """The members of an archive, judged from its headers: where each lands, in order."""

    def __init__(self, archive: Path, infos: Iterable[zipfile.ZipInfo], limits: ArchiveLimits):
        self.folders: list[PurePosixPath] = []
        self.files: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        infos = list(infos)
        if len(infos) > limits.max_members:
            raise PayloadTooLarge(
                f"{archive.name} holds {len(infos)} members, more than the limit of "
                f"{limits.max_members}; refused"
            )
        seen: dict[str, str] = {}  # collision key -> member name
        declared = 0
        for info in infos:
            path = member_path(info.filename)
            is_folder = _judge_type(info)
            key = collision_key(path)
            if key in seen:
                raise InvalidArchive(
                    f"member {info.filename!r} lands on the same file as {seen[key]!r}; refused"
                )
            seen[key] = info.filename
            if is_folder:
                self.folders.append(path)
                continue
            _judge_stream(info, limits)
            declared += info.file_size
            if declared > limits.max_total_bytes:
                raise PayloadTooLarge(
                    f"{archive.name} declares more than {limits.max_total_bytes} bytes "
                    f"uncompressed (at member {info.filename!r}); refused"
                )
            self.files.append((info, path))
        self._refuse_file_as_folder()
        self._refuse_folders_spelled_two_ways()

    def _refuse_file_as_folder(self) -> None:
        """``a`` as a file and ``a/b.txt`` cannot both land."""
        needed: dict[str, str] = {}  # collision key of a folder -> a member inside it
        for info, path in self.files:
            for parent in path.parents[:-1]:
                needed.setdefault(collision_key(parent), info.filename)
        for info, path in self.files:
            inside = needed.get(collision_key(path))
            if inside is not None:
                raise InvalidArchive(
                    f"member {info.filename!r} is a file, but {inside!r} needs it as a folder; "
                    "refused"
                )

    def _refuse_folders_spelled_two_ways(self) -> None:
        """``D/x.txt`` and ``d/y.txt`` share one folder on macOS and Windows, two on Linux."""
        spellings: dict[str, PurePosixPath] = {}
        for folder in sorted(self.target_folders()):
            first = spellings.setdefault(collision_key(folder), folder)
            if first != folder:
                raise InvalidArchive(
                    f"members use one folder as both {str(first)!r} and {str(folder)!r}; refused"
                )

    def target_folders(self) -> set[PurePosixPath]:
        folders = set(self.folders)
        for _, path in self.files:
            folders.update(path.parents)
        folders.discard(PurePosixPath("."))
        return folders


def _judge_type(info: zipfile.ZipInfo) -> bool:
    """True for a folder entry, False for a file; anything else is refused."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise InvalidArchive(f"member {info.filename!r} is a symbolic link; refused")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise InvalidArchive(f"member {info.filename!r} is not a file or a folder; refused")
    is_folder = info.is_dir() or kind == stat.S_IFDIR
    if is_folder and info.file_size:
        raise InvalidArchive(f"member {info.filename!r} is a folder holding data; refused")
    return is_folder


def _judge_stream(info: zipfile.ZipInfo, limits: ArchiveLimits) -> None:
    if info.flag_bits & 0x1:
        raise InvalidArchive(f"member {info.filename!r} is encrypted; refused")
    if info.compress_type not in _METHODS:
        raise InvalidArchive(
            f"member {info.filename!r} uses compression method {info.compress_type}; only "
            "stored and deflated members are unpacked; refused"
        )
    if info.file_size > limits.member_allowance(info.compress_size):
        raise PayloadTooLarge(
            f"member {info.filename!r} declares {info.file_size} bytes from "
            f"{info.compress_size} compressed, over the ratio limit of {limits.max_ratio}:1; "
            "refused"
        )


class StreamBudget:
    """What the whole archive may still write, counted as bytes stream."""

    def __init__(self, archive: Path, limits: ArchiveLimits) -> None:
        self.archive = archive
        self.limits = limits
        self.written = 0


def copy_member(
    source: IO[bytes],
    out: IO[bytes],
    info: zipfile.ZipInfo,
    budget: StreamBudget,
) -> tuple[int, str]:
    """Copy one member's stream in bounded chunks; return its size and SHA-256.

    Stops as soon as the count passes the member's declared size, its ratio allowance or the
    archive's total, so a lying header costs at most one chunk past the limit.
    """
    limit = min(info.file_size, budget.limits.member_allowance(info.compress_size))
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK_BYTES):
        size += len(chunk)
        budget.written += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"member {info.filename!r} expands past the {limit} bytes its headers and the "
                "ratio limit allow; refused"
            )
        if budget.written > budget.limits.max_total_bytes:
            raise PayloadTooLarge(
                f"{budget.archive.name} expands past {budget.limits.max_total_bytes} bytes "
                f"(at member {info.filename!r}); refused"
            )
        digest.update(chunk)
        out.write(chunk)
    return size, digest.hexdigest()


def _open_zip(archive: Path) -> zipfile.ZipFile:
    try:
        with open(archive, "rb") as head:
            magic = head.read(4)
    except IsADirectoryError:
        raise InvalidInput(f"archive {archive} is a folder, not a file") from None
    except FileNotFoundError:
        raise InvalidInput(f"archive {archive} does not exist") from None
    except OSError as exc:
        raise BackendError(f"cannot read archive {archive}: {exc.strerror}") from None
    if magic not in _MAGIC:
        raise InvalidArchive(f"{archive.name} is not a zip archive (it starts {magic!r}); refused")
    try:
        return zipfile.ZipFile(archive)
    except _CORRUPT as exc:
        raise InvalidArchive(f"{archive.name} is cut off or corrupt ({exc}); refused") from None


def _prepare_target(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInput(f"{target.parent} is not a folder") from None
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise Conflict(f"{target} exists and is not a folder; unpack into a new folder")
    if target.is_dir() and any(target.iterdir()):
        raise Conflict(f"{target} is not empty; unpack into a new or empty folder")


def unpack(
    archive: Path, target: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS
) -> list[ExtractedFile]:
    """Unpack the zip ``archive`` into ``target`` (new or empty); return its files by name.

    Raises `InvalidName` for a member name that could land outside ``target``,
    `PayloadTooLarge` for an archive over ``limits``, `InvalidArchive` for one that is not a
    zip, is corrupt or holds what is never written, and `Conflict` when ``target`` is in use.
    Whatever it raises, ``target`` is as it was.
    """
    with _open_zip(archive) as zf:
        plan = _Plan(archive, zf.infolist(), limits)
        _prepare_target(target)  # after the judging: a refused archive creates no folder
        scratch = target.parent / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        try:
            scratch.mkdir()  # not mkdtemp: its 0700 would become the target's mode
        except OSError as exc:
            raise BackendError(f"cannot unpack into {target.parent}: {exc.strerror}") from None
        try:
            extracted = _extract(archive, zf, plan, scratch, target, limits)
            _publish(scratch, target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    return sorted(extracted, key=lambda f: f.name)


def _extract(
    archive: Path,
    zf: zipfile.ZipFile,
    plan: _Plan,
    scratch: Path,
    target: Path,
    limits: ArchiveLimits,
) -> list[ExtractedFile]:
    budget = StreamBudget(archive, limits)
    extracted = []
    try:
        for folder in sorted(plan.target_folders(), key=lambda p: len(p.parts)):
            (scratch / folder).mkdir(exist_ok=True)
        for info, path in plan.files:
            with zf.open(info) as source, open(scratch / path, "xb") as out:
                try:
                    size, sha256 = copy_member(source, out, info, budget)
                except _CORRUPT as exc:
                    raise InvalidArchive(
                        f"member {info.filename!r} of {archive.name} is corrupt ({exc}); refused"
                    ) from None
            extracted.append(ExtractedFile(str(path), target / path, size, sha256))
    except _CORRUPT as exc:  # raised by zf.open: a local header that does not match
        raise InvalidArchive(f"{archive.name} is cut off or corrupt ({exc}); refused") from None
    except OSError as exc:
        raise BackendError(f"cannot unpack {archive.name}: {exc.strerror or exc}") from None
    return extracted


def _publish(scratch: Path, target: Path) -> None:
    try:
        os.replace(scratch, target)  # onto an empty folder too; a non-empty one refuses
    except OSError as exc:
        if target.is_dir() and any(target.iterdir()):
            raise Conflict(f"{target} filled up while unpacking; nothing was changed") from None
        raise BackendError(f"cannot move the unpacked files to {target}: {exc.strerror}") from None


class ZipUnpacker:
    """The `Unpacker` port over `unpack`: the zip files bulk downloads come as."""

    def unpack(
        self, archive: Path, target: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS
    ) -> list[ExtractedFile]:
        return unpack(archive, target, limits=limits)
