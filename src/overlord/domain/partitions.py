"""What a partitioned write reports and what a reader can learn about a dataset's partitions.

Values only: the writer (`ports.partitions.PartitionWriter`) and its callers share them, so the
ingestion service can log a report without knowing how Parquet was produced.
"""

from __future__ import annotations

from datetime import UTC, datetime

from attrs import frozen

from overlord.domain.datasets import Granularity
from overlord.domain.errors import InvalidInput

MARKER = "_SUCCESS"
STAGING = "_staging"


def partition_start(key: str) -> datetime:
    """The first instant (UTC) of a Hive-style partition key, the inverse of `partition_key`.

    >>> partition_start("year=2026/month=11/day=22/hour=08")
    datetime.datetime(2026, 11, 22, 8, 0, tzinfo=datetime.timezone.utc)
    """
    levels = [g.value for g in Granularity]
    values: list[int] = []
    for depth, part in enumerate(key.split("/")):
        name, _, value = part.partition("=")
        if depth >= len(levels) or name != levels[depth] or not value.isdigit():
            raise InvalidInput(f"{key!r} is not a partition key")
        values.append(int(value))
    year, month, day, hour, minute = (
        values + [1] * max(0, 3 - len(values)) + [0] * (5 - max(3, len(values)))
    )
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@frozen
class PartitionWritten:
    key: str
    rows: int


@frozen
class PartitionReport:
    """One write: the partitions it published, and how many rows dedup by key dropped."""

    partitions: tuple[PartitionWritten, ...]
    rows_in: int
    rows_after_dedup: int
    files_written: int


@frozen
class PartitionInfo:
    """A partition as stored; ``rows`` comes from its marker, so it is 0 while unpublished."""

    key: str
    start: datetime
    rows: int
    files: int
    published: bool
