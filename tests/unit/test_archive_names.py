"""The member-name rule: whatever it accepts lands inside the target folder, on any system."""

from __future__ import annotations

import os
from pathlib import PurePosixPath, PureWindowsPath

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from overlord.domain.archives import ArchiveLimits, collision_key, member_path
from overlord.domain.errors import InvalidInput, InvalidName

STAGING = "/srv/staging/run-1/call_reports"

HOSTILE_PIECES = ["..", ".", "", "/", "\\", "C:", "c:", "\\\\server", "\x00", "\u202e", " ", "~"]
segment = st.one_of(
    st.sampled_from(HOSTILE_PIECES),
    st.text(min_size=1, max_size=12),
    st.text(alphabet="./\\:Ca ", min_size=1, max_size=6),
)
names = st.lists(segment, max_size=6).flatmap(
    lambda parts: st.sampled_from(["/", "\\", ""]).map(lambda sep: sep.join(parts))
)


@example("./C:")  # found by the property below: the drive check must follow normalising
@settings(max_examples=500)
@given(names)
def test_every_accepted_name_resolves_inside_the_staging_folder(name: str) -> None:
    try:
        path = member_path(name)
    except InvalidName:
        return
    landed = os.path.normpath(os.path.join(STAGING, path))
    assert landed.startswith(STAGING + os.sep)
    assert not path.is_absolute()
    assert ".." not in path.parts
    # Read on Windows it climbs nowhere either: no drive, no root, no '..'.
    windows = PureWindowsPath(str(path))
    assert not windows.drive
    assert not windows.root
    assert ".." not in windows.parts


@given(names)
def test_an_accepted_name_is_its_own_normal_form(name: str) -> None:
    try:
        path = member_path(name)
    except InvalidName:
        return
    assert member_path(str(path)) == path


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("a.txt", "a.txt"),
        ("dir/", "dir"),
        ("./a//b/./c.txt", "a/b/c.txt"),
        ("FFIEC CDR Call Bulk POR 03312024.txt", "FFIEC CDR Call Bulk POR 03312024.txt"),
        ("ab:c.txt", "ab:c.txt"),
        ("..a/b..", "..a/b.."),
    ],
)
def test_plain_names_are_kept(name: str, path: str) -> None:
    assert member_path(name) == PurePosixPath(path)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x", "climbs out"),
        ("a/../../x", "climbs out"),
        ("a/..", "climbs out"),
        ("/etc/x", "absolute"),
        ("..\\x", "backslash"),
        ("C:\\x", "backslash"),
        ("C:x", "drive letter"),
        ("a:b.txt", "drive letter"),
        ("./C:x", "drive letter"),
        (".//c:", "drive letter"),
        ("a\x00b", "control"),
        ("a/\u202etxt.exe", "invisible"),
        ("a /b", "white space"),
        ("./", "names no file"),
        ("", "names no file"),
        ("x" * 256, "longer than 255"),
        ("a/" * 600, "longer than 1024"),
    ],
)
def test_hostile_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(InvalidName, match=reason):
        member_path(name)


def test_names_that_are_one_file_on_macos_or_windows_share_a_collision_key() -> None:
    assert collision_key(PurePosixPath("AÑASCO.txt")) == collision_key(PurePosixPath("añasco.TXT"))
    assert collision_key(PurePosixPath("a/b")) != collision_key(PurePosixPath("a_b"))


@pytest.mark.parametrize(
    "field", ["max_total_bytes", "max_members", "max_ratio", "small_member_bytes"]
)
@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_every_limit_is_a_whole_number_above_zero(field: str, value: object) -> None:
    with pytest.raises(InvalidInput, match=field):
        ArchiveLimits(**{field: value})  # type: ignore[arg-type]


def test_the_ratio_allowance_never_falls_below_the_small_member_size() -> None:
    limits = ArchiveLimits(max_ratio=10, small_member_bytes=1000)
    assert limits.member_allowance(0) == 1000
    assert limits.member_allowance(500) == 5000
