"""Where a tenant's connector runs, read from its configuration document.

Submitting a job, switching a follow-up schedule and replacing a stuck job all need the
connector's template and the names provisioning gave its resources; they read them here, so a
missing tenant or connector is reported the same way whoever asks.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from attrs import frozen

from overlord.domain.errors import NotFound
from overlord.domain.names import ConnectorName, Namespace, TenantName, tenant_database
from overlord.ports.document_store import DocumentStore

if TYPE_CHECKING:
    from overlord.domain.connectors import ConnectorTemplate

CONNECTORS = "connectors"


@frozen
class Target:
    template: ConnectorTemplate
    names: Mapping[str, Any]


def read_target(
    documents: DocumentStore, namespace: Namespace, tenant: str, connector: str
) -> Target:
    """The connector's target; NotFound naming the tenant or connector that is missing."""
    ConnectorName(connector)
    database = tenant_database(namespace, TenantName(tenant))
    try:
        doc = documents.get(database, CONNECTORS, connector)
    except NotFound:
        if documents.database_exists(database):
            raise
        raise NotFound(
            f"no tenant {tenant!r}: run `overlord tenants init {tenant} CONNECTOR` first"
        ) from None
    if doc is None:
        raise NotFound(
            f"tenant {tenant!r} has no connector {connector!r}: run "
            f"`overlord tenants init {tenant} {connector}` first"
        )
    return Target(_parsed(json.dumps(doc["template"], sort_keys=True)), doc["names"])


@functools.lru_cache(maxsize=128)
def _parsed(template: str) -> ConnectorTemplate:
    """Parsing a template costs far more than reading it, and tracking reads one per finished
    job: a template seen before is parsed once (templates are immutable values). The parser is
    imported here, when a template is first parsed: a cold start that reads none skips it."""
    from overlord.domain.template_parsing import parse_template

    parsed: ConnectorTemplate = parse_template(json.loads(template))
    return parsed
