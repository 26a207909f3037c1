"""Tenants as a whole: list them, show their connectors' state, delete what was made for them."""

from __future__ import annotations

import builtins
from typing import Any

from attrs import frozen

from overlord.domain.errors import Conflict, NotFound
from overlord.domain.names import Namespace, TenantName, schedule_group, tenant_database
from overlord.domain.tenants import Action, ResourceChange, ResourceKind
from overlord.ports.compute import ComputeProvisioner
from overlord.ports.document_store import DocumentStore
from overlord.ports.object_store import ObjectStore
from overlord.ports.scheduler import Scheduler
from overlord.services.provisioning import ProvisioningReport, ProvisioningService
from overlord.services.registry import TenantRegistry


@frozen
class TenantSummary:
    name: str
    created_at: str
    connectors: tuple[str, ...]


@frozen
class TenantDetail:
    summary: TenantSummary
    connectors: tuple[ProvisioningReport, ...]
    configurations: tuple[dict[str, Any], ...]


class TenantService:
    def __init__(
        self,
        *,
        provisioning: ProvisioningService,
        registry: TenantRegistry,
        documents: DocumentStore,
        objects: ObjectStore,
        compute: ComputeProvisioner,
        scheduler: Scheduler,
        namespace: Namespace,
    ) -> None:
        self._provisioning = provisioning
        self._documents = documents
        self._objects = objects
        self._compute = compute
        self._scheduler = scheduler
        self._namespace = namespace
        self._registry = registry

    def list(self) -> builtins.list[TenantSummary]:
        return [self._summary(doc) for doc in self._registry.tenants()]

    def _summary(self, doc: dict[str, Any]) -> TenantSummary:
        connectors = tuple(sorted(e["connector"] for e in self._registry.connectors(doc["_id"])))
        return TenantSummary(doc["_id"], doc["created_at"], connectors)

    def _require(self, tenant: str) -> TenantSummary:
        name = TenantName(tenant)
        doc = self._registry.tenant(name.value)
        if doc is None:
            raise NotFound(f"no tenant {tenant!r}")
        return self._summary(doc)

    def show(self, tenant: str) -> TenantDetail:
        """The tenant's configuration documents and, per connector, whether each resource is
        in line with its template (the plan: ``would-keep`` means in sync)."""
        summary = self._require(tenant)
        database = tenant_database(self._namespace, TenantName(tenant))
        # A tenant registered by a provisioning run that stopped early may have no collection.
        configurations = (
            tuple(self._documents.find(database, "connectors"))
            if "connectors" in self._documents.list_collections(database)
            else ()
        )
        plans = tuple(
            self._provisioning.apply(tenant, connector, plan=True)
            for connector in summary.connectors
        )
        return TenantDetail(summary, plans, configurations)

    def delete(self, tenant: str, *, purge: bool = False) -> builtins.list[ResourceChange]:
        """Remove what provisioning made, dependants first; refuse before touching anything
        if a bucket still holds objects and ``purge`` was not asked for."""
        self._require(tenant)
        name = TenantName(tenant)
        entries = self._registry.connectors(name.value)
        if not purge:
            full = [
                e["bucket"]
                for e in entries
                if self._objects.describe_bucket(e["bucket"]) is not None
                and self._objects.list_objects(e["bucket"])
            ]
            if full:
                raise Conflict(
                    f"bucket {full[0]} is not empty: use --purge to delete its objects too"
                )
        changes: builtins.list[ResourceChange] = []

        def deleted(kind: ResourceKind, resource: str) -> None:
            changes.append(ResourceChange(kind, resource, Action.DELETED))

        group = schedule_group(self._namespace, name)
        for schedule in self._scheduler.list_schedules(group):
            deleted(ResourceKind.SCHEDULE, f"{group}/{schedule.name}")
        self._scheduler.delete_group(group)
        for entry in entries:
            if self._compute.describe_job_definition(entry["job_definition"]) is not None:
                self._compute.deregister_job_definition(entry["job_definition"])
                deleted(ResourceKind.JOB_DEFINITION, entry["job_definition"])
        for entry in entries:
            environment = entry["compute_environment"]
            own = sum(e["compute_environment"] == environment for e in entries)
            if self._registry.users_of(environment) > own:
                continue  # a pool that other tenants still use
            if self._compute.describe_job_queue(entry["job_queue"]) is not None:
                self._compute.delete_job_queue(entry["job_queue"])
                deleted(ResourceKind.JOB_QUEUE, entry["job_queue"])
            if self._compute.describe_compute_environment(environment) is not None:
                self._compute.delete_compute_environment(environment)
                deleted(ResourceKind.COMPUTE_ENVIRONMENT, environment)
        for entry in entries:
            if self._objects.describe_bucket(entry["bucket"]) is not None:
                self._objects.delete_bucket(entry["bucket"], purge=purge)
                deleted(ResourceKind.BUCKET, entry["bucket"])
        database = tenant_database(self._namespace, name)
        if self._documents.database_exists(database):
            self._documents.drop_database(database)
            deleted(ResourceKind.DATABASE, database)
        self._registry.forget(name.value)
        return changes
