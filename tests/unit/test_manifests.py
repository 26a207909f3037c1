"""Folder manifests: canonical bytes, a checksum that follows the files, and clear refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.errors import InvalidInput
from overlord.domain.manifests import FolderManifest, ManifestFile, folder_prefix

DIGEST = "ab" * 32


def manifest(*files: ManifestFile) -> FolderManifest:
    return FolderManifest(
        dataset="call-reports", period="2026-03-31", table="call_rcb", files=files
    )


def test_files_are_listed_by_name_whatever_the_order_given() -> None:
    a, b = ManifestFile(name="a.txt", size=1, sha256=DIGEST), ManifestFile("b.txt", 2, DIGEST)

    assert manifest(b, a) == manifest(a, b)
    assert manifest(b, a).to_json() == manifest(a, b).to_json()
    assert manifest(a, b).total_bytes == 3


def test_the_checksum_changes_with_any_file_and_only_then() -> None:
    a = ManifestFile(name="a.txt", size=1, sha256=DIGEST)

    assert manifest(a).checksum == manifest(a).checksum
    assert manifest(a).checksum != manifest(ManifestFile("a.txt", 1, "cd" * 32)).checksum
    assert manifest(a).checksum != manifest(ManifestFile("a.txt", 2, DIGEST)).checksum


@pytest.mark.parametrize(
    "text",
    ["", "[]", "{}", '{"dataset": "x"}', '{"dataset":"ab","period":"p","table":"t","files":[{}]}'],
)
def test_what_is_not_a_manifest_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="manifest"):
        FolderManifest.from_json(text)


@pytest.mark.parametrize(
    ("period", "table"), [("../x", "call_rc"), ("2026", "Call RC"), ("", "t"), ("p", "1t")]
)
def test_a_folder_name_cannot_escape_or_be_empty(period: str, table: str) -> None:
    with pytest.raises(InvalidInput):
        folder_prefix("call-reports", period, table)


def test_a_manifest_never_lists_itself_or_a_file_twice() -> None:
    with pytest.raises(InvalidInput, match="itself"):
        ManifestFile(name="_manifest.json", size=1, sha256=DIGEST)
    with pytest.raises(InvalidInput, match="twice"):
        manifest(ManifestFile("a.txt", 1, DIGEST), ManifestFile("a.txt", 2, DIGEST))


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9_]{0,12}\.txt", fullmatch=True), st.integers(0, 2**40)
        ),
        unique_by=lambda t: t[0],
        max_size=8,
    )
)
def test_a_manifest_reads_back_to_itself(files: list[tuple[str, int]]) -> None:
    written = manifest(*(ManifestFile(name=n, size=s, sha256=DIGEST) for n, s in files))

    assert FolderManifest.from_json(written.to_json()) == written
    assert FolderManifest.from_json(written.to_json().encode()) == written
