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
from typing import TYPE_CHECKING, Any, Literal

from attrs import frozen

from overlord.domain.archives import ExtractedFile
from overlord.domain.dataset_parsing import parse_dataset
from overlord.domain.dataset_runs import (
    DatasetRun,
    GatherRecord,
    LoadRecord,
    RunFile,
    RunFolder,
)
from overlord.domain.datasets import ApiSource, Dataset, PartitionTrigger, ScrapeSource, TableTarget
from overlord.domain.errors import Conflict, DuplicateKey, InvalidInput, NotFound, OverlordError
from overlord.domain.fetched import check_file_name
from overlord.domain.indexes import IndexSpec
from overlord.domain.manifests import MANIFEST_NAME, RAW_PREFIX, FolderManifest, check_period
from overlord.domain.names import Namespace, TenantName, tenant_database
from overlord.domain.partitions import PartitionInfo, PartitionReport, partition_span
from overlord.domain.windows import Window, cadence_window, instant_text
from overlord.services.dataset_load import Cleaners, folder_load_id, process_folder
from overlord.services.dataset_upload import complete_folders, period_prefix, upload_period
from overlord.services.dataset_windows import (
    FIRST_SPAN,
    Cursors,
    folder_records,
    partitions_prefix,
    window_records,
)

if TYPE_CHECKING:
    from datetime import datetime

    from overlord.domain.jobs import Job
    from overlord.ports.archives import Unpacker
    from overlord.ports.clock import Clock
    from overlord.ports.document_store import DocumentStore
    from overlord.ports.object_store import ObjectStore
    from overlord.ports.partitions import PartitionWriter
    from overlord.ports.source import Source
    from overlord.ports.table_sink import TableSink, Value
    from overlord.services.jobs import JobService, SubmitResult
    from overlord.services.registry import TenantRegistry

RUNS, LOADS = "dataset_runs", "dataset_loads"
PARTITIONS_STAGE = "partitions"  # the run's row for its partition job, beside its folders
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


