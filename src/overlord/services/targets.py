"""Where a tenant's connector runs, read from its configuration document.

Submitting a job, switching a follow-up schedule and replacing a stuck job all need the
connector's template and the names provisioning gave its resources; they read them here, so a
missing tenant or connector is reported the same way whoever asks.
"""

from __future__ import annotations

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
    return Target(_parsed(connector, doc["template"]), doc["names"])


# Templates parsed before, by connector name, each beside the stored template it came from.
_PARSED: dict[str, list[tuple[Any, ConnectorTemplate]]] = {}
_PARSED_PER_NAME = 4  # versions of one connector that tenants hold at once
_PARSED_NAMES = 128


def _parsed(connector: str, template: Any) -> ConnectorTemplate:
    """Parsing a template costs far more than reading it, and tracking reads one per finished
    job: a stored template equal to one parsed before is parsed once (templates are immutable
    values). Comparing the stored dicts costs a fraction of encoding either to a key. The parser
    is imported here, when a template is first parsed: a cold start that reads none skips it."""
    seen = _PARSED.get(connector, [])
    for stored, parsed in seen:
        # Python's equality (1 == 1.0 == True) is enough: provisioning stores a template as it
        # serialises a parsed one, so two stored templates equal that way parse alike.
        if stored == template:
            return parsed
    from overlord.domain.template_parsing import parse_template

    # The parser reads a copy of its own, so that the one kept here is never shared.
    fresh: ConnectorTemplate = parse_template(json.loads(json.dumps(template)))
    if len(_PARSED) >= _PARSED_NAMES:
        _PARSED.clear()
    _PARSED[connector] = [(template, fresh), *seen[: _PARSED_PER_NAME - 1]]
    return fresh
