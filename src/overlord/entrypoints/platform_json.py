"""Tenants, connectors and provisioning results as JSON: one shape for the CLI and the API.

``overlord -o json tenants list`` and ``GET /tenants`` answer the same document, and so do the
catalog, provisioning and deletion commands and their routes, so a script can move between the
CLI and the HTTP API without changing how it reads an answer (jobs: `job_json`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from overlord.domain.connectors import ConnectorTemplate
    from overlord.domain.tenants import ResourceChange
    from overlord.services.provisioning import ProvisioningReport
    from overlord.services.tenants import TenantSummary


def change_json(change: ResourceChange) -> dict[str, str]:
    return {"kind": change.kind.value, "name": change.name, "action": change.action.value}


def report_json(report: ProvisioningReport) -> dict[str, Any]:
    return {
        "tenant": report.tenant,
        "connector": report.connector,
        "resources": [change_json(change) for change in report.resources],
    }


def deletion_json(tenant: str, changes: Iterable[ResourceChange]) -> dict[str, Any]:
    return {"tenant": tenant, "resources": [change_json(change) for change in changes]}


def tenant_summary_json(summary: TenantSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "created_at": summary.created_at,
        "connectors": list(summary.connectors),
    }


def template_summary_json(template: ConnectorTemplate, source: str) -> dict[str, Any]:
    """A catalog entry as ``connectors list`` and ``GET /connectors`` show it."""
    return {
        "name": template.name.value,
        "version": template.version,
        "placement": template.placement.value,
        "job_types": [j.name for j in template.job_types],
        "schedules": [{"name": s.name, "expression": s.expression} for s in template.schedules],
        "source": source,
    }
