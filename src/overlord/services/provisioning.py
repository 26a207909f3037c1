"""Provision a tenant's connector: the original seven init functions as one idempotent plan.

Everything is described first and compared with what the template asks for; the plan is that
comparison, and applying runs only its changes, in order. So ``--plan`` calls no mutating API,
a second apply reports everything unchanged, and a crash half-way is repaired by applying
again (each step is judged against what really exists, not against a record of past runs).

Before the plan is made, the template is checked for everything a step could be refused for
(`CatalogService.check`: schedule expressions, payload schemas, schedule payloads), so a plan
reports such a template as an error and an apply refuses it before its first write, instead of
stopping at the schedules with the rest already made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from attrs import evolve, frozen

from overlord.domain.connectors import CollectionSpec, Placement
from overlord.domain.errors import DuplicateKey, QuotaExceeded
from overlord.domain.indexes import IndexSpec
from overlord.domain.infrastructure import (
    BucketSpec,
    ComputeEnvironmentSpec,
    JobQueueSpec,
    ScheduleDefinition,
    ScheduleTarget,
)
from overlord.domain.jobs import canonical_json
from overlord.domain.names import Namespace, TenantName
from overlord.domain.template_parsing import template_to_mapping
from overlord.domain.tenants import Action, ResourceChange, ResourceKind, TenantConnector
from overlord.ports.clock import Clock
from overlord.ports.compute import ComputeProvisioner
from overlord.ports.document_store import DocumentStore
from overlord.ports.object_store import ObjectStore
from overlord.ports.scheduler import Scheduler
from overlord.services.catalog import CatalogService
from overlord.services.registry import TenantRegistry

BATCH_QUOTA = 50

# Collections every tenant database holds, whatever its connectors.
TENANT_COLLECTIONS = (
    CollectionSpec(name="connectors"),
    CollectionSpec(
        name="jobs",
        indexes=(IndexSpec(fields=("status",)), IndexSpec(fields=("connector",))),
    ),
    CollectionSpec(name="logs", indexes=(IndexSpec(fields=("job_id",)),)),
)


@frozen
class ProvisioningReport:
    tenant: str
    connector: str
    resources: tuple[ResourceChange, ...]
    planned: bool

    @property
    def changed(self) -> bool:
        return any(r.action not in (Action.UNCHANGED, Action.WOULD_KEEP) for r in self.resources)


@frozen
class _Step:
    kind: ResourceKind
    name: str
    action: Action
    run: Callable[[], None] | None = None
    creates_compute_environment: bool = False
    creates_job_queue: bool = False


def _decide(exists: bool, same: bool) -> Action:
    if not exists:
        return Action.CREATED
    return Action.UNCHANGED if same else Action.UPDATED


class ProvisioningService:
    def __init__(
        self,
        *,
        catalog: CatalogService,
        registry: TenantRegistry,
        documents: DocumentStore,
        objects: ObjectStore,
        compute: ComputeProvisioner,
        scheduler: Scheduler,
        clock: Clock,
        namespace: Namespace,
        quota: int = BATCH_QUOTA,
    ) -> None:
        self._catalog = catalog
        self._documents = documents
        self._objects = objects
        self._compute = compute
        self._scheduler = scheduler
        self._clock = clock
        self._namespace = namespace
        self._quota = quota
        self._registry = registry

    def resolve(self, tenant: str, connector: str) -> TenantConnector:
        template = self._catalog.get(connector)
        return TenantConnector.resolve(
            self._namespace, TenantName(tenant), template, self._clock.now()
        )

    def apply(self, tenant: str, connector: str, *, plan: bool = False) -> ProvisioningReport:
        """Bring a tenant's connector to its template; with ``plan`` only say what would change.

        >>> from overlord.testing import memory_container
        >>> report = memory_container().provisioning().apply("acme", "weather")
        >>> sorted({r.action.value for r in report.resources})
        ['created']
        """
        tc = self.resolve(tenant, connector)
        self._catalog.check(tc.template)
        steps = list(self._plan(tc))
        if not plan:
            self._check_quota(steps)
            self._registry.record(tc, self._clock.now())
            for step in steps:
                if step.run is not None and step.action is not Action.UNCHANGED:
                    step.run()
        return ProvisioningReport(
            tenant=tc.tenant.value,
            connector=tc.connector.value,
            resources=tuple(
                ResourceChange(s.kind, s.name, s.action.planned() if plan else s.action)
                for s in steps
            ),
            planned=plan,
        )

    def _check_quota(self, steps: list[_Step]) -> None:
        checks = (
            (
                "compute environments",
                "creates_compute_environment",
                self._compute.count_compute_environments,
            ),
            ("job queues", "creates_job_queue", self._compute.count_job_queues),
        )
        for what, flag, count in checks:
            wanted = sum(getattr(step, flag) for step in steps)
            if wanted and count() + wanted > self._quota:
                raise QuotaExceeded(
                    f"this Region already has {self._quota} {what}, the AWS Batch quota: set "
                    "placement = 'pooled' in the connector template to share one among tenants"
                )

    def _plan(self, tc: TenantConnector) -> Iterator[_Step]:
        yield self._database_step(tc)
        yield self._configuration_step(tc)
        for spec in TENANT_COLLECTIONS:
            yield self._collection_step(tc, spec.name, spec)
        for spec in tc.template.collections:
            yield self._collection_step(tc, tc.names.collection(spec.name), spec)
        yield self._bucket_step(tc)
        yield from self._compute_steps(tc)
        for schedule in tc.template.schedules:
            yield self._schedule_step(tc, schedule.name)

    def _database_step(self, tc: TenantConnector) -> _Step:
        database = tc.names.database
        exists = self._documents.database_exists(database)
        return _Step(
            ResourceKind.DATABASE,
            database,
            _decide(exists, True),
            lambda: self._documents.ensure_database(database),
        )

    def _configuration_step(self, tc: TenantConnector) -> _Step:
        database, name = tc.names.database, tc.connector.value
        exists = self._documents.describe_collection(database, "connectors") is not None
        current = self._documents.get(database, "connectors", name) if exists else None
        desired = configuration_document(tc, self._clock.now().isoformat())
        same = current is not None and current["template"] == desired["template"]

        def write() -> None:
            self._documents.ensure_collection(database, "connectors")
            if current is None:
                try:
                    self._documents.insert(database, "connectors", desired)
                    return
                except DuplicateKey:
                    pass
            changes = {k: v for k, v in desired.items() if k != "_id"}
            self._documents.update(database, "connectors", name, changes)

        return _Step(
            ResourceKind.CONFIGURATION,
            f"{database}/connectors/{name}",
            _decide(current is not None, same),
            write,
        )

    def _collection_step(self, tc: TenantConnector, name: str, spec: CollectionSpec) -> _Step:
        database = tc.names.database
        current = self._documents.describe_collection(database, name)
        missing_seed = [
            doc
            for doc in spec.seed
            if current is None or self._documents.get(database, name, doc["_id"]) is None
        ]
        same = current is not None and set(spec.indexes) <= set(current) and not missing_seed

        def ensure() -> None:
            self._documents.ensure_collection(database, name, spec.indexes)
            for doc in missing_seed:
                try:
                    self._documents.insert(database, name, doc)
                except DuplicateKey:
                    pass  # seeded meanwhile by a concurrent apply: seeding is once per _id

        return _Step(
            ResourceKind.COLLECTION,
            f"{database}/{name}",
            _decide(current is not None, same),
            ensure,
        )

    def _bucket_step(self, tc: TenantConnector) -> _Step:
        desired = BucketSpec(
            name=tc.names.bucket,
            public_read_prefixes=tuple(sorted(tc.template.storage.public_read_prefixes)),
        )
        current = self._objects.describe_bucket(desired.name)
        same = current is not None and sorted(current.public_read_prefixes) == sorted(
            desired.public_read_prefixes
        )
        return _Step(
            ResourceKind.BUCKET,
            desired.name,
            _decide(current is not None, same),
            lambda: self._objects.ensure_bucket(desired),
        )

    def _compute_steps(self, tc: TenantConnector) -> Iterator[_Step]:
        compute = tc.template.compute
        pooled = tc.template.placement is Placement.POOLED
        environment = ComputeEnvironmentSpec(
            name=tc.compute_environment,
            type=compute.type,
            max_vcpus=compute.max_vcpus,
            fair_share=pooled,
        )
        current_env = self._compute.describe_compute_environment(environment.name)
        yield _Step(
            ResourceKind.COMPUTE_ENVIRONMENT,
            environment.name,
            _decide(
                current_env is not None, current_env is not None and current_env.spec == environment
            ),
            lambda: self._compute.ensure_compute_environment(environment),
            creates_compute_environment=current_env is None,
        )
        queue = JobQueueSpec(
            name=tc.job_queue,
            compute_environment=environment.name,
            priority=compute.priority,
            fair_share=pooled,
        )
        current_queue = self._compute.describe_job_queue(queue.name)
        yield _Step(
            ResourceKind.JOB_QUEUE,
            queue.name,
            _decide(
                current_queue is not None, current_queue is not None and current_queue.spec == queue
            ),
            lambda: self._compute.ensure_job_queue(queue),
            creates_job_queue=current_queue is None,
        )
        name, spec = tc.names.job_definition, compute.job_definition
        current_def = self._compute.describe_job_definition(name)

        def register() -> None:
            self._compute.register_job_definition(name, spec)

        yield _Step(
            ResourceKind.JOB_DEFINITION,
            name,
            _decide(current_def is not None, current_def is not None and current_def.spec == spec),
            register,
        )

    def _schedule_step(self, tc: TenantConnector, schedule_name: str) -> _Step:
        spec = tc.template.schedule(schedule_name)
        desired = ScheduleDefinition(
            group=tc.names.schedule_group,
            name=tc.names.schedule(spec.name),
            expression=spec.expression,
            timezone=spec.timezone,
            target=ScheduleTarget(
                tenant=tc.tenant.value,
                connector=tc.connector.value,
                job_type=spec.job_type,
                payload_json=canonical_json(spec.payload),
            ),
            enabled=spec.enabled,
        )
        current = self._scheduler.describe_schedule(desired.group, desired.name)
        if current is not None:
            # Follow-up jobs switch schedules on and off at run time; re-provisioning keeps that.
            desired = evolve(desired, enabled=current.enabled)
        return _Step(
            ResourceKind.SCHEDULE,
            f"{desired.group}/{desired.name}",
            _decide(current is not None, current == desired),
            lambda: self._scheduler.ensure_schedule(desired),
        )


def configuration_document(tc: TenantConnector, applied_at: str) -> dict[str, object]:
    """The tenant's configuration document for one connector, as stored."""
    names = tc.names
    return {
        "_id": tc.connector.value,
        "tenant": tc.tenant.value,
        "connector": tc.connector.value,
        "template_version": tc.template.version,
        "template": template_to_mapping(tc.template),
        "placement": tc.template.placement.value,
        "names": {
            "database": names.database,
            "bucket": names.bucket,
            "compute_environment": tc.compute_environment,
            "job_queue": tc.job_queue,
            "job_definition": names.job_definition,
            "share_identifier": tc.share_identifier,
            "schedule_group": names.schedule_group,
            "collections": {c.name: names.collection(c.name) for c in tc.template.collections},
            "schedules": {s.name: names.schedule(s.name) for s in tc.template.schedules},
        },
        "applied_at": applied_at,
    }
