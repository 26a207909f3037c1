"""The connector catalog: bundled templates plus those a platform team adds.

Added templates live in the platform database of the document store, so every profile (and
every machine sharing an AWS account) sees the same catalog. A template's version is its
identity: the same version with other content is refused, so a tenant's configuration document
never claims a version it was not built from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from overlord.domain.connectors import CollectionSpec, ConnectorTemplate
from overlord.domain.errors import Conflict, DuplicateKey, NotFound
from overlord.domain.names import ConnectorName, Namespace
from overlord.domain.template_parsing import parse_template, template_to_mapping
from overlord.ports.document_store import DocumentStore

TEMPLATES = CollectionSpec(name="connector_templates")


def platform_database(namespace: Namespace) -> str:
    """Underscore keeps it apart from every tenant database (``{namespace}-{tenant}``)."""
    return f"{namespace}_platform"


@frozen
class CatalogEntry:
    template: ConnectorTemplate
    source: str  # "bundled" or "added"


class CatalogService:
    """Look up and add connector templates.

    >>> from overlord.adapters.memory.document_store import MemoryDocumentStore
    >>> catalog = CatalogService([], MemoryDocumentStore(), Namespace())
    >>> catalog.list()
    []
    """

    def __init__(
        self, bundled: Sequence[ConnectorTemplate], documents: DocumentStore, namespace: Namespace
    ) -> None:
        self._bundled = {t.name.value: t for t in bundled}
        self._documents = documents
        self._database = platform_database(namespace)

    def _stored(self) -> dict[str, ConnectorTemplate]:
        if TEMPLATES.name not in self._documents.list_collections(self._database):
            return {}
        docs = self._documents.find(self._database, TEMPLATES.name)
        return {doc["_id"]: parse_template(doc["template"]) for doc in docs}

    def entries(self) -> list[CatalogEntry]:
        merged = {name: CatalogEntry(t, "bundled") for name, t in self._bundled.items()}
        for name, template in self._stored().items():
            if name not in merged or template.version >= merged[name].template.version:
                merged[name] = CatalogEntry(template, "added")
        return [merged[name] for name in sorted(merged)]

    def list(self) -> list[ConnectorTemplate]:
        return [entry.template for entry in self.entries()]

    def get(self, name: str) -> ConnectorTemplate:
        connector = ConnectorName(name)
        for entry in self.entries():
            if entry.template.name == connector:
                return entry.template
        known = ", ".join(t.name.value for t in self.list()) or "none"
        raise NotFound(f"no connector {name!r} in the catalog (known: {known})")

    def add(self, data: Mapping[str, Any]) -> tuple[ConnectorTemplate, bool]:
        """Validate and store a template; returns it and whether the catalog changed."""
        template = parse_template(data)
        current = next((t for t in self.list() if t.name == template.name), None)
        if current is not None:
            same = template_to_mapping(current) == template_to_mapping(template)
            if template.version == current.version:
                if same:
                    return current, False
                raise Conflict(
                    f"connector {template.name} version {template.version} already exists with "
                    "different content: increase 'version' to publish a change"
                )
            if template.version < current.version:
                raise Conflict(
                    f"connector {template.name} is at version {current.version}; "
                    f"version {template.version} is older"
                )
        self._documents.ensure_database(self._database)
        self._documents.ensure_collection(self._database, TEMPLATES.name)
        document = {
            "_id": template.name.value,
            "version": template.version,
            "template": template_to_mapping(template),
        }
        existing = self._documents.get(self._database, TEMPLATES.name, template.name.value)
        if existing is None:
            try:
                self._documents.insert(self._database, TEMPLATES.name, document)
            except DuplicateKey:
                raise Conflict(f"connector {template.name} was added concurrently") from None
        elif not self._documents.update(
            self._database,
            TEMPLATES.name,
            template.name.value,
            {"version": template.version, "template": document["template"]},
            expected={"version": existing["version"]},
        ):
            raise Conflict(f"connector {template.name} was changed concurrently; try again")
        return template, True
