"""Dataset runs as JSON: one shape for ``overlord -o json datasets ...`` and the API.

A run gives at least ``{"run_id", "status", "files": [{"name", "bytes"}], "folders":
[{"table", "files", "rows", "action"}], "errors": []}``; the rest says where it stands. An API
dataset's run has a ``window`` (``"START/END"``, UTC ISO instants; null for a scraped period, or
while a cadence run has not fixed it yet), and its folders are labelled ``PART/TABLE`` beside a
``partitions`` row for its partition job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from overlord.domain.windows import instant_text

if TYPE_CHECKING:
    from datetime import datetime

    from overlord.domain.dataset_runs import DatasetRun
    from overlord.domain.partitions import PartitionInfo
    from overlord.services.datasets import DatasetInfo


def run_json(run: DatasetRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "tenant": run.tenant,
        "connector": run.connector,
        "dataset": run.dataset,
        "period": run.period,
        "window": run.window,
        "status": run.status.value,
        "gather_status": run.gather_status.value,
        "files": [{"name": f.name, "bytes": f.bytes} for f in run.files],
        "folders": [
            {
                "table": f.table,
                "files": f.files,
                "rows": f.rows,
                "action": f.action,
                "job_id": f.job_id,
                "status": f.status.value if f.status is not None else None,
            }
            for f in run.folders
        ],
        "errors": list(run.errors),
    }


def dataset_json(info: DatasetInfo) -> dict[str, Any]:
    dataset = info.dataset
    sink = dataset.sink
    return {
        "tenant": info.tenant,
        "connector": info.connector,
        "dataset": dataset.name,
        "source": type(dataset.source).__name__.removesuffix("Source").lower(),
        "cadence": dataset.cadence,
        "timezone": dataset.timezone,
        "cleaner": dataset.cleaner,
        "table": getattr(sink, "table", None),
        "keys": list(sink.keys),
    }


def listed_dataset_json(info: DatasetInfo, cursor: datetime | None) -> dict[str, Any]:
    """A dataset as ``datasets list`` gives it: with its ``cursor``, how far an API dataset
    has fully landed (null for a scraped dataset, or before an API one's first landing)."""
    return {**dataset_json(info), "cursor": instant_text(cursor) if cursor else None}


def partition_json(info: PartitionInfo) -> dict[str, Any]:
    return {
        "key": info.key,
        "start": instant_text(info.start),
        "rows": info.rows,
        "files": info.files,
        "published": info.published,
    }
