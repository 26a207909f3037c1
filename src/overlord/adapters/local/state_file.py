"""One JSON document on disk that several processes may update at once without losing writes.

The local profile has no server to serialise access, so every update is a read-modify-write under
an exclusive ``flock`` on a sibling lock file, and the new document replaces the old one
atomically (temporary file, fsync, rename). Readers need no lock: they see the old document or the
new one, never half of one. ``flock`` (not ``lockf``) also excludes threads of one process, since
each update opens its own file description.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from overlord.domain.errors import BackendError


class JsonStateFile:
    """A JSON object at ``path``; empty until the first update writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BackendError(f"{self.path} is not valid JSON ({exc})") from None
        return data

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Yield the current document for changing in place; it is written back only if the
        block completes, so an exception (a refused change) leaves the file untouched."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self.read()
                yield data
                self._replace(data)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _replace(self, data: dict[str, Any]) -> None:
        directory = self.path.parent
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, sort_keys=True, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
