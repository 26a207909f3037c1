"""`write_zip`: the bytes depend on the files' paths, contents and modes, nothing else."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from overlord.adapters.pip.reproducible_zip import EPOCH, write_zip

FILES = {
    "pkg/__init__.py": b"",
    "pkg/core.py": b"VALUE = 1\n",
    "pkg/data/table.json": b'{"a": 1}\n',
    "tool.so": b"\x7fELF" + bytes(range(256)) * 64,
}


def make_tree(root: Path, order: list[str], mtime: int) -> Path:
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(FILES[name])
        path.chmod(0o700 if name.endswith(".so") else 0o600)
        os.utime(path, (mtime, mtime))
    return root


def test_the_same_files_made_in_another_order_at_another_time_zip_to_the_same_bytes(
    tmp_path: Path,
) -> None:
    first = make_tree(tmp_path / "a", sorted(FILES), mtime=1_700_000_000)
    second = make_tree(tmp_path / "b", sorted(FILES, reverse=True), mtime=1_800_000_000)

    write_zip([first], tmp_path / "first.zip")
    write_zip([second], tmp_path / "second.zip")

    assert (tmp_path / "first.zip").read_bytes() == (tmp_path / "second.zip").read_bytes()


def test_entries_are_sorted_dated_at_the_zip_epoch_and_readable_by_anyone(
    tmp_path: Path,
) -> None:
    tree = make_tree(tmp_path / "tree", list(FILES), mtime=1_700_000_000)

    count = write_zip([tree], tmp_path / "out.zip")

    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        entries = archive.infolist()
        assert archive.testzip() is None
        assert {e.filename: archive.read(e) for e in entries} == FILES
    assert count == len(entries) == len(FILES)
    assert [e.filename for e in entries] == sorted(FILES)
    assert {e.date_time for e in entries} == {EPOCH}
    modes = {e.filename: stat.S_IMODE(e.external_attr >> 16) for e in entries}
    assert modes == {name: 0o755 if name.endswith(".so") else 0o644 for name in FILES}


def test_folders_are_zipped_as_one_tree_and_a_path_in_two_of_them_is_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "one/lib").mkdir(parents=True)
    (tmp_path / "one/lib/a.py").write_bytes(b"a")
    (tmp_path / "two/app").mkdir(parents=True)
    (tmp_path / "two/app/b.py").write_bytes(b"b")
    (tmp_path / "three/lib").mkdir(parents=True)
    (tmp_path / "three/lib/a.py").write_bytes(b"another a")

    write_zip([tmp_path / "two", tmp_path / "one"], tmp_path / "both.zip")
    with pytest.raises(ValueError, match=r"lib/a\.py"):
        write_zip([tmp_path / "one", tmp_path / "three"], tmp_path / "clash.zip")

    with zipfile.ZipFile(tmp_path / "both.zip") as archive:
        assert archive.namelist() == ["app/b.py", "lib/a.py"]
    assert not (tmp_path / "clash.zip").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
