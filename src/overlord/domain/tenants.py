"""Tenants, their resolved connectors, and the resource changes provisioning reports."""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import define, field, frozen

from overlord.domain.connectors import ConnectorTemplate, Placement
from overlord.domain.names import ConnectorName, Namespace, ResourceNames, TenantName


class ResourceKind(enum.StrEnum):
    DATABASE = "database"
    CONFIGURATION = "configuration"
    COLLECTION = "collection"
    BUCKET = "bucket"
    COMPUTE_ENVIRONMENT = "compute_environment"
    JOB_QUEUE = "job_queue"
    JOB_DEFINITION = "job_definition"
    SCHEDULE = "schedule"


class Action(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    WOULD_CREATE = "would-create"
    WOULD_UPDATE = "would-update"
    WOULD_KEEP = "would-keep"
    WOULD_DELETE = "would-delete"

    def planned(self) -> Action:
        """The plan's word for what applying would do."""
        return _PLANNED.get(self, self)


_PLANNED = {
    Action.CREATED: Action.WOULD_CREATE,
    Action.UPDATED: Action.WOULD_UPDATE,
    Action.UNCHANGED: Action.WOULD_KEEP,
    Action.DELETED: Action.WOULD_DELETE,
}


@frozen
class ResourceChange:
    kind: ResourceKind
    name: str
    action: Action


@frozen
class Tenant:
    name: TenantName
    created_at: datetime


@define(kw_only=True)
class TenantConnector:
    """The tenant's configuration document: a template resolved for one tenant.

    It records which template version was applied so that provisioning knows when to update,
    and the names of everything made, so deletion removes exactly that.
    """

    tenant: TenantName
    template: ConnectorTemplate
    names: ResourceNames
    applied_at: datetime
    resources: dict[str, str] = field(factory=dict)

    @classmethod
    def resolve(
        cls, namespace: Namespace, tenant: TenantName, template: ConnectorTemplate, at: datetime
    ) -> TenantConnector:
        names = ResourceNames(namespace, tenant, template.name)
        return cls(tenant=tenant, template=template, names=names, applied_at=at)

    @property
    def connector(self) -> ConnectorName:
        return self.template.name

    @property
    def compute_environment(self) -> str:
        if self.template.placement is Placement.POOLED:
            return self.names.pool(self.template.pool)
        return self.names.dedicated

    @property
    def job_queue(self) -> str:
        return self.compute_environment

    @property
    def share_identifier(self) -> str | None:
        if self.template.placement is Placement.POOLED:
            return self.names.share_identifier
        return None
