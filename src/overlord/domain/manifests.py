"""A dataset folder's manifest: which files make the folder complete, and its checksum.

The gather stage uploads a period's files to ``raw/{dataset}/{period}/{table}/{file}`` in the
tenant's bucket and writes ``_manifest.json`` last; a folder without one is still arriving and
is never processed. The process stage reads the manifest to know what to load, and records the
load under the manifest's `checksum`, so loading the same folder again changes nothing while a
folder whose files changed loads anew.

>>> manifest = FolderManifest(
...     dataset="call-reports", period="2026-03-31", table="call_rcb",
...     files=(ManifestFile(name="a.txt", size=3, sha256="0" * 64),),
... )
>>> FolderManifest.from_json(manifest.to_json()) == manifest
True
>>> manifest.prefix
'raw/call-reports/2026-03-31/call_rcb/'
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from attrs import field, frozen

from overlord.domain.errors import InvalidInput
from overlord.domain.fetched import check_file_name
from overlord.domain.names import slug

MANIFEST_NAME = "_manifest.json"
RAW_PREFIX = "raw"
_PERIOD = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,39}")
_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_GENERATION = re.compile(r"[0-9a-f]{0,64}")


def check_period(value: object) -> str:
    """A period names a folder: 1-40 letters, digits, '.', '_' and '-', not starting with a
    punctuation mark (``2026-03-31``, ``2026Q1``)."""
    if not isinstance(value, str) or _PERIOD.fullmatch(value) is None:
        raise InvalidInput(
            f"period {str(value)[:60]!r}: expected 1-40 letters, digits, '.', '_', '-'"
        )
    return value


def check_table(value: object) -> str:
    """A table names a folder and a relational table: a lower-case identifier."""
    if not isinstance(value, str) or _TABLE.fullmatch(value) is None:
        raise InvalidInput(f"table {str(value)[:80]!r}: expected a lower-case identifier")
    return value


def _file_name(_: object, __: object, value: str) -> None:
    check_file_name(value, "the manifest")
    if value == MANIFEST_NAME:
        raise InvalidInput(f"{MANIFEST_NAME} cannot list itself")


def _size(_: object, __: object, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"file size {value!r}: expected a whole number of bytes")


def _digest(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or _SHA256.fullmatch(value) is None:
        raise InvalidInput(f"sha256 {str(value)[:80]!r}: expected 64 lower-case hex digits")


@frozen
class ManifestFile:
    name: str = field(validator=_file_name)
    size: int = field(validator=_size)
    sha256: str = field(validator=_digest)


def _files(values: tuple[ManifestFile, ...]) -> tuple[ManifestFile, ...]:
    ordered = tuple(sorted(values, key=lambda f: f.name))
    names = [f.name for f in ordered]
    if len(set(names)) != len(names):
        raise InvalidInput(f"the manifest lists a file twice: {names}")
    return ordered


def _generation(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or _GENERATION.fullmatch(value) is None:
        raise InvalidInput(f"generation {str(value)[:80]!r}: expected up to 64 hex digits")


@frozen(kw_only=True)
class FolderManifest:
    """The files of one table's folder for one period, sorted by name.

    ``generation`` is new each time the upload writes the manifest (it keeps the stored one
    when nothing changed), and takes no part in equality or the checksum: contents that come
    back after a change (A, then B, then A again) are a new generation, so they load again
    rather than being taken for the A the table held before B replaced it.
    """

    dataset: str = field(validator=lambda _, __, v: slug("dataset", v))
    period: str = field(validator=lambda _, __, v: check_period(v))
    table: str = field(validator=lambda _, __, v: check_table(v))
    files: tuple[ManifestFile, ...] = field(converter=_files)
    generation: str = field(default="", eq=False, validator=_generation)

    @property
    def prefix(self) -> str:
        """Where the folder's files are in the tenant's bucket."""
        return folder_prefix(self.dataset, self.period, self.table)

    @property
    def key(self) -> str:
        return self.prefix + MANIFEST_NAME

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def checksum(self) -> str:
        """A digest of the folder's identity and every file's name, size and content digest:
        equal for the same files, different when any file changed."""
        return hashlib.sha256(self._canonical(self._contents()).encode("utf-8")).hexdigest()

    def _contents(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "period": self.period,
            "table": self.table,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in self.files],
        }

    @staticmethod
    def _canonical(data: dict[str, Any]) -> str:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def to_json(self) -> str:
        """Canonical JSON: the same manifest is always the same bytes."""
        data = self._contents()
        if self.generation:
            data["generation"] = self.generation
        return self._canonical(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> FolderManifest:
        """Read a manifest back; `InvalidInput` naming what is wrong with one that is not."""
        try:
            data: Any = json.loads(text)
            files = tuple(
                ManifestFile(name=f["name"], size=f["size"], sha256=f["sha256"])
                for f in data["files"]
            )
            return cls(
                dataset=data["dataset"],
                period=data["period"],
                table=data["table"],
                files=files,
                generation=data.get("generation", ""),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"not a folder manifest: {exc}") from None


def folder_prefix(dataset: str, period: str, table: str) -> str:
    """``raw/{dataset}/{period}/{table}/``: the folder name says which table it feeds."""
    return f"{RAW_PREFIX}/{slug('dataset', dataset)}/{check_period(period)}/{check_table(table)}/"
