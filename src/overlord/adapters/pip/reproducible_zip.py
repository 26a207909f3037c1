"""A folder as a zip whose bytes depend only on the files' paths, contents and modes.

A deploy compares the code it would upload with the code deployed (CloudFormation sees a new
object key or version only when the bytes differ), so two builds of the same files must give
the same zip: entries are sorted by path, every timestamp is the zip epoch (1980-01-01, the
earliest a zip can say), modes are reduced to 0644 or 0755, and nothing of this machine (its
user, its clock, its filesystem's order) is recorded. Folders get no entries of their own: Lambda
makes them as it unpacks.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

EPOCH = (1980, 1, 1, 0, 0, 0)
_UNIX = 3  # "made on Unix": the external attributes hold a mode
_CHUNK = 1 << 20


def files_under(root: Path) -> Iterator[tuple[str, Path]]:
    """Every file under ``root`` (following symlinks) as (zip path, file), sorted by zip path."""
    found: list[tuple[str, Path]] = []
    for folder, _, names in os.walk(root, followlinks=True):
        for name in names:
            path = Path(folder, name)
            if path.is_file():
                found.append((path.relative_to(root).as_posix(), path))
    return iter(sorted(found))


def _entry(name: str, path: Path) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.create_system = _UNIX
    executable = path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_zip(roots: Sequence[Path], output: Path) -> int:
    """Zip every file under the folders ``roots`` into ``output`` as one tree, replacing it at
    once (a reader never sees half a zip); returns the number of files. `ValueError` when two
    folders hold the same path. Deflate at zlib's default level: the highest levels take
    twice as long for a zip a few percent smaller."""
    entries = sorted(entry for root in roots for entry in files_under(root))
    for (name, _), (after, _) in itertools.pairwise(entries):
        if name == after:
            raise ValueError(f"{name} is in more than one of the folders zipped")
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    os.close(handle)
    count = 0
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, path in entries:
                with path.open("rb") as source, zf.open(_entry(name, path), "w") as target:
                    shutil.copyfileobj(source, target, _CHUNK)
                count += 1
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count