def _is_gather(payload: Mapping[str, Any]) -> bool:
    """A run's own job: a gather, not a folder's process job nor a window's partition job."""
    return "dataset" in payload and "table" not in payload and "stage" not in payload


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
        partitions: PartitionWriter,
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
        self._partitions = partitions
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
        start: str | None = None,
        end: str | None = None,
    ) -> RunStart:
        """Submit the run's gather job; the same request returns the same run (``created``
        False). ``params`` fill the recipe (``period`` picks the period); ``source_url``
        points a scraping recipe at a mirror; ``archive`` is a bulk file the caller already
        has (named ``archive_name``), uploaded to the tenant's bucket and unpacked instead of
        fetching; ``process=False`` gathers without loading. An API dataset's run covers
        ``start`` to ``end`` (a backfill) or, without them, from its cursor to now, fixed when
        the run starts. Everything is checked before anything is written."""
        spec = self.dataset(tenant, connector, dataset)
        values = _params(params or {})
        if "period" in values:
            check_period(values["period"])
        payload: dict[str, Any] = {"dataset": spec.name}
        if values:
            payload["params"] = values
        if source_url is not None:
            spec.source.mirrored(source_url)  # refuses a URL that is not a mirror's
            payload["source_url"] = source_url
        if (start, end) != (None, None):
            if not isinstance(spec.source, ApiSource):
                raise InvalidInput(f"dataset {dataset}: a time window applies to API sources")
            if start is None or end is None:
                raise InvalidInput("give both the start and the end of the window")
            window = Window.of(start, end)
            if window.end > self._clock.now():
                # The cursor would pass data the API has not published yet, and skip it.
                raise InvalidInput(
                    f"the window ends in the future ({instant_text(window.end)}); "
                    "leave out start and end to land up to now"
                )
            recipe = spec.source.window
            window.split(recipe.max_span if recipe else None)  # refuses a window far too wide
            payload["start"], payload["end"] = instant_text(window.start), instant_text(window.end)
        if not process:
            payload["process"] = False
        if isinstance(spec.source, ApiSource) and archive is not None:
            raise InvalidInput(f"dataset {dataset}: an archive applies to scraped sources")
        target = self._jobs.target(tenant, connector)
        if archive is not None:
            name = check_file_name(archive_name, "the archive")
            key = f"{INCOMING}/{hashlib.sha256(archive).hexdigest()}/{name}"
            self._objects.put_object(
                target.names["bucket"], key, archive, content_type="application/zip"
            )
            payload["archive"] = key
        if (
            idempotency_key is None
            and "start" not in payload
            and isinstance(spec.source, ApiSource)
        ):
            # From the cursor to now: asked again the same minute, it is the same run.
            idempotency_key = f"cadence@{self._clock.now().strftime('%Y-%m-%dT%H:%M')}"
        elif idempotency_key is None and "period" not in values and archive is None:
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

    def submit_partition(
        self,
        tenant: str,
        connector: str,
        dataset: str,
        window: Window,
        *,
        idempotency_key: str | None = None,
    ) -> SubmitResult:
        """The partition job over ``window`` (the same one for the same window and key): it
        rewrites every partition the window touches from what has landed. A run has already
        submitted the job of its own window, so rewriting that window again (after a repair,
        or data landed since) takes another ``idempotency_key``."""
        spec = self.dataset(tenant, connector, dataset)
        if spec.partitioning is None:
            raise InvalidInput(f"dataset {dataset} declares no partitioning")
        payload = {
            "stage": "partition",
            "dataset": spec.name,
            "start": instant_text(window.start),
            "end": instant_text(window.end),
        }
        return self._jobs.submit(
            tenant, connector, spec.partition_job, payload, idempotency_key=idempotency_key
        )

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
        # The load first: a folder whose records cannot be partitioned is still loaded.
        submitted = self.submit_folder(tenant, connector, manifest)
        self.partition_created(bucket, key)
        return submitted

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
        if isinstance(spec.source, ApiSource):
            return self._gather_window(
                tenant, connector, run_id, spec, spec.source, payload, values, progress
            )
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

    def _gather_window(
        self,
        tenant: str,
        connector: str,
        run_id: str,
        spec: Dataset,
        source: ApiSource,
        payload: Mapping[str, Any],
        values: Mapping[str, str],
        progress: Progress,
    ) -> GatherRecord:
        """An API dataset's gather: land each part of the run's window as one raw folder, move
        the cursor once all have landed, then submit the process jobs (and, on the window
        trigger, the partition job) of what landed. A retry covers the same window."""
        if payload.get("source_url") is not None:
            source = source.mirrored(str(payload["source_url"]))
        bucket = self._jobs.target(tenant, connector).names["bucket"]
        window = self._run_window(tenant, connector, run_id, spec, payload)
        if window is None:
            progress("nothing to fetch: the dataset has landed up to now already")
            record = GatherRecord(run_id, spec.name, "", (), ())
            self._save(tenant, RUNS, record.to_document())
            return record
        parts = window.split(source.window.max_span if source.window else None)
        table = spec.table_of("records.ndjson") or spec.name.replace("-", "_")
        files: list[RunFile] = []
        written: set[str] = set()
        with self._workspace() as work:
            for part in parts:
                fetched = self._sources.fetch(
                    source,
                    work / part.name,
                    values={
                        **values,
                        "start": instant_text(part.start),
                        "end": instant_text(part.end),
                    },
                )
                landed = [ExtractedFile(f.name, f.path, f.size, f.sha256) for f in fetched]
                report = upload_period(
                    self._objects, bucket, spec.name, part.name, landed, lambda _: table
                )
                written.update(m.period for m in report.written)
                files.extend(RunFile(f"{part.name}/{f.name}", f.size) for f in fetched)
                progress(f"{part}: {len(fetched)} pages landed")
        cursor = Cursors(self._documents, self._database(tenant)).advance(
            connector, spec.name, window
        )
        progress(f"landed {window}; the cursor is at {instant_text(cursor)}")
        folders: list[RunFolder] = []
        contents: list[str] = []
        for part in parts:
            for manifest in complete_folders(self._objects, bucket, spec.name, part.name):
                contents.append(f"{manifest.key} {manifest.checksum} {manifest.generation}")
                job_id, created = "", False
                if payload.get("process", True):
                    submitted = self.submit_folder(tenant, connector, manifest)
                    job_id, created = submitted.job.id.value, submitted.created
                folders.append(
                    RunFolder(
                        table=manifest.table,
                        files=len(manifest.files),
                        checksum=manifest.checksum,
                        upload="written" if part.name in written else "unchanged",
                        job_id=job_id,
                        job_created=created,
                        period=part.name,
                    )
                )
        partitioning = spec.partitioning
        if partitioning is not None and partitioning.trigger is PartitionTrigger.WINDOW:
            # Keyed by what landed as well as the window, as a process job is by its folder:
            # the window landed again with other contents (a corrected upstream) is partitioned
            # again, the same contents are not.
            digest = hashlib.sha256("\n".join(sorted(contents)).encode()).hexdigest()[:32]
            submitted = self.submit_partition(
                tenant, connector, spec.name, window, idempotency_key=f"landed@{digest}"
            )
            folders.append(
                RunFolder(
                    table=PARTITIONS_STAGE,
                    files=len(files),
                    checksum="",
                    upload="written",
                    job_id=submitted.job.id.value,
                    job_created=submitted.created,
                )
            )
        record = GatherRecord(
            run_id=run_id,
            dataset=spec.name,
            period=window.name,
            files=tuple(files),
            folders=tuple(folders),
            window=str(window),
        )
        self._save(tenant, RUNS, record.to_document())
        return record

    def _run_window(
        self,
        tenant: str,
        connector: str,
        run_id: str,
        spec: Dataset,
        payload: Mapping[str, Any],
    ) -> Window | None:
        """The window asked for; else the one this run's first attempt fixed; else from the
        cursor to now, recorded before anything is fetched so that a retry covers it again.
        None when the cursor is already at now."""
        if "start" in payload or "end" in payload:
            return Window.of(payload.get("start"), payload.get("end"))
        doc = self._get(tenant, RUNS, run_id)
        if doc is not None and doc.get("window"):
            start, _, end = str(doc["window"]).partition("/")
            return Window.of(start, end)
        cursor = Cursors(self._documents, self._database(tenant)).get(connector, spec.name)
        now = self._clock.now()
        if cursor is not None and cursor >= now.replace(microsecond=0):
            return None
        recipe = spec.source.window if isinstance(spec.source, ApiSource) else None
        first = recipe.max_span if recipe else None
        if cursor is not None and recipe is not None:
            cursor -= recipe.overlap  # late records; kept once by key where they land
        window = cadence_window(cursor, now, first or FIRST_SPAN)
        fixed = GatherRecord(run_id, spec.name, window.name, (), (), window=str(window))
        self._save(tenant, RUNS, fixed.to_document())
        return window

    def partition(
        self,
        tenant: str,
        connector: str,
        job_id: str,
        payload: Mapping[str, Any],
        progress: Progress = _quiet,
    ) -> LoadRecord:
        """The partition job's body: rewrite every partition the payload's window touches from
        the raw folders landed for it, published atomically (see `PartitionWriter`). A retry
        finishes the same write (the job's id is its batch id)."""
        spec = self.dataset(tenant, connector, str(payload.get("dataset")))
        partitioning = spec.partitioning
        if partitioning is None:
            raise InvalidInput(f"dataset {spec.name} declares no partitioning")
        window = Window.of(payload.get("start"), payload.get("end"))
        span = partition_span(window, partitioning.granularity)
        source = spec.source
        bucket = self._jobs.target(tenant, connector).names["bucket"]
        records, files = window_records(
            self._objects,
            bucket,
            spec.name,
            span,
            time_column=partitioning.column,
            max_span=source.window.max_span
            if isinstance(source, ApiSource) and source.window
            else None,
        )
        progress(f"{len(records)} records of {span} from {files} landed files")
        report = self._write_partitions(bucket, spec, records, job_id, partitioning.mode.value)
        progress(
            f"{len(report.partitions)} partitions published, {report.rows_after_dedup} rows "
            f"({report.rows_in - report.rows_after_dedup} duplicates dropped)"
        )
        record = LoadRecord(
            job_id,
            spec.name,
            window.name,
            PARTITIONS_STAGE,
            files,
            report.rows_after_dedup,
            "loaded",
            job_id,
        )
        self._save(tenant, LOADS, record.to_document())
        return record

    def partition_created(self, bucket: str, key: str) -> PartitionReport | None:
        """The event trigger: a raw folder's manifest landed, so its records are appended to
        their partitions (deduplicated by key: a redelivered event adds nothing). None for any
        other object, or a dataset not partitioned on events."""
        parts = key.split("/")
        if len(parts) != 5 or parts[0] != RAW_PREFIX or parts[4] != MANIFEST_NAME:
            return None
        owner = self._registry.owner_of_bucket(bucket)
        if owner is None:
            return None
        tenant, connector = owner
        try:
            spec = self.dataset(tenant, connector, parts[1])
        except NotFound:
            return None
        partitioning = spec.partitioning
        if partitioning is None or partitioning.trigger is not PartitionTrigger.EVENT:
            return None
        manifest = FolderManifest.from_json(self._objects.get_object(bucket, key))
        if manifest.key != key:
            raise InvalidInput(f"{key} holds the manifest of {manifest.key}")
        records, _ = folder_records(self._objects, bucket, manifest)
        batch = hashlib.sha256(folder_load_id(manifest).encode()).hexdigest()[:32]
        return self._write_partitions(bucket, spec, records, batch, "append")

    def _write_partitions(
        self,
        bucket: str,
        spec: Dataset,
        records: list[dict[str, Any]],
        batch_id: str,
        mode: Literal["append", "overwrite-partitions"],
    ) -> PartitionReport:
        partitioning = spec.partitioning
        if partitioning is None:
            raise InvalidInput(f"dataset {spec.name} declares no partitioning")
        return self._partitions.write(
            bucket,
            partitions_prefix(spec.name),
            records,
            time_field=partitioning.column,
            granularity=partitioning.granularity,
            key=partitioning.keys,
            mode=mode,
            batch_id=batch_id,
        )

    def partitions(
        self,
        tenant: str,
        connector: str,
        dataset: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> builtins.list[PartitionInfo]:
        """The dataset's partitions starting in [``start``, ``end``), with their row counts
        and whether each is published (has its marker)."""
        spec = self.dataset(tenant, connector, dataset)
        if spec.partitioning is None:
            raise InvalidInput(f"dataset {dataset} declares no partitioning")
        bucket = self._jobs.target(tenant, connector).names["bucket"]
        return self._partitions.partitions(
            bucket, partitions_prefix(spec.name), start=start, end=end
        )

    def cursor(self, tenant: str, connector: str, dataset: str) -> datetime | None:
        """How far an API dataset has fully landed (None: no run has landed yet)."""
        spec = self.dataset(tenant, connector, dataset)
        return Cursors(self._documents, self._database(tenant)).get(connector, spec.name)

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
        with contextlib.suppress(OverlordError):
            if not _is_gather(payload):
                table = str(payload.get("table", PARTITIONS_STAGE))
                record = LoadRecord(job_id, dataset, period, table, 0, 0, "failed", "", message)
                self._save(tenant, LOADS, record.to_document())
                return
            before = self._get(tenant, RUNS, job_id) or {}
            window = before.get("window")  # a retry must cover the window the first one fixed
            gathered = GatherRecord(job_id, dataset, period, (), (), error=message, window=window)
            self._save(tenant, RUNS, gathered.to_document())

    # -- reading runs back ---------------------------------------------------------------

    def run(self, tenant: str, run_id: str) -> DatasetRun:
        job = self._jobs.get(tenant, run_id)
        if not _is_gather(job.payload):
            raise NotFound(f"tenant {tenant!r} has no dataset run {run_id!r}")
        return self._view(job)

    def runs(
        self, tenant: str, connector: str | None = None, dataset: str | None = None
    ) -> builtins.list[DatasetRun]:
        """The tenant's runs (of one connector or dataset), newest first."""
        found = [
            job
            for job in self._jobs.list(tenant, connector=connector)
            if _is_gather(job.payload) and (dataset is None or job.payload["dataset"] == dataset)
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
