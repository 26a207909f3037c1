"""A dataset run: one ``gather`` job and the ``process`` jobs its folders started.

The jobs carry the work (ids derived from their requests, retries, logs, sweeps); these records
carry what only a run knows: which files the gather stage fetched, which folders they made and
which process job loads each, and what each load did. The run's id is its gather job's id, so a
repeated request finds the same run, and its status is read from the jobs as they are now
rather than stored, so a record can never disagree with the jobs it describes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Literal

from attrs import frozen

from overlord.domain.jobs import Job, JobStatus

UploadAction = Literal["written", "unchanged"]
LoadAction = Literal["loaded", "unchanged", "superseded", "failed"]


class RunStatus(enum.StrEnum):
    GATHERING = "GATHERING"  # the gather job has not finished
    PROCESSING = "PROCESSING"  # gathered; some process jobs have not finished
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED)


@frozen
class RunFile:
    name: str
    bytes: int


@frozen
class RunFolder:
    """A folder the gather stage left complete, and the process job that loads it."""

    table: str
    files: int
    checksum: str
    upload: UploadAction
    job_id: str
    job_created: bool  # False: an earlier run had already submitted this very load
    period: str = ""  # an API run's folders are one per part of its window; "" the run's period

    @property
    def label(self) -> str:
        return f"{self.period}/{self.table}" if self.period else self.table


@frozen
class GatherRecord:
    """What the gather stage stored when it finished, under its job's id."""

    run_id: str
    dataset: str
    period: str
    files: tuple[RunFile, ...]
    folders: tuple[RunFolder, ...]
    ignored: tuple[str, ...] = ()
    error: str | None = None  # why the last attempt failed; the job's reason says only its exit
    window: str | None = None  # an API run's [start, end), fixed by its first attempt

    def to_document(self) -> dict[str, Any]:
        return {
            "_id": self.run_id,
            "error": self.error,
            "window": self.window,
            "dataset": self.dataset,
            "period": self.period,
            "files": [{"name": f.name, "bytes": f.bytes} for f in self.files],
            "folders": [
                {
                    "table": f.table,
                    "files": f.files,
                    "checksum": f.checksum,
                    "upload": f.upload,
                    "job_id": f.job_id,
                    "job_created": f.job_created,
                    "period": f.period,
                }
                for f in self.folders
            ],
            "ignored": list(self.ignored),
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> GatherRecord:
        return cls(
            run_id=str(doc["_id"]),
            dataset=str(doc["dataset"]),
            period=str(doc["period"]),
            files=tuple(RunFile(str(f["name"]), int(f["bytes"])) for f in doc["files"]),
            folders=tuple(
                RunFolder(
                    table=str(f["table"]),
                    files=int(f["files"]),
                    checksum=str(f["checksum"]),
                    upload=f["upload"],
                    job_id=str(f["job_id"]),
                    job_created=bool(f["job_created"]),
                    period=str(f.get("period", "")),
                )
                for f in doc["folders"]
            ),
            ignored=tuple(str(name) for name in doc.get("ignored", ())),
            error=doc.get("error"),
            window=doc.get("window"),
        )


@frozen
class LoadRecord:
    """What a process job's load did, stored under the job's id."""

    job_id: str
    dataset: str
    period: str
    table: str
    files: int
    rows: int
    action: LoadAction
    load_id: str
    error: str | None = None  # for "failed": why the last attempt failed

    def to_document(self) -> dict[str, Any]:
        return {
            "_id": self.job_id,
            "error": self.error,
            "dataset": self.dataset,
            "period": self.period,
            "table": self.table,
            "files": self.files,
            "rows": self.rows,
            "action": self.action,
            "load_id": self.load_id,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> LoadRecord:
        return cls(
            job_id=str(doc["_id"]),
            dataset=str(doc["dataset"]),
            period=str(doc["period"]),
            table=str(doc["table"]),
            files=int(doc["files"]),
            rows=int(doc["rows"]),
            action=doc["action"],
            load_id=str(doc["load_id"]),
            error=doc.get("error"),
        )


@frozen
class FolderView:
    table: str
    files: int
    rows: int | None  # None until its load is recorded
    action: str  # loaded | unchanged | superseded | pending | failed | gathered
    job_id: str  # "" when the run gathers only
    status: JobStatus | None  # None: no process job


@frozen
class DatasetRun:
    """A run as it stands: its gather job, what it gathered, and each folder's load."""

    run_id: str
    tenant: str
    connector: str
    dataset: str
    period: str | None
    status: RunStatus
    gather_status: JobStatus
    window: str | None
    files: tuple[RunFile, ...]
    folders: tuple[FolderView, ...]
    errors: tuple[str, ...]

    @classmethod
    def of(
        cls,
        gather: Job,
        record: GatherRecord | None,
        process: Mapping[str, Job],
        loads: Mapping[str, LoadRecord],
    ) -> DatasetRun:
        """Read the run from its jobs: failed when the gather job or any process job failed,
        succeeded when every one of them succeeded."""
        errors: list[str] = []
        folders: list[FolderView] = []
        for folder in record.folders if record else ():
            if not folder.job_id:  # a gather-only run: loading is left to a later command
                folders.append(FolderView(folder.label, folder.files, None, "gathered", "", None))
                continue
            job = process.get(folder.job_id)
            job_status = job.status if job is not None else JobStatus.REQUESTED
            load = loads.get(folder.job_id)
            failed = job is not None and job.finished and job.status is not JobStatus.SUCCEEDED
            action = "pending"
            if failed:
                action = "failed"
                reason = load.error if load is not None and load.error else None
                reason = reason or (job.status_reason if job is not None else None)
                errors.append(f"{folder.label}: {reason or job_status.value}")
                load = None
            elif load is not None and load.action == "failed":
                load = None  # an attempt failed; the job retries it
            elif load is not None:
                action = load.action if folder.job_created else "unchanged"
            folders.append(
                FolderView(
                    table=folder.label,
                    files=folder.files,
                    rows=load.rows if load is not None else None,
                    action=action,
                    job_id=folder.job_id,
                    status=job_status,
                )
            )
        status: RunStatus
        if not gather.finished:
            status = RunStatus.GATHERING
        elif gather.status is not JobStatus.SUCCEEDED:
            status = RunStatus.FAILED
            reason = record.error if record is not None and record.error else gather.status_reason
            errors.insert(0, f"gather: {reason or gather.status.value}")
        elif record is None or record.error is not None:
            status = RunStatus.FAILED
            errors.insert(0, "gather: the job succeeded but recorded nothing")
        elif any(f.action == "failed" for f in folders):
            status = RunStatus.FAILED
        elif all(
            f.status is JobStatus.SUCCEEDED and f.rows is not None for f in folders if f.job_id
        ):
            status = RunStatus.SUCCEEDED
        else:
            status = RunStatus.PROCESSING
        params = gather.payload.get("params")
        asked = params.get("period") if isinstance(params, Mapping) else None
        period = (
            record.period if record and record.period else asked
        )  # a gather job is asked by its params
        return cls(
            run_id=gather.id.value,
            tenant=gather.tenant.value,
            connector=gather.connector.value,
            dataset=str(gather.payload.get("dataset")),
            period=str(period) if period is not None else None,
            status=status,
            gather_status=gather.status,
            # A failed backfill's record has no window of its own: the request says it.
            window=record.window if record and record.window else _asked_window(gather.payload),
            files=record.files if record else (),
            folders=tuple(folders),
            errors=tuple(errors),
        )


def _asked_window(payload: Mapping[str, Any]) -> str | None:
    """The window a run was asked for, before its record exists (None: it is fixed at start)."""
    if "start" in payload and "end" in payload:
        return f"{payload['start']}/{payload['end']}"
    return None
