"""`unpack` against real hostile zips, built byte by byte so that their headers can lie.

Every refusal is checked the same way: the error names the member, and the staging folder holds
exactly what it held before (the archive), so nothing was written outside it and nothing of a
refused archive is left in it.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from overlord.adapters import archives
from overlord.adapters.archives import CHUNK_BYTES, unpack
from overlord.domain.archives import GIB, MIB, ArchiveLimits
from overlord.domain.errors import (
    Conflict,
    InvalidArchive,
    InvalidInput,
    InvalidName,
    PayloadTooLarge,
)

UTF8_FLAG = 0x800
UNIX = 3


@attrs.define
class Member:
    """One entry as it is written, true or not: ``data`` is what follows the local header."""

    name: bytes
    data: bytes = b""
    method: int = zipfile.ZIP_STORED
    crc: int | None = None  # None: the CRC of ``data`` (right for stored members)
    compress_size: int | None = None
    file_size: int | None = None
    flags: int = 0
    external_attr: int = 0
    create_system: int = UNIX


def stored(name: str | bytes, data: bytes = b"", **kwargs: int) -> Member:
    raw = name.encode() if isinstance(name, str) else name
    flags = kwargs.pop("flags", UTF8_FLAG if isinstance(name, str) and not name.isascii() else 0)
    return Member(raw, data, flags=flags, **kwargs)  # type: ignore[arg-type]


def deflated(name: str, plain: bytes, **overrides: int) -> Member:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = c.compress(plain) + c.flush()
    fields = {"crc": zlib.crc32(plain), "file_size": len(plain)} | overrides
    return Member(name.encode(), data, zipfile.ZIP_DEFLATED, **fields)


def build_zip(members: list[Member]) -> bytes:
    """A zip whose local and central headers say exactly what ``members`` say."""
    out = io.BytesIO()
    central = io.BytesIO()
    for m in members:
        offset = out.tell()
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        csize = len(m.data) if m.compress_size is None else m.compress_size
        usize = len(m.data) if m.file_size is None else m.file_size
        common = (20, m.flags, m.method, 0, 0x21, crc, csize, usize, len(m.name))
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", *common, 0) + m.name + m.data)
        made_by = m.create_system << 8 | 20
        central.write(
            struct.pack(
                "<4s6H3L5H2L", b"PK\x01\x02", made_by, *common, 0, 0, 0, 0, m.external_attr, offset
            )
            + m.name
        )
    directory = central.getvalue()
    start = out.tell()
    out.write(directory)
    count = len(members)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0))
    return out.getvalue()


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    folder = tmp_path / "staging"
    folder.mkdir()
    return folder


def write(staging: Path, content: bytes) -> Path:
    archive = staging / "bulk.zip"
    archive.write_bytes(content)
    return archive


def everything_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def untouched(tmp_path: Path, staging: Path) -> Iterator[None]:
    """After the test, the temporary folder holds the staging folder and the archive only."""
    yield
    assert everything_under(tmp_path) == ["staging", "staging/bulk.zip"]


# -- what is unpacked ------------------------------------------------------------------------


def test_files_and_folders_are_unpacked_and_listed_by_path_with_size_and_sha256(
    staging: Path,
) -> None:
    body = b"IDRSSD\tRCON2170\n" * 5000
    archive = staging / "bulk.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("schedules/RC/data.txt", body)
        zf.writestr("Readme.txt", b"read me")
        zf.writestr("empty/", b"")
        zf.writestr("schedules/", b"")
    target = staging / "call_reports__2024-03-31"

    files = unpack(archive, target)

    assert [(f.name, f.size) for f in files] == [
        ("Readme.txt", 7),
        ("schedules/RC/data.txt", len(body)),
    ]
    assert files[1].path == target / "schedules/RC/data.txt"
    assert files[1].sha256 == hashlib.sha256(body).hexdigest()
    assert (target / "schedules/RC/data.txt").read_bytes() == body
    assert (target / "empty").is_dir()
    assert everything_under(staging) == [
        "bulk.zip",
        "call_reports__2024-03-31",
        "call_reports__2024-03-31/Readme.txt",
        "call_reports__2024-03-31/empty",
        "call_reports__2024-03-31/schedules",
        "call_reports__2024-03-31/schedules/RC",
        "call_reports__2024-03-31/schedules/RC/data.txt",
    ]


def test_the_target_gets_the_usual_folder_mode_not_a_private_temporary_one(
    staging: Path,
) -> None:
    archive = write(staging, build_zip([stored("a.txt", b"a")]))
    umask = os.umask(0o022)
    os.umask(umask)

    unpack(archive, staging / "out")

    assert stat.S_IMODE((staging / "out").stat().st_mode) == 0o777 & ~umask


def test_names_flagged_utf8_and_names_in_cp437_both_decode(staging: Path) -> None:
    archive = write(
        staging,
        build_zip(
            [
                stored("MAYAGÜEZ.txt".encode(), b"utf-8", flags=UTF8_FLAG),
                stored("AÑASCO.txt".encode("cp437"), b"cp437", flags=0),
            ]
        ),
    )

    files = unpack(archive, staging / "out")

    assert [f.name for f in files] == ["AÑASCO.txt", "MAYAGÜEZ.txt"]
    assert (staging / "out" / "AÑASCO.txt").read_bytes() == b"cp437"
    assert (staging / "out" / "MAYAGÜEZ.txt").read_bytes() == b"utf-8"


def test_an_existing_empty_target_is_filled(staging: Path) -> None:
    (staging / "out").mkdir()
    archive = write(staging, build_zip([stored("a.txt", b"a")]))

    assert [f.name for f in unpack(archive, staging / "out")] == ["a.txt"]


def test_an_empty_archive_unpacks_to_an_empty_folder(staging: Path) -> None:
    archive = write(staging, build_zip([]))

    assert unpack(archive, staging / "out") == []
    assert (staging / "out").is_dir()


def test_a_target_that_holds_files_is_refused_and_kept(staging: Path) -> None:
    (staging / "out").mkdir()
    (staging / "out" / "earlier.txt").write_text("kept")
    archive = write(staging, build_zip([stored("a.txt", b"a")]))

    with pytest.raises(Conflict, match="not empty"):
        unpack(archive, staging / "out")
    assert everything_under(staging) == ["bulk.zip", "out", "out/earlier.txt"]


# -- names -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("untouched")
@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "a/../../x",
        "a/b/../../../x",
        "/etc/x",
        "..\\x",
        "a\\..\\..\\x",
        "C:\\x",
        "C:x",
        "c:/x",
        "\\\\server\\share\\x",
        "a/\u202etxt.exe",
        "a/ x.txt",
        "./",
        "",
    ],
)
def test_a_member_name_that_could_land_elsewhere_is_refused_by_name(
    staging: Path, name: str
) -> None:
    archive = write(staging, build_zip([stored("fine.txt", b"ok"), stored(name, b"evil")]))

    with pytest.raises(InvalidName) as refused:
        unpack(archive, staging / "out")
    assert repr(name)[1:-1] in str(refused.value)


@pytest.mark.usefixtures("untouched")
def test_a_symlink_member_is_refused(staging: Path) -> None:
    link = stored("passwd", b"/etc/passwd", external_attr=(stat.S_IFLNK | 0o777) << 16)
    archive = write(staging, build_zip([stored("fine.txt", b"ok"), link]))

    with pytest.raises(InvalidArchive, match="'passwd' is a symbolic link"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched")
def test_a_device_member_is_refused(staging: Path) -> None:
    fifo = stored("pipe", b"", external_attr=(stat.S_IFIFO | 0o644) << 16)
    archive = write(staging, build_zip([fifo]))

    with pytest.raises(InvalidArchive, match="'pipe' is not a file or a folder"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched")
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("a.txt", "a.txt"),
        ("a.txt", "./a.txt"),
        ("d/a.txt", "d//a.txt"),
        ("Call.txt", "CALL.TXT"),
        ("MAYAGÜEZ.txt", "MAYAGU\u0308EZ.txt"),
        ("d/", "d"),
    ],
)
def test_two_members_landing_on_one_file_are_refused(
    staging: Path, first: str, second: str
) -> None:
    members = [stored(n, b"" if n.endswith("/") else n.encode()) for n in (first, second)]
    archive = write(staging, build_zip(members))

    with pytest.raises(InvalidArchive, match="lands on the same file as") as refused:
        unpack(archive, staging / "out")
    assert repr(second) in str(refused.value)


@pytest.mark.usefixtures("untouched")
def test_a_file_that_another_member_needs_as_a_folder_is_refused(staging: Path) -> None:
    archive = write(staging, build_zip([stored("a", b"file"), stored("A/b.txt", b"inside")]))

    with pytest.raises(InvalidArchive, match=r"'a' is a file, but 'A/b.txt' needs it"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched")
def test_one_folder_spelled_two_ways_is_refused(staging: Path) -> None:
    archive = write(staging, build_zip([stored("Data/a.txt", b"a"), stored("data/b.txt", b"b")]))

    with pytest.raises(InvalidArchive, match="one folder as both 'Data' and 'data'"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched")
def test_a_refused_archive_creates_no_folder_on_the_way_to_the_target(staging: Path) -> None:
    archive = write(staging, build_zip([stored("../x", b"x")]))

    with pytest.raises(InvalidName):
        unpack(archive, staging / "new" / "deeper" / "out")


# -- limits ----------------------------------------------------------------------------------


def zeros_bomb(name: str, size: int) -> Member:
    """``size`` zero bytes (a multiple of 1 MiB) deflated ~1,000:1 without compressing them:
    a fully flushed block of zeros compresses the same each time, so one is repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    data = block * (size // MIB) + c.flush()
    return Member(name.encode(), data, zipfile.ZIP_DEFLATED, crc=0, file_size=size)


@pytest.fixture
def never_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object, **__: object) -> None:
        raise AssertionError("a member was opened: refused from its headers only, it must not")

    monkeypatch.setattr(zipfile.ZipFile, "open", fail)


