"""Datasets written as Hive-style Parquet partitions by each record's UTC time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from overlord.domain.datasets import Granularity
    from overlord.domain.partitions import PartitionInfo, PartitionReport


class PartitionWriter(Protocol):
    """Readers wait for a partition's ``_SUCCESS`` marker and read the files it lists.

    A crash leaves each partition either as it was (marker and all) or without a marker, and
    the next write of the same records with the same ``batch_id`` finishes it: a write that
    merges rows already published first stages what it will publish under
    ``{prefix}_staging/{batch_id}/``, since those rows may be gone from their partition when it
    is retried. One writer per prefix at a time.
    """

    def write(
        self,
        bucket: str,
        prefix: str,
        records: Sequence[Mapping[str, Any]],
        *,
        time_field: str,
        granularity: Granularity,
        key: Sequence[str],
        mode: Literal["append", "overwrite-partitions"],
        batch_id: str,
    ) -> PartitionReport:
        """Group ``records`` by `partition_key` of ``time_field`` and publish each partition.

        ``append`` keeps a partition's rows and adds the new, one row per ``key`` (the new wins;
        an empty ``key`` means the whole row); ``overwrite-partitions`` replaces the touched
        partitions with the new rows (deduplicated the same way). A record without a parsable
        time (ISO-8601 with an offset, or epoch seconds) raises `InvalidInput` naming its index,
        and nothing is written.
        """

    def partitions(
        self,
        bucket: str,
        prefix: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[PartitionInfo]:
        """Partitions under ``prefix`` starting in [``start``, ``end``), sorted by key."""

    def read(self, bucket: str, prefix: str, partition: str) -> list[dict[str, Any]]:
        """The rows of a published partition; `NotFound` if it has no marker."""
