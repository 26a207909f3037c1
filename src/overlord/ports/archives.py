"""Unpacking a gathered archive into the files the upload stage sends."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from overlord.domain.archives import DEFAULT_LIMITS, ArchiveLimits, ExtractedFile


class Unpacker(Protocol):
    """An archive is untrusted: an adapter judges every member before writing a byte.

    ``target`` is new or empty. On success it holds every member and the files are returned
    sorted by name. A member that would land outside ``target`` (``../``, absolute, backslash or
    drive-letter names) is `InvalidName`; an archive over ``limits`` (total size, member count,
    compression ratio) is `PayloadTooLarge`; one that is not an archive of the adapter's kind,
    is truncated or corrupt, or holds a symlink or a device is `InvalidArchive`; every message
    names the member. Whatever it raises, ``target`` is as it was and nothing is written
    outside ``target.parent``.
    """

    def unpack(
        self, archive: Path, target: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS
    ) -> list[ExtractedFile]: ...
