"""What a partitioned write reports and what a reader can learn about a dataset's partitions.

Values only: the writer (`ports.partitions.PartitionWriter`) and its callers share them, so the
ingestion service can log a report without knowing how Parquet was produced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attrs import frozen

from overlord.domain.datasets import Granularity, partition_key
from overlord.domain.errors import InvalidInput
from overlord.domain.windows import Window

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


def partition_after(moment: datetime, granularity: Granularity) -> datetime:
    """The start of the partition after the one holding ``moment``.

    >>> partition_after(datetime(2026, 12, 31, 23, 5, tzinfo=UTC), Granularity.MONTH)
    datetime.datetime(2027, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    start = partition_start(partition_key(moment, granularity))
    if granularity is Granularity.YEAR:
        return start.replace(year=start.year + 1)
    if granularity is Granularity.MONTH:
        year, month = divmod(start.month, 12)
        return start.replace(year=start.year + year, month=month + 1)
    step = {
        Granularity.DAY: timedelta(days=1),
        Granularity.HOUR: timedelta(hours=1),
        Granularity.MINUTE: timedelta(minutes=1),
    }[granularity]
    return start + step


def partition_span(window: Window, granularity: Granularity) -> Window:
    """The partitions ``window`` touches, as one window from the first's start to the last's
    end: what a partition job must read so that it rewrites each partition whole.

    >>> str(partition_span(Window.of("2026-01-01T08:30:00Z", "2026-01-01T10:00:00Z"),
    ...                    Granularity.HOUR))
    '2026-01-01T08:00:00Z/2026-01-01T10:00:00Z'
    """
    last = window.end - timedelta(microseconds=1)
    return Window(
        partition_start(partition_key(window.start, granularity)),
        partition_after(last, granularity),
    )


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
