"""The connector catalog: bundled templates plus those a platform team adds.

Added templates live in the platform database of the document store, so every profile (and
every machine sharing an AWS account) sees the same catalog. A template's version is its
identity: the same version with other content is refused, so a tenant's configuration document
never claims a version it was not built from.

`CatalogService.check` is what a template must pass before it is stored or provisioned: the
parser's rules, and what the parser cannot judge without a JSON Schema library — that each
job type's ``payload_schema`` is a valid schema, and that each schedule's payload matches the
schema of the job type it submits (else every firing would be refused).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from overlord.domain.connectors import CollectionSpec, ConnectorTemplate
from overlord.domain.errors import Conflict, DuplicateKey, InvalidPayload, InvalidTemplate, NotFound
from overlord.domain.names import ConnectorName, Namespace
from overlord.ports.document_store import DocumentStore
from overlord.ports.payload_validator import PayloadValidator

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

    >>> from overlord.adapters.jsonschema.payload_validator import JsonSchemaPayloadValidator
    >>> from overlord.adapters.memory.document_store import MemoryDocumentStore
    >>> payloads = JsonSchemaPayloadValidator()
    >>> catalog = CatalogService([], MemoryDocumentStore(), Namespace(), payloads=payloads)
    >>> catalog.list()
    []
    """

    def __init__(
        self,
        bundled: Sequence[ConnectorTemplate],
        documents: DocumentStore,
        namespace: Namespace,
        *,
        payloads: PayloadValidator,
    ) -> None:
        self._bundled = {t.name.value: t for t in bundled}
        self._documents = documents
        self._database = platform_database(namespace)
        self._payloads = payloads

    def _stored(self) -> tuple[dict[str, ConnectorTemplate], dict[str, str]]:
        """Stored templates by name, and why each one that no longer parses (stored before a
        rule it breaks) is refused: one such template must not make the whole catalog fail."""
        from overlord.domain.template_parsing import parse_template

        templates: dict[str, ConnectorTemplate] = {}
        unreadable: dict[str, str] = {}
        if TEMPLATES.name not in self._documents.list_collections(self._database):
            return templates, unreadable
        for doc in self._documents.find(self._database, TEMPLATES.name):
            try:
                templates[doc["_id"]] = parse_template(doc["template"])
            except InvalidTemplate as exc:
                unreadable[doc["_id"]] = (
                    f"connector {doc['_id']} version {doc['version']} in the catalog no longer "
                    f"validates ({exc.message}): add a corrected version with a higher 'version'"
                )
        return templates, unreadable

    def entries(self) -> list[CatalogEntry]:
        stored, unreadable = self._stored()
        merged = {
            name: CatalogEntry(t, "bundled")
            for name, t in self._bundled.items()
            if name not in unreadable
        }
        for name, template in stored.items():
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
        unreadable = self._stored()[1].get(connector.value)
        if unreadable is not None:
            raise InvalidTemplate(unreadable)
        known = ", ".join(t.name.value for t in self.list()) or "none"
        raise NotFound(f"no connector {name!r} in the catalog (known: {known})")

    def check(self, template: ConnectorTemplate) -> None:
        """`InvalidTemplate` naming the path of the first thing provisioning or a schedule's
        firing would be refused for. The parser's rules are applied again, since a template
        built in code (or stored by an older version) never met them."""
        from overlord.domain.template_parsing import parse_template, template_to_mapping

        parse_template(template_to_mapping(template))
        for job_type in template.job_types:
            if job_type.payload_schema is not None:
                where = f"job_types.{job_type.name}.payload_schema"
                self._payloads.check_schema(job_type.payload_schema, where)
        for schedule in template.schedules:
            schema = template.job_type(schedule.job_type).payload_schema
            if schema is None:
                continue
            try:
                self._payloads.validate(
                    schema, schedule.payload, f"schedules.{schedule.name}.payload"
                )
            except InvalidPayload as exc:
                raise InvalidTemplate(
                    f"{exc.message} (the payload_schema of job type {schedule.job_type!r})"
                ) from None

    def add(self, data: Mapping[str, Any]) -> tuple[ConnectorTemplate, bool]:
        """Validate and store a template; returns it and whether the catalog changed."""
        from overlord.domain.template_parsing import parse_template, template_to_mapping

        template = parse_template(data)
        self.check(template)
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
        if current is None and existing is not None and template.version <= existing["version"]:
            raise Conflict(
                f"connector {template.name} is stored at version {existing['version']}, which no "
                "longer validates: increase 'version' to publish the corrected template"
            )
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
