"""What an archive may hold before it is unpacked: limits, and the one rule for member names.

A bulk download (FFIEC's "Call Reports — Single Period" zip holds hundreds of tab-separated
files) is untrusted input twice over: its member names choose where files land, and its headers
say how much it will expand to. Both are judged here, without touching a file, so the rule can
be tested on its own and the unpacker (`overlord.adapters.archives`) only has to apply it. As
for fetched files, a name is refused rather than rewritten: a renamed member is no longer the
file its archive calls it.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path, PurePosixPath

from attrs import field, frozen

from overlord.domain.errors import InvalidInput, InvalidName
from overlord.domain.fetched import MAX_NAME_BYTES

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30
# Control characters, separators that are not plain spaces, and format characters such as
# U+202E (right-to-left override); the same classes `overlord.domain.fetched` refuses.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_DRIVE = re.compile(r"[A-Za-z]:")
_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_PATH_BYTES = 1024


def _positive(_: object, attribute: object, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        name = getattr(attribute, "name", "limit")
        raise InvalidInput(f"archive limit {name}={value!r}: expected a whole number above 0")


@frozen(kw_only=True)
class ArchiveLimits:
    """How far one archive may expand; sized for bulk regulatory data, overridable per call.

    A member's ratio (uncompressed / compressed size) is checked only above
    ``small_member_bytes``: a small, very regular file (an empty table, a header-only CSV) can
    compress 1,000:1 and is harmless, while a bomb needs size to do damage.

    >>> ArchiveLimits(max_members=500).max_total_bytes == 4 * GIB
    True
    """

    max_total_bytes: int = field(default=4 * GIB, validator=_positive)
    max_members: int = field(default=10_000, validator=_positive)
    max_ratio: int = field(default=200, validator=_positive)
    small_member_bytes: int = field(default=1 * MIB, validator=_positive)

    def member_allowance(self, compressed_bytes: int) -> int:
        """The most a member of ``compressed_bytes`` may expand to under the ratio limit."""
        return max(self.small_member_bytes, self.max_ratio * compressed_bytes)


DEFAULT_LIMITS = ArchiveLimits()


def member_path(name: object) -> PurePosixPath:
    """The path below the target folder that the member ``name`` lands at, else `InvalidName`.

    Empty and ``.`` segments are dropped (``a//./b`` is ``a/b``), so two spellings of one path
    compare equal; anything that could climb out, start at a root or drive, or mean something
    else on another system is refused.

    >>> member_path("reports/./2024//call.txt")
    PurePosixPath('reports/2024/call.txt')
    >>> member_path("../etc/passwd")
    Traceback (most recent call last):
    ...
    overlord.domain.errors.InvalidName: member '../etc/passwd': it climbs out with '..'; refused
    """
    if not isinstance(name, str):
        raise InvalidName(f"member {name!r}: its name is not text; refused")
    reason = _problem(name)
    if reason:
        shown = repr(name if len(name) <= 80 else name[:80] + "…")
        raise InvalidName(f"member {shown}: {reason}; refused")
    return PurePosixPath(*_segments(name))


def _segments(name: str) -> list[str]:
    return [s for s in name.split("/") if s not in ("", ".")]


def _problem(name: str) -> str | None:
    if "\\" in name:
        return "it holds a backslash (a Windows path separator)"
    if name.startswith("/"):
        return "it is an absolute path"
    if any(unicodedata.category(c) in _HIDDEN_CATEGORIES for c in name):
        return "it holds control or invisible characters"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"it is longer than {MAX_PATH_BYTES} bytes"
    segments = _segments(name)
    if not segments:
        return "it names no file or folder"
    if _DRIVE.match(segments[0]):  # also once "./" is dropped: "./C:x" is "C:x"
        return "it starts with a drive letter"
    for segment in segments:
        if segment == "..":
            return "it climbs out with '..'"
        if segment != segment.strip():
            return f"{segment!r} starts or ends with white space"
        if len(segment.encode("utf-8")) > MAX_NAME_BYTES:
            return f"a segment is longer than {MAX_NAME_BYTES} bytes"
    return None


def collision_key(path: PurePosixPath) -> str:
    """What two member paths share if they would be one file somewhere: on a case-insensitive
    or Unicode-normalising filesystem (macOS, Windows), ``A.txt`` and ``a.txt``, or ``Ü`` as one
    code point and as ``U`` plus a combining mark, are the same file.

    >>> decomposed = PurePosixPath("MAYAGU\\u0308EZ.txt")
    >>> collision_key(decomposed) == collision_key(PurePosixPath("mayagüez.TXT"))
    True
    """
    return unicodedata.normalize("NFC", str(path)).casefold()


def _sha256(_: object, __: object, value: str) -> None:
    if not _SHA256.fullmatch(value):
        raise InvalidInput(f"sha256 {value[:70]!r} is not 64 lowercase hex digits")


@frozen
class ExtractedFile:
    """One file an unpack wrote: ``name`` is its path below the target folder (``/``-separated),
    ``path`` is ``target / name``; size and SHA-256 were computed while it streamed."""

    name: str
    path: Path
    size: int
    sha256: str = field(validator=_sha256)
