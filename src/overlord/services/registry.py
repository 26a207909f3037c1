"""Which tenants exist and which connectors each has: the platform database's two collections.

Provisioning records a tenant-connector before it creates anything, so a crash part-way still
leaves a record that deletion can follow, and pooled compute is deleted only once no
tenant-connector uses it any more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from overlord.domain.connectors import CollectionSpec
from overlord.domain.errors import DuplicateKey
from overlord.domain.indexes import IndexSpec
from overlord.domain.names import Namespace
from overlord.domain.tenants import TenantConnector
from overlord.ports.document_store import DocumentStore
from overlord.services.catalog import platform_database

TENANTS = CollectionSpec(name="tenants")
TENANT_CONNECTORS = CollectionSpec(
    name="tenant_connectors",
    indexes=(IndexSpec(fields=("tenant",)), IndexSpec(fields=("compute_environment",))),
)


class TenantRegistry:
    def __init__(self, documents: DocumentStore, namespace: Namespace) -> None:
        self._documents = documents
        self._database = platform_database(namespace)

    def _ready(self) -> bool:
        return TENANTS.name in self._documents.list_collections(self._database)

    def record(self, tc: TenantConnector, at: datetime) -> None:
        self._documents.ensure_database(self._database)
        for spec in (TENANTS, TENANT_CONNECTORS):
            self._documents.ensure_collection(self._database, spec.name, spec.indexes)
        tenant = tc.tenant.value
        self._insert_once(TENANTS.name, {"_id": tenant, "created_at": at.isoformat()})
        entry = {
            "tenant": tenant,
            "connector": tc.connector.value,
            "placement": tc.template.placement.value,
            "compute_environment": tc.compute_environment,
            "job_queue": tc.job_queue,
            "job_definition": tc.names.job_definition,
            "bucket": tc.names.bucket,
            "schedule_group": tc.names.schedule_group,
            "template_version": tc.template.version,
        }
        key = f"{tenant}.{tc.connector}"
        if not self._insert_once(TENANT_CONNECTORS.name, {"_id": key, **entry}):
            self._documents.update(self._database, TENANT_CONNECTORS.name, key, entry)

    def _insert_once(self, collection: str, document: dict[str, Any]) -> bool:
        try:
            self._documents.insert(self._database, collection, document)
        except DuplicateKey:
            return False
        return True

    def tenants(self) -> list[dict[str, Any]]:
        if not self._ready():
            return []
        return self._documents.find(self._database, TENANTS.name)

    def tenant(self, tenant: str) -> dict[str, Any] | None:
        if not self._ready():
            return None
        return self._documents.get(self._database, TENANTS.name, tenant)

    def connectors(self, tenant: str) -> list[dict[str, Any]]:
        if not self._ready():
            return []
        return self._documents.find(self._database, TENANT_CONNECTORS.name, {"tenant": tenant})

    def owner_of_bucket(self, bucket: str) -> tuple[str, str] | None:
        """The (tenant, connector) whose bucket ``bucket`` is, None when no connector's is:
        what an event that names only a bucket (an S3 notification) is routed by."""
        if not self._ready():
            return None
        found = self._documents.find(
            self._database, TENANT_CONNECTORS.name, {"bucket": bucket}, limit=1
        )
        return (str(found[0]["tenant"]), str(found[0]["connector"])) if found else None

    def users_of(self, compute_environment: str) -> int:
        if not self._ready():
            return 0
        return self._documents.count(
            self._database, TENANT_CONNECTORS.name, {"compute_environment": compute_environment}
        )

    def forget(self, tenant: str) -> None:
        for entry in self.connectors(tenant):
            self._documents.delete(self._database, TENANT_CONNECTORS.name, entry["_id"])
        self._documents.delete(self._database, TENANTS.name, tenant)
