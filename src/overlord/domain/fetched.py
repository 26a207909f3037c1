"""Files a source delivered, and the one rule for the names they may carry.

A file's name comes from whoever serves it (a ``Content-Disposition`` header, a URL, a browser),
so it is untrusted input. It is checked here, once, for every Source adapter: a name that could
leave the destination folder, hide in it, or look like something else is refused rather than
rewritten, because a silently renamed file is no longer the file the source calls it, and the
raw folder layout downstream relies on names meaning what they say.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from attrs import field, frozen

from overlord.domain.errors import InvalidInput, InvalidName
from overlord.domain.periods import parse_iso_period

MAX_NAME_BYTES = 255  # what ext4, XFS, APFS and NTFS can hold in one path segment
# Control characters, separators that are not plain spaces, and format characters such as
# U+202E (right-to-left override, which makes "cod.exe" read as "exe.doc").
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_file_name(name: object, offered_by: str = "the source") -> str:
    """``name`` if it is one plain file name, else `InvalidName`.

    >>> check_file_name("call_reports_2024.zip")
    'call_reports_2024.zip'
    """
    if not isinstance(name, str):
        raise InvalidName(f"{offered_by} offered a file name that is not text: {name!r}")
    shown = repr(name if len(name) <= 80 else name[:80] + "…")
    reason = _problem(name)
    if reason:
        raise InvalidName(f"{offered_by} offered the file name {shown}: {reason}; refused")
    return name


def _problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if name.startswith("."):
        return "it starts with '.' (hidden, or a path to a parent folder)"
    if "/" in name or "\\" in name:
        return "it holds a path separator"
    if any(unicodedata.category(c) in _HIDDEN_CATEGORIES for c in name):
        return "it holds control or invisible characters"
    if name != name.strip():
        return "it starts or ends with white space"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return None


def _sha256(_: object, __: object, value: str) -> None:
    if not _SHA256.fullmatch(value):
        raise InvalidInput(f"sha256 {value[:70]!r} is not 64 lowercase hex digits")


def _period(_: object, __: object, value: str | None) -> None:
    if value is not None:
        parse_iso_period(value)


@frozen
class FetchedFile:
    """A complete file a fetch published: ``path`` is ``destination / name``.

    ``period`` is the ISO date of the reporting period a recipe chose on the page (its
    ``select_period`` step), so a caller that asked for "the newest" learns which one it got;
    None when the source picks no period.
    """

    name: str = field(validator=lambda _, __, v: check_file_name(v))
    path: Path
    size: int
    sha256: str = field(validator=_sha256)
    period: str | None = field(default=None, validator=_period)
