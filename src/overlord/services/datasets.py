"""Datasets as jobs: a run gathers a period and processes each of its folders.

Every stage is a job of the tenant's connector, submitted through `JobService`: ``gather`` once
per period (fetch, unpack, upload the folders), ``process`` once per folder (clean and load).
Stages therefore get what every job gets (a request-derived id, so a repeated request never runs
twice; runs, logs, retries, stuck-job sweeps; the local runner or AWS Batch), and this service
adds only what a dataset knows:

- `start` submits the gather job; its id is the run's id. A run without a period is keyed by
  the day it was asked for, so asking again the same day finds the same run and a weekly
  schedule starts a new one each week.
- `gather` is the gather job's body: fetch the source (or read an archive the caller put in
  the bucket), unpack every file safely, upload the folders, then submit one process job per
  complete folder of the period. A process job's payload carries the folder's manifest
  checksum, so the same folder contents make the same job (loaded once) and changed contents a
  new one.
- `process` is the process job's body: load the folder's manifest, clean it with the dataset's
  cleaner and load it through the `TableSink` (one transaction replacing the folder's period,
  recorded in the sink's ledger), then record what the load did.
- `folder_created` is what an object-created event runs: a manifest that landed submits its
  folder's process job (the same job the gather stage submits, so both may fire).
- `run`, `runs` and `status` read runs back from the jobs and the stage records.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import frozen

from overlord.domain.dataset_parsing import parse_dataset
from overlord.domain.dataset_runs import (
    DatasetRun,
    GatherRecord,
    LoadRecord,
    RunFile,
    RunFolder,
)
from overlord.domain.datasets import Dataset, ScrapeSource, TableTarget
from overlord.domain.errors import Conflict, DuplicateKey, InvalidInput, NotFound, OverlordError
from overlord.domain.fetched import check_file_name
from overlord.domain.indexes import IndexSpec
from overlord.domain.manifests import MANIFEST_NAME, RAW_PREFIX, FolderManifest, check_period
from overlord.domain.names import Namespace, TenantName, tenant_database
from overlord.services.dataset_load import Cleaners, folder_load_id, process_folder
from overlord.services.dataset_upload import complete_folders, period_prefix, upload_period

if TYPE_CHECKING:
    from overlord.domain.archives import ExtractedFile
    from overlord.domain.jobs import Job
    from overlord.ports.archives import Unpacker
    from overlord.ports.clock import Clock
    from overlord.ports.document_store import DocumentStore
    from overlord.ports.object_store import ObjectStore
    from overlord.ports.source import Source
    from overlord.ports.table_sink import TableSink, Value
    from overlord.services.jobs import JobService, SubmitResult
    from overlord.services.registry import TenantRegistry

RUNS, LOADS = "dataset_runs", "dataset_loads"
INCOMING = "incoming"  # archives a caller hands in instead of a fetch: incoming/{sha256}/{name}
MAX_PARAMS = 32
Progress = Callable[[str], None]


@frozen
class DatasetInfo:
    tenant: str | None
    connector: str
    dataset: Dataset


@frozen
class RunStart:
    run: DatasetRun
    created: bool


def _quiet(_: str) -> None:
    """Progress nobody reads."""


def _params(params: Mapping[str, Any]) -> dict[str, str]:
    """Job parameters as the recipe sees them: a few short strings by identifier-like names."""
    if len(params) > MAX_PARAMS:
        raise InvalidInput(f"{len(params)} parameters: at most {MAX_PARAMS}")
    checked: dict[str, str] = {}
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier() or len(name) > 64:
            raise InvalidInput(f"parameter name {str(name)[:40]!r}: expected an identifier")
        if not isinstance(value, str) or len(value) > 1024:
            raise InvalidInput(f"parameter {name}: expected a string of at most 1024 characters")
        checked[name] = value
    return checked


def period_value(period: str) -> Value:
    """The value a period column holds for ``period``: a date for an ISO date, else the text."""
    try:
        return date.fromisoformat(period)
    except ValueError:
        return period


class DatasetService:
    def __init__(
        self,
        *,
        jobs: JobService,
        documents: DocumentStore,
        objects: ObjectStore,
        sources: Source,
        unpacker: Unpacker,
        tables: TableSink,
        cleaners: Cleaners,
        registry: TenantRegistry,
        clock: Clock,
        namespace: Namespace,
        scratch: Path | None = None,
    ) -> None:
        self._jobs = jobs
        self._documents = documents
        self._objects = objects
        self._sources = sources
        self._unpacker = unpacker
        self._tables = tables
        self._cleaners = cleaners
        self._registry = registry
        self._clock = clock
        self._namespace = namespace
        self._scratch = scratch

    # -- what connectors declare ---------------------------------------------------------

    def datasets(self, tenant: str, connector: str | None = None) -> builtins.list[DatasetInfo]:
        """The datasets of the tenant's provisioned connectors (of one, when named)."""
        entries = self._registry.connectors(tenant)
        if not entries and self._registry.tenant(tenant) is None:
            raise NotFound(f"no tenant {tenant!r}: run `overlord tenants init {tenant} ...` first")
        names = sorted(str(entry["connector"]) for entry in entries)
        if connector is not None:
            names = [connector]
        found: list[DatasetInfo] = []
        for name in names:
            template = self._jobs.target(tenant, name).template
            found.extend(
                DatasetInfo(tenant, name, parse_dataset(data, f"datasets[{i}]"))
                for i, data in enumerate(template.datasets)
            )
        return found

    def dataset(self, tenant: str, connector: str, name: str) -> Dataset:
        template = self._jobs.target(tenant, connector).template
        for i, data in enumerate(template.datasets):
            if data.get("name") == name:
                return parse_dataset(data, f"datasets[{i}]")
        known = ", ".join(str(d.get("name")) for d in template.datasets) or "none"
        raise NotFound(f"connector {connector} has no dataset {name!r}; it has {known}")

    # -- starting a run ------------------------------------------------------------------

    def start(
        self,
        tenant: str,
        connector: str,
        dataset: str,
        *,
        params: Mapping[str, Any] | None = None,
        source_url: str | None = None,
        archive: bytes | None = None,
        archive_name: str = "archive.zip",
        process: bool = True,
        idempotency_key: str | None = None,
    ) -> RunStart:
        """Submit the run's gather job; the same request returns the same run (``created``
        False). ``params`` fill the recipe (``period`` picks the period); ``source_url``
        points a scraping recipe at a mirror; ``archive`` is a bulk file the caller already
        has (named ``archive_name``), uploaded to the tenant's bucket and unpacked instead of
        fetching; ``process=False`` gathers without loading. Everything is checked before
        anything is written."""
        spec = self.dataset(tenant, connector, dataset)
        values = _params(params or {})
        if "period" in values:
            check_period(values["period"])
        payload: dict[str, Any] = {"dataset": spec.name}
        if values:
            payload["params"] = values
        if source_url is not None:
            if not isinstance(spec.source, ScrapeSource):
                raise InvalidInput(f"dataset {dataset}: --source-url applies to scraped sources")
            spec.source.mirrored(source_url)  # refuses a URL that is not a mirror's
            payload["source_url"] = source_url
        if not process:
            payload["process"] = False
        target = self._jobs.target(tenant, connector)
        if archive is not None:
            name = check_file_name(archive_name, "the archive")
            key = f"{INCOMING}/{hashlib.sha256(archive).hexdigest()}/{name}"
            self._objects.put_object(
                target.names["bucket"], key, archive, content_type="application/zip"
            )
            payload["archive"] = key
        if idempotency_key is None and "period" not in values and archive is None:
            idempotency_key = f"latest@{self._clock.now().date().isoformat()}"
        submitted = self._jobs.submit(
            tenant, connector, spec.gather_job, payload, idempotency_key=idempotency_key
        )
        return RunStart(self._view(submitted.job), submitted.created)

    def submit_folder(self, tenant: str, connector: str, manifest: FolderManifest) -> SubmitResult:
        """The process job of one complete folder (the same one for the same contents)."""
        spec = self.dataset(tenant, connector, manifest.dataset)
        payload = {
            "dataset": manifest.dataset,
            "period": manifest.period,
            "table": manifest.table,
            "checksum": manifest.checksum,
            "generation": manifest.generation,
        }
        return self._jobs.submit(tenant, connector, spec.process_job, payload)

    def process_folder_key(self, tenant: str, connector: str, folder: str) -> SubmitResult:
        """Submit the process job of ``raw/{dataset}/{period}/{table}/``, which must be complete."""
        parts = folder.strip("/").split("/")
        if len(parts) != 4 or parts[0] != RAW_PREFIX:
            raise InvalidInput(f"folder {folder[:120]!r}: expected raw/DATASET/PERIOD/TABLE/")
        bucket = self._jobs.target(tenant, connector).names["bucket"]
        key = "/".join(parts) + "/" + MANIFEST_NAME
        try:
            manifest = FolderManifest.from_json(self._objects.get_object(bucket, key))
        except NotFound:
            raise NotFound(
                f"{'/'.join(parts)}/ is not complete: it has no {MANIFEST_NAME}"
            ) from None
        return self.submit_folder(tenant, connector, manifest)

    def folder_created(self, bucket: str, key: str) -> SubmitResult | None:
        """An object landed: a folder's manifest submits the folder's process job; any other
        object, or a bucket no connector owns, is not this service's (None)."""
        parts = key.split("/")
        if len(parts) != 5 or parts[0] != RAW_PREFIX or parts[4] != MANIFEST_NAME:
            return None
        owner = self._registry.owner_of_bucket(bucket)
        if owner is None:
            return None
        tenant, connector = owner
        manifest = FolderManifest.from_json(self._objects.get_object(bucket, key))
        if manifest.key != key:
            raise InvalidInput(f"{key} holds the manifest of {manifest.key}")
        return self.submit_folder(tenant, connector, manifest)

    # -- the stages (run inside their jobs) ------------------------------------------------

    def gather(
        self,
        tenant: str,
        connector: str,
        run_id: str,
        payload: Mapping[str, Any],
        progress: Progress = _quiet,
    ) -> GatherRecord:
        """The gather job's body; see the module. Safe to run again (a retried attempt): the
        upload changes nothing that is already there and the process jobs are the same."""
        spec = self.dataset(tenant, connector, str(payload.get("dataset")))
        values = _params(payload.get("params") or {})
        bucket = self._jobs.target(tenant, connector).names["bucket"]
        with self._workspace() as work:
            archives, period = self._fetch(spec, bucket, payload, values, work, progress)
            if period is None:
                raise InvalidInput(
                    f"dataset {spec.name}: the source does not say which period it gave; "
                    "pass the period as a parameter (period=2026-03-31)"
                )
            check_period(period)
            files: list[ExtractedFile] = []
            ignored: list[str] = []
            for i, archive in enumerate(archives):
                unpacked = self._unpacker.unpack(archive, work / f"unpacked-{i}")
                progress(f"unpacked {archive.name}: {len(unpacked)} files")
                for file in unpacked:
                    if spec.table_of(file.name) is None:
                        ignored.append(file.name)
                    else:
                        files.append(file)
            sizes = [RunFile(a.name, a.stat().st_size) for a in archives]
            report = upload_period(
                self._objects,
                bucket,
                spec.name,
                period,
                files,
                lambda name: spec.table_of(name) or "",
                lambda done, total: progress(f"uploaded {done} of {total} bytes"),
            )
        progress(
            f"period {period}: {len(report.written)} folders written, "
            f"{len(report.unchanged)} unchanged"
        )
        folders = []
        written = {m.table for m in report.written}
        for manifest in complete_folders(self._objects, bucket, spec.name, period):
            job_id, created = "", False
            if payload.get("process", True):
                submitted = self.submit_folder(tenant, connector, manifest)
                job_id, created = submitted.job.id.value, submitted.created
            folders.append(
                RunFolder(
                    table=manifest.table,
                    files=len(manifest.files),
                    checksum=manifest.checksum,
                    upload="written" if manifest.table in written else "unchanged",
                    job_id=job_id,
                    job_created=created,
                )
            )
        record = GatherRecord(
            run_id=run_id,
            dataset=spec.name,
            period=period,
            files=tuple(sizes),
            folders=tuple(folders),
            ignored=tuple(ignored),
        )
        self._save(tenant, RUNS, record.to_document())
        return record

    def _fetch(
        self,
        spec: Dataset,
        bucket: str,
        payload: Mapping[str, Any],
        values: Mapping[str, str],
        work: Path,
        progress: Progress,
    ) -> tuple[list[Path], str | None]:
        """The archives to unpack and the period they are for."""
        downloads = work / "downloads"
        archive = payload.get("archive")
        if archive is not None:
            if not isinstance(archive, str) or not archive.startswith(f"{INCOMING}/"):
                raise InvalidInput(f"archive {str(archive)[:80]!r}: expected {INCOMING}/...")
            downloads.mkdir()
            path = downloads / archive.rsplit("/", 1)[-1]
            path.write_bytes(self._objects.get_object(bucket, archive))
            progress(f"read {archive} ({path.stat().st_size} bytes)")
            return [path], values.get("period")
        source = spec.source
        if payload.get("source_url") is not None and isinstance(source, ScrapeSource):
            source = source.mirrored(str(payload["source_url"]))
        fetched = self._sources.fetch(source, downloads, values=values)
        if not fetched:
            raise NotFound(f"dataset {spec.name}: the source offered no file")
        for file in fetched:
            progress(f"fetched {file.name} ({file.size} bytes)")
        period = values.get("period") or next((f.period for f in fetched if f.period), None)
        return [file.path for file in fetched], period

    @contextlib.contextmanager
    def _workspace(self) -> Iterator[Path]:
        root = self._scratch
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="overlord-gather-", dir=root))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def process(
        self,
        tenant: str,
        connector: str,
        job_id: str,
        payload: Mapping[str, Any],
        progress: Progress = _quiet,
    ) -> LoadRecord:
        """The process job's body: load the folder the payload names, if its contents are
        still the ones the job was submitted for (else ``superseded``: the newer contents have
        their own job)."""
        name, period, table = (str(payload.get(k)) for k in ("dataset", "period", "table"))
        spec = self.dataset(tenant, connector, name)
        check_period(period)
        bucket = self._jobs.target(tenant, connector).names["bucket"]
        key = f"{period_prefix(spec.name, period)}{table}/{MANIFEST_NAME}"
        try:
            manifest = FolderManifest.from_json(self._objects.get_object(bucket, key))
        except NotFound:
            raise NotFound(f"{key} is missing: the folder is not complete") from None
        submitted_for = (payload.get("checksum"), payload.get("generation", ""))
        if (manifest.checksum, manifest.generation) != submitted_for:
            progress(
                f"{manifest.prefix} changed since this job was submitted; a newer job loads it"
            )
            record = LoadRecord(
                job_id,
                spec.name,
                period,
                table,
                len(manifest.files),
                0,
                "superseded",
                folder_load_id(manifest),
            )
        else:
            if not isinstance(spec.sink, TableTarget):
                raise InvalidInput(f"dataset {spec.name}: only table sinks are loaded so far")
            sink = spec.sink
            replace = {sink.period_column: period_value(period)} if sink.period_column else None
            progress(f"cleaning {len(manifest.files)} files of {manifest.prefix}")
            load = process_folder(
                self._objects,
                self._tables,
                self._cleaners,
                bucket,
                manifest,
                spec.cleaner,
                key=sink.keys,
                replace=replace,
                table=sink.table_for(spec.raw_layout.parse(table)),
            )
            progress(f"{load.table}: {load.rows} rows {load.action}")
            record = LoadRecord(
                job_id,
                spec.name,
                period,
                load.table,
                load.files,
                load.rows,
                load.action,
                load.load_id,
            )
        self._save(tenant, LOADS, record.to_document())
        return record

    def record_failure(
        self, tenant: str, job_id: str, payload: Mapping[str, Any], message: str
    ) -> None:
        """Keep why a stage's attempt failed beside the run, where `run` reads it: the job's
        own reason says only how its process exited. A later attempt that succeeds replaces
        it. Best effort: the stage has failed whatever happens here."""
        dataset, period = str(payload.get("dataset")), str(payload.get("period", ""))
        if "table" in payload:
            record = LoadRecord(
                job_id, dataset, period, str(payload["table"]), 0, 0, "failed", "", message
            )
            document, collection = record.to_document(), LOADS
        else:
            gathered = GatherRecord(job_id, dataset, period, (), (), error=message)
            document, collection = gathered.to_document(), RUNS
        with contextlib.suppress(OverlordError):
            self._save(tenant, collection, document)

    # -- reading runs back ---------------------------------------------------------------

    def run(self, tenant: str, run_id: str) -> DatasetRun:
        job = self._jobs.get(tenant, run_id)
        if "dataset" not in job.payload or job.payload.get("table") is not None:
            raise NotFound(f"tenant {tenant!r} has no dataset run {run_id!r}")
        return self._view(job)

    def runs(
        self, tenant: str, connector: str | None = None, dataset: str | None = None
    ) -> builtins.list[DatasetRun]:
        """The tenant's runs (of one connector or dataset), newest first."""
        found = [
            job
            for job in self._jobs.list(tenant, connector=connector)
            if "dataset" in job.payload
            and "table" not in job.payload
            and (dataset is None or job.payload["dataset"] == dataset)
        ]
        found.sort(key=lambda j: j.created_at, reverse=True)
        return [self._view(job) for job in found]

    def refresh(self, tenant: str, run: DatasetRun) -> None:
        """Pull the backend's view of the run's unfinished jobs (the local backend reports so)."""
        self._jobs.refresh(tenant, run.run_id)
        for folder in run.folders:
            if folder.status is not None and not folder.status.terminal:
                self._jobs.refresh(tenant, folder.job_id)

    def _view(self, gather: Job) -> DatasetRun:
        tenant = gather.tenant.value
        doc = self._get(tenant, RUNS, gather.id.value)
        record = GatherRecord.from_document(doc) if doc is not None else None
        process: dict[str, Job] = {}
        loads: dict[str, LoadRecord] = {}
        for folder in record.folders if record else ():
            if not folder.job_id:
                continue
            with contextlib.suppress(NotFound):
                process[folder.job_id] = self._jobs.get(tenant, folder.job_id)
            load = self._get(tenant, LOADS, folder.job_id)
            if load is not None:
                loads[folder.job_id] = LoadRecord.from_document(load)
        return DatasetRun.of(gather, record, process, loads)

    # -- records -------------------------------------------------------------------------

    def _database(self, tenant: str) -> str:
        return tenant_database(self._namespace, TenantName(tenant))

    def _get(self, tenant: str, collection: str, key: str) -> dict[str, Any] | None:
        try:
            return self._documents.get(self._database(tenant), collection, key)
        except NotFound:  # no run recorded yet: the collection comes with the first one
            return None

    def _save(self, tenant: str, collection: str, document: dict[str, Any]) -> None:
        """Write a stage's record; a retried stage replaces its earlier attempt's record."""
        database = self._database(tenant)
        self._documents.ensure_collection(database, collection, (IndexSpec(("dataset",)),))
        if not self._documents.update(database, collection, document["_id"], document):
            try:
                self._documents.insert(database, collection, document)
            except DuplicateKey as exc:  # a concurrent attempt inserted first: take its place
                if not self._documents.update(database, collection, document["_id"], document):
                    raise Conflict(f"cannot record {collection} {document['_id']}") from exc
