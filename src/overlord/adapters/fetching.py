"""What every Source adapter shares: a staging folder that publishes only complete files, and
reading the file name a server offers.

The port promises that ``destination`` changes only by whole, finished files and not at all when
a fetch fails. Keeping that promise in one helper means the memory adapter cannot drift from the
HTTP and browser adapters on it. Staging lives *inside* the destination (a hidden folder) so that
publishing is a rename on one filesystem, which is atomic, rather than a copy, which is not.
"""

from __future__ import annotations

import contextlib
import email.message
import email.utils
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from overlord.domain.errors import BackendError, Conflict, InvalidInput, PayloadTooLarge
from overlord.domain.fetched import FetchedFile, check_file_name

STAGING_PREFIX = ".overlord-fetch-"
CHUNK_BYTES = 1 << 16


class Staging:
    """Files of one fetch, complete but not yet visible in the destination."""

    def __init__(self, destination: Path, root: Path) -> None:
        self.destination = destination
        self._files = root / "files"
        self.scratch = root / "scratch"  # an adapter's own work area, e.g. a browser's downloads
        self._files.mkdir()
        self.scratch.mkdir()
        self._ready: dict[str, tuple[int, str]] = {}  # name -> (size, sha256)

    def _reserve(self, name: str, offered_by: str) -> str:
        check_file_name(name, offered_by)
        if name in self._ready:
            raise BackendError(f"{offered_by} offered two files named {name!r} in one fetch")
        return name

    def write(
        self,
        name: str,
        chunks: Iterable[bytes],
        *,
        max_bytes: int | None = None,
        offered_by: str = "the source",
    ) -> None:
        """Stream ``chunks`` into the file ``name``; on any error nothing of it remains.

        The name is checked before the first chunk is read, so a refused name transfers nothing.
        """
        self._reserve(name, offered_by)
        partial = self.scratch / f"partial-{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        size = 0
        try:
            with open(partial, "xb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise PayloadTooLarge(
                            f"{offered_by} sent more than {max_bytes} bytes for {name!r}; refused"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, self._files / name)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self._ready[name] = (size, digest.hexdigest())

    def adopt(self, path: Path, name: str, *, offered_by: str = "the source") -> None:
        """Take the finished file ``path`` from the scratch area as ``name``."""
        self._reserve(name, offered_by)
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as data:
            while chunk := data.read(CHUNK_BYTES):
                size += len(chunk)
                digest.update(chunk)
            os.fsync(data.fileno())  # another process (a browser) wrote it; make it durable
        os.replace(path, self._files / name)
        self._ready[name] = (size, digest.hexdigest())

    def publish(self) -> list[FetchedFile]:
        """Rename every staged file into the destination; refuse first if one cannot land."""
        targets = {name: self.destination / name for name in sorted(self._ready)}
        for target in targets.values():
            if target.is_dir() and not target.is_symlink():
                raise Conflict(f"{target} is a folder; a fetched file cannot replace it")
        for name, target in targets.items():
            os.replace(self._files / name, target)
        _fsync_folder(self.destination)
        return [FetchedFile(name, target, *self._ready[name]) for name, target in targets.items()]


def _fsync_folder(folder: Path) -> None:
    """Make the renames durable; a platform that cannot open folders skips it."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


@contextlib.contextmanager
def staging(destination: Path) -> Iterator[Staging]:
    """A `Staging` in a hidden folder of ``destination``, removed when the block ends.

    Files not published by then (an error, a refused name) vanish with it, which is what keeps
    a failed fetch from leaving anything behind.
    """
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInput(f"destination {destination} is not a folder") from None
    except OSError as exc:
        raise BackendError(f"cannot create destination {destination}: {exc.strerror}") from None
    root = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=destination))
    try:
        yield Staging(destination, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def disposition_filename(value: str | None) -> str | None:
    """The file name a ``Content-Disposition`` header offers, exactly as offered.

    ``filename*`` (RFC 6266/5987, any character percent-encoded) wins over ``filename``, as in
    browsers. Unlike `email.message.Message.get_filename`, white space is not stripped: a name
    is judged as sent, so a trailing newline cannot be trimmed into acceptability.

    >>> disposition_filename("attachment; filename*=UTF-8''..%2Fx.zip; filename=x.zip")
    '../x.zip'
    """
    if not value:
        return None
    message = email.message.Message()
    message["Content-Disposition"] = value
    params = message.get_params(header="content-disposition") or []
    offered = [v for k, v in params[1:] if k.lower() == "filename"]
    if not offered:
        return None
    extended = [v for v in offered if isinstance(v, tuple)]
    return email.utils.collapse_rfc2231_value((extended or offered)[0])


def url_file_name(url: str) -> str | None:
    """The last segment of a URL's path, percent-decoded, or None when the path ends in '/'."""
    segment = urlsplit(url).path.rpartition("/")[2]
    return unquote(segment) if segment else None