@pytest.mark.usefixtures("untouched", "never_opened")
def test_a_2_gib_bomb_in_a_2_mb_zip_is_refused_from_its_headers(staging: Path) -> None:
    archive = write(
        staging, build_zip([stored("fine.txt", b"ok"), zeros_bomb("bomb.txt", 2 * GIB)])
    )
    assert archive.stat().st_size < 3_000_000

    with pytest.raises(PayloadTooLarge, match=r"'bomb.txt' declares 2147483648 bytes .* ratio"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched", "never_opened")
def test_an_archive_declaring_more_than_the_total_is_refused_from_its_headers(
    staging: Path,
) -> None:
    members = [stored(f"part-{i}.txt", bytes(400)) for i in range(3)]
    archive = write(staging, build_zip(members))

    with pytest.raises(PayloadTooLarge, match=r"more than 1000 bytes .*'part-2.txt'"):
        unpack(archive, staging / "out", limits=ArchiveLimits(max_total_bytes=1000))


@pytest.mark.usefixtures("untouched", "never_opened")
def test_an_archive_with_more_members_than_the_limit_is_refused(staging: Path) -> None:
    archive = write(staging, build_zip([stored(f"{i}.txt") for i in range(4)]))

    with pytest.raises(PayloadTooLarge, match="holds 4 members, more than the limit of 3"):
        unpack(archive, staging / "out", limits=ArchiveLimits(max_members=3))


def test_a_small_member_may_compress_far_beyond_the_ratio(staging: Path) -> None:
    archive = write(staging, build_zip([deflated("empty_table.txt", b"\t" * 500_000)]))

    files = unpack(archive, staging / "out")

    assert files[0].size == 500_000


@pytest.mark.usefixtures("untouched")
def test_a_member_whose_headers_understate_it_never_lands(staging: Path) -> None:
    # 64 MiB of zeros whose headers claim 100 KiB: within every limit, so only the stream tells.
    lying = zeros_bomb("lying.txt", 64 * MIB)
    lying.file_size = 100 * 1024
    archive = write(staging, build_zip([stored("fine.txt", b"ok"), lying]))

    with pytest.raises((PayloadTooLarge, InvalidArchive), match=r"'lying.txt'"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched")
def test_a_stream_longer_than_its_headers_is_cut_off_and_nothing_is_left(
    staging: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CPython's zipfile already stops a member at its declared size (the CRC then fails, as
    # above); this is a zipfile that would not, to show the unpacker's own count suffices.
    archive = write(staging, build_zip([stored("fine.txt", b"ok"), stored("grows.txt", b"x")]))
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *_, **__: Endless())

    with pytest.raises(PayloadTooLarge, match=r"member 'fine.txt' expands past the 2 bytes"):
        unpack(archive, staging / "out")


class Endless(io.RawIOBase):
    """A member stream that never ends, as if zipfile trusted its data over its headers."""

    def __init__(self) -> None:
        self.given = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.given += size
        return bytes(size)


@pytest.mark.parametrize(
    ("declared", "limits", "stopped_past"),
    [
        (5 * MIB, ArchiveLimits(), 5 * MIB),  # its declared size
        (5 * MIB, ArchiveLimits(max_total_bytes=3 * MIB), 3 * MIB),  # the archive's total
        (50 * MIB, ArchiveLimits(max_ratio=2, small_member_bytes=MIB), 2 * MIB),  # its ratio
    ],
)
def test_the_stream_is_counted_and_cut_one_chunk_past_the_first_limit(
    declared: int, limits: ArchiveLimits, stopped_past: int
) -> None:
    info = zipfile.ZipInfo("lying.txt")
    info.file_size = declared
    info.compress_size = MIB
    source, out = Endless(), io.BytesIO()
    budget = archives.StreamBudget(Path("bulk.zip"), limits)

    with pytest.raises(PayloadTooLarge, match=r"'lying.txt'"):
        archives.copy_member(source, out, info, budget)  # type: ignore[arg-type]
    assert stopped_past < source.given <= stopped_past + CHUNK_BYTES
    assert len(out.getvalue()) <= stopped_past


def test_limits_are_whole_numbers_above_zero() -> None:
    with pytest.raises(InvalidInput, match="max_ratio=0"):
        ArchiveLimits(max_ratio=0)


# -- corrupt archives ------------------------------------------------------------------------


@pytest.mark.usefixtures("untouched")
def test_a_member_with_a_bad_crc_is_refused(staging: Path) -> None:
    bad = deflated("data.txt", b"row\n" * 1000, crc=0xDEADBEEF)
    archive = write(staging, build_zip([stored("fine.txt", b"ok"), bad]))

    with pytest.raises(InvalidArchive, match=r"'data.txt' of bulk.zip is corrupt .*CRC"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched")
def test_a_member_whose_compressed_data_is_cut_off_is_refused(staging: Path) -> None:
    whole = deflated("data.txt", os.urandom(200_000))
    whole.data = whole.data[:50_000]
    archive = write(staging, build_zip([stored("fine.txt", b"ok"), whole]))

    with pytest.raises(InvalidArchive, match=r"'data.txt'"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched")
@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_a_cut_off_archive_is_refused(staging: Path, keep: float) -> None:
    content = build_zip([deflated("a.txt", os.urandom(10_000)), stored("b.txt", b"b" * 1000)])
    archive = write(staging, content[: int(len(content) * keep)])

    with pytest.raises(InvalidArchive, match=r"bulk.zip is cut off or corrupt"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched")
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"IDRSSD\tRCON2170\n",
        b"\x1f\x8b\x08\x00 a gzip file",
        b"MZ self-extracting " + build_zip([stored("a.txt", b"a")]),
    ],
)
def test_what_is_not_a_zip_is_refused_by_its_first_bytes(staging: Path, content: bytes) -> None:
    archive = write(staging, content)

    with pytest.raises(InvalidArchive, match=r"bulk.zip is not a zip archive"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched")
def test_a_local_header_that_contradicts_the_central_directory_is_refused(
    staging: Path,
) -> None:
    content = build_zip([stored("a.txt", b"a")]).replace(b"a.txt", b"b.txt", 1)
    archive = write(staging, content)

    with pytest.raises(InvalidArchive, match="cut off or corrupt"):
        unpack(archive, staging / "out")


@pytest.mark.usefixtures("untouched")
@pytest.mark.parametrize(
    ("member", "says"),
    [
        (stored("secret.txt", b"x", flags=0x1), "'secret.txt' is encrypted"),
        (Member(b"data.txt", b"BZh9", zipfile.ZIP_BZIP2), "'data.txt' uses compression method 12"),
        (Member(b"data.txt", b"\x00", zipfile.ZIP_LZMA), "'data.txt' uses compression method 14"),
    ],
)
def test_encrypted_members_and_unbounded_compression_methods_are_refused(
    staging: Path, member: Member, says: str
) -> None:
    archive = write(staging, build_zip([member]))

    with pytest.raises(InvalidArchive, match=says):
        unpack(archive, staging / "out")


def test_a_missing_archive_is_invalid_input(staging: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        unpack(staging / "missing.zip", staging / "out")
    assert everything_under(staging) == []
