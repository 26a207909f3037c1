"""Batches of a tenant's connector: start once, show, list, retry, cancel, resume, sweep.

The batch record is the ledger: it is inserted (keyed by the tenant and ``batchId``) before its
chunks are recorded and before the engine is asked to run anything, so a second start of the
same request returns the first batch, a different request under a used id is a `Conflict`,
and a crash between two writes leaves a record that a repeated start (or the sweep) completes.
Each start, retry or resume is an attempt with an execution of its own, named by the attempt
(`ExecutionRequest.by_reference`), so asking twice never runs an attempt twice.

Steps write their items' outcomes into the chunk records as they go (`BatchSteps`); this
service folds what only the engine knows (a chunk that failed as a whole, an execution that
was stopped or died) into the records and settles the batch's counts and status from them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping

from attrs import evolve, frozen

from overlord.domain.batch_records import AttemptKind, BatchRecord, ChunkRecord, ItemView
from overlord.domain.batches import BatchStatus, check_batch_id
from overlord.domain.errors import (
    BackendError,
    Conflict,
    DuplicateKey,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from overlord.domain.names import Namespace, TenantName
from overlord.domain.pipeline_templates import find_pipeline
from overlord.domain.pipelines import ExecutionRequest, PipelineSpec
from overlord.domain.step_calls import BatchRef, FinishCall
from overlord.ports.clock import Clock
from overlord.ports.document_store import DocumentStore
from overlord.ports.object_store import ObjectStore
from overlord.ports.tasks import TaskRegistry
from overlord.ports.workflow import Workflow
from overlord.services.batch_folding import Folding
from overlord.services.batch_plans import chunk_list_document, pipeline_spec, plan_batch
from overlord.services.batch_store import BatchStore
from overlord.services.registry import TenantRegistry
from overlord.services.targets import read_target

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@frozen
class StartResult:
    batch: BatchRecord
    created: bool


@frozen(kw_only=True)
class BatchView:
    """A batch as `show` reports it: one page of its requests, and whether it is interrupted
    (its execution ended with items unfinished: `resume` continues it)."""

    batch: BatchRecord
    requests: tuple[ItemView, ...]
    next_page: str | None
    interrupted: bool


@frozen
class Resumed:
    tenant: str
    batch_id: str
    attempt: int
    items: int


class BatchService:
    def __init__(
        self,
        *,
        documents: DocumentStore,
        objects: ObjectStore,
        workflow: Workflow,
        tasks: TaskRegistry,
        clock: Clock,
        namespace: Namespace,
        store: BatchStore,
        registry: TenantRegistry,
        default_pipeline: str | None = None,
        max_items: int = 1_000_000,
    ) -> None:
        self._documents = documents
        self._objects = objects
        self._workflow = workflow
        self._tasks = tasks
        self._clock = clock
        self._namespace = namespace
        self._default_pipeline = default_pipeline
        self._max_items = max_items
        self._store = store
        self._registry = registry
        self._folding = Folding(self._store, workflow, clock)
        self._ensured: dict[str, PipelineSpec] = {}

    @property
    def store(self) -> BatchStore:
        return self._store

    def start(
        self, tenant: str, connector: str, body: object, *, pipeline: object = None
    ) -> StartResult:
        """Start a batch from the original request body once.

        >>> from overlord.testing import provisioned_memory_container
        >>> batches = provisioned_memory_container("acme", "batch-manager").batches()
        >>> body = {"batchId": "b-1", "totalItems": 3, "batchSize": 2, "currentBatch": 0,
        ...         "itemIds": ["a", "fail-b", "c"]}
        >>> first = batches.start("acme", "batch-manager", body)
        >>> first.batch.status.value, first.batch.counts["failed"]
        ('PARTIALLY_FAILED', 1)
        >>> batches.start("acme", "batch-manager", body).created
        False
        """
        target = read_target(self._documents, self._namespace, tenant, connector)
        plan = plan_batch(
            body,
            connector=connector,
            template=target.template,
            pipeline=pipeline,
            default_pipeline=self._default_pipeline,
            tasks=self._tasks,
            max_items=self._max_items,
        )
        spec = pipeline_spec(self._namespace.value, tenant, connector, plan.pipeline)
        self._store.ensure(tenant)
        existing = self._store.batch(tenant, plan.batch_id)
        if existing is None:
            self._ensure_pipeline(spec)
            now = self._clock.now()
            record = BatchRecord(
                id=plan.batch_id,
                tenant=tenant,
                connector=connector,
                pipeline=plan.pipeline.name,
                steps=plan.pipeline.steps,
                batch_size=plan.batch_size,
                total_items=len(plan.item_ids),
                chunk_count=len(plan.chunks()),
                current_batch=plan.current_batch,
                workers=plan.pipeline.workers,
                request_digest=plan.digest,
                created_at=now,
                updated_at=now,
            )
            try:
                self._store.insert_batch(record)
            except DuplicateKey:
                existing = self._store.batch(tenant, plan.batch_id)
            else:
                self._record_chunks(record, plan.chunks())
                return StartResult(self._first_attempt(record, spec, target.names), True)
        if existing is None:
            raise BackendError(f"batch {plan.batch_id}: recorded, then not found")
        if existing.request_digest != plan.digest:
            raise Conflict(
                f"batch {plan.batch_id} already exists with a different request; "
                "use another batchId"
            )
        if existing.current is None or existing.current.execution_id is None:
            # A start that crashed part-way: this repeat finishes it.
            self._ensure_pipeline(spec)
            self._record_chunks(existing, plan.chunks())
            existing = self._first_attempt(existing, spec, target.names)
        return StartResult(self._folding.refresh(existing), False)

    def _record_chunks(self, record: BatchRecord, chunks: list[tuple[str, ...]]) -> None:
        """Every chunk from ``current_batch`` on (the original system had run those before);
        any a start that crashed had written already are kept as they are."""
        new = [
            ChunkRecord.new(record.id, number, ids)
            for number, ids in enumerate(chunks)
            if number >= record.current_batch
        ]
        self._store.insert_chunks(record.tenant, new)

    def _first_attempt(
        self, record: BatchRecord, spec: PipelineSpec, names: Mapping[str, object]
    ) -> BatchRecord:
        numbers = list(range(record.current_batch, record.chunk_count))
        if record.current is None:
            items = record.total_items - record.current_batch * record.batch_size
            now = self._clock.now()

            def begin(r: BatchRecord) -> object:
                if r.current is not None:
                    return False  # a start racing this one began it: run that attempt
                return r.begin(AttemptKind.START, chunks=len(numbers), items=items, at=now)

            record = self._update(record, begin)
        return self._launch(record, spec, numbers, names)

    def _launch(
        self,
        record: BatchRecord,
        spec: PipelineSpec,
        numbers: list[int],
        names: Mapping[str, object],
    ) -> BatchRecord:
        attempt = record.current
        if attempt is None:
            raise IllegalTransition(f"batch {record.id} has no attempt to launch")
        ref = BatchRef(
            tenant=record.tenant,
            connector=record.connector,
            batch_id=record.id,
            attempt=attempt.number,
        )
        chunk_list = None
        bucket = names.get("bucket")
        threshold = spec.distributed_from_chunks
        if threshold is not None and len(numbers) >= threshold and isinstance(bucket, str):
            key = f"batches/{record.id}/attempt-{attempt.number}/chunks.json"
            self._objects.put_object(
                bucket, key, chunk_list_document(numbers), content_type="application/json"
            )
            chunk_list = (bucket, key)
        request = ExecutionRequest.by_reference(
            pipeline=spec, batch=ref, chunks=numbers, chunk_list=chunk_list
        )
        execution_id = self._workflow.start(request)
        record = self._update(record, lambda r: r.started(attempt.number, execution_id))
        return self._folding.refresh(record)

    def _ensure_pipeline(self, spec: PipelineSpec) -> None:
        if self._ensured.get(spec.name) != spec:
            self._workflow.ensure_pipeline(spec)
            self._ensured[spec.name] = spec

    def _update(self, record: BatchRecord, change: Callable[[BatchRecord], object]) -> BatchRecord:
        """Apply ``change`` and save; on losing a race, re-read and apply it again."""
        return self._folding.update(record, change)

    def get(self, tenant: str, batch_id: str) -> BatchRecord:
        TenantName(tenant)
        check_batch_id(batch_id)
        record = (
            self._store.batch(tenant, batch_id) if self._store.has_collections(tenant) else None
        )
        if record is None:
            raise NotFound(f"tenant {tenant!r} has no batch {batch_id!r:.80}")
        return self._folding.refresh(record)

    def show(
        self, tenant: str, batch_id: str, *, page: str | None = None, size: int = DEFAULT_PAGE_SIZE
    ) -> BatchView:
        """The batch, refreshed, with ``size`` requests from the position ``page`` names."""
        start = _page_start(page)
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"page size must be 1-{MAX_PAGE_SIZE}, got {size}")
        record = self.get(tenant, batch_id)
        views: list[ItemView] = []
        number = start // record.batch_size
        while len(views) < size and number < record.chunk_count:
            chunk = self._store.chunk(tenant, batch_id, number)
            if chunk is not None:
                first = start - number * record.batch_size if not views else 0
                views.extend(list(chunk.views(record.steps))[first:])
            number += 1
        end = start + min(size, len(views))
        return BatchView(
            batch=record,
            requests=tuple(views[:size]),
            next_page=str(end) if end < record.total_items else None,
            interrupted=self.interrupted(record),
        )

    def list(
        self, tenant: str, *, connector: str | None = None, status: BatchStatus | None = None
    ) -> builtins.list[BatchRecord]:
        """The tenant's batches, oldest first; unfinished ones refreshed."""
        read_tenant = TenantName(tenant).value
        if not self._documents.database_exists(self._store.database(read_tenant)):
            raise NotFound(f"no tenant {tenant!r}: run `overlord tenants init {tenant} ...` first")
        if not self._store.has_collections(tenant):
            return []
        where = {} if connector is None else {"connector": connector}
        found = [self._folding.refresh(r) for r in self._store.batches(tenant, where)]
        if status is not None:
            found = [r for r in found if r.status is status]
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def interrupted(self, record: BatchRecord) -> bool:
        """Whether the batch has not ended yet nothing runs it any more (its process died).

        An execution that ended after ``record`` was read looks the same from ``record`` alone,
        so the batch is read again, after its execution was seen to end, before saying so: the
        read folds the ended execution in, and a batch that simply finished is not taken for
        an interrupted one (which a sweep would resume as a new attempt)."""
        if not self._folding.interrupted(record):
            return False
        return self._folding.interrupted(self.get(record.tenant, record.id))

    def retry(self, tenant: str, batch_id: str) -> BatchRecord:
        """Run the failed items again, as a new attempt, from the step that failed them."""
        record = self.get(tenant, batch_id)
        if not record.finished:
            raise IllegalTransition(f"batch {batch_id} is still running; retry it once it ends")
        failed = record.counts.get("failed", 0)
        if not failed:
            raise IllegalTransition(f"batch {batch_id} has no failed items to retry")
        chunks = [c for c in self._store.chunks(tenant, batch_id) if c.counts()["failed"]]
        return self._new_attempt(record, AttemptKind.RETRY, chunks, failed)

    def resume(self, tenant: str, batch_id: str) -> BatchRecord:
        """Continue an interrupted batch: its unfinished items, as a new attempt, each from
        the step it had reached (items recorded as done are not run again)."""
        record = self.get(tenant, batch_id)
        if record.finished:
            raise IllegalTransition(f"batch {batch_id} has finished ({record.status})")
        if record.cancelling:
            raise IllegalTransition(f"batch {batch_id} is being cancelled")
        if not self.interrupted(record):
            raise IllegalTransition(f"batch {batch_id} is running; nothing to resume")
        chunks = [c for c in self._store.chunks(tenant, batch_id) if c.unfinished()]
        items = sum(len(c.unfinished()) for c in chunks)
        return self._new_attempt(record, AttemptKind.RESUME, chunks, items)

    def _new_attempt(
        self, record: BatchRecord, kind: AttemptKind, chunks: builtins.list[ChunkRecord], items: int
    ) -> BatchRecord:
        target = read_target(self._documents, self._namespace, record.tenant, record.connector)
        pipelines = target.template.pipelines
        declared = [p for p in pipelines if p.name == record.pipeline]
        base = declared[0] if declared else find_pipeline(pipelines, None, record.connector)
        # The batch's own steps and workers, whatever the template says now.
        pipeline = evolve(base, name=record.pipeline, steps=record.steps, workers=record.workers)
        spec = pipeline_spec(self._namespace.value, record.tenant, record.connector, pipeline)
        self._ensure_pipeline(spec)
        now = self._clock.now()
        seen = len(record.attempts)

        def begin(r: BatchRecord) -> object:
            if len(r.attempts) != seen:
                raise IllegalTransition(f"batch {r.id} was retried or resumed meanwhile")
            return r.begin(kind, chunks=len(chunks), items=items, at=now)

        record = self._update(record, begin)
        number = record.attempts[-1].number
        for chunk in chunks:
            if kind is AttemptKind.RETRY:
                self._folding.change_chunk(record.tenant, chunk, lambda c: c.retry_failed(number))
            else:
                self._folding.change_chunk(record.tenant, chunk, lambda c: c.resume(number))
        return self._launch(record, spec, [c.chunk for c in chunks], target.names)

    def cancel(self, tenant: str, batch_id: str, reason: str = "cancelled by user") -> BatchRecord:
        """Stop starting chunks; items that never ran end CANCELLED (so do the rest once the
        execution has stopped). A batch that already finished is refused."""
        record = self.get(tenant, batch_id)
        now = self._clock.now()
        record = self._update(record, lambda r: r.request_cancel(reason, at=now))
        attempt = record.current
        if attempt is not None and attempt.execution_id is not None:
            self._workflow.stop(attempt.execution_id, reason)
        for chunk in self._store.chunks(tenant, batch_id):
            if chunk.unfinished():
                self._folding.change_chunk(tenant, chunk, lambda c: c.cancel(started_too=False))
        return self._folding.refresh(record)

    def finish(self, call: FinishCall) -> BatchRecord:
        """The state machine's last state: fold chunk failures in and settle the batch."""
        record = self._store.batch(call.batch.tenant, call.batch.batch_id)
        if record is None:
            raise NotFound(f"tenant {call.batch.tenant!r} has no batch {call.batch.batch_id!r}")
        return self._folding.finish(record, call)

    def sweep(self, tenant: str | None = None) -> builtins.list[Resumed]:
        """Resume every interrupted batch (of one tenant, or of all)."""
        names = [tenant] if tenant else [d["_id"] for d in self._registry.tenants()]
        resumed = []
        for name in names:
            if not self._documents.database_exists(self._store.database(name)):
                continue
            if not self._store.has_collections(name):
                continue
            for record in self._store.batches(name, {"status": BatchStatus.RUNNING.value}):
                record = self._folding.refresh(record)
                if record.finished or record.cancelling or not self.interrupted(record):
                    continue
                try:
                    after = self.resume(name, record.id)
                except (IllegalTransition, Conflict):
                    continue  # resumed by someone else meanwhile, or out of attempts
                current = after.attempts[-1]
                resumed.append(Resumed(name, record.id, current.number, current.items))
        return resumed


def _page_start(page: str | None) -> int:
    if page is None or page == "":
        return 0
    if not page.isdecimal() or len(page) > 9:
        raise InvalidInput(f"page: {page[:20]!r} is not a page this batch gave out")
    return int(page)
