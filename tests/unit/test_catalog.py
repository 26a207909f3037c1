"""What the catalog takes: templates whose payload schemas are valid and whose schedules submit
payloads their job types accept, and the bundled samples' schemas matching their commands."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from overlord.container import Container
from overlord.domain.errors import Conflict, InvalidPayload, InvalidTemplate
from overlord.domain.template_parsing import template_to_mapping
from overlord.entrypoints.cli.quickstart import SAMPLE_JOB
from overlord.job import JobContext
from overlord.samples import SampleError, marketplace, weather
from overlord.services.catalog import TEMPLATES, platform_database

ROOT = Path(__file__).resolve().parents[2]
# The connectors that ship with Overlord, each a file of the bundled catalog.
BUNDLED = sorted(path.stem for path in (ROOT / "src" / "overlord" / "catalog").glob("*.toml"))

NEWS: dict[str, Any] = {
    "name": "news",
    "version": 1,
    "compute": {"job_definition": {"image": "python:3.11-slim", "command": ["python"]}},
    "job_types": {
        "fetch": {
            "command": ["fetch"],
            "payload_schema": {
                "type": "object",
                "required": ["feeds"],
                "properties": {"feeds": {"type": "array", "items": {"type": "string"}}},
            },
        }
    },
    "schedules": {
        "hourly": {"expression": "rate(1 hour)", "job_type": "fetch", "payload": {"feeds": ["a"]}}
    },
}


def news(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(NEWS)
    fetch, hourly = data["job_types"]["fetch"], data["schedules"]["hourly"]
    fetch["payload_schema"].update(changes.pop("schema", {}))
    hourly["payload"] = changes.pop("payload", hourly["payload"])
    return {**data, **changes}


def test_a_template_with_a_schema_and_a_matching_schedule_payload_is_added(
    container: Container,
) -> None:
    template, changed = container.catalog().add(news())

    assert changed
    assert (
        container.catalog().get("news").job_type("fetch").payload_schema
        == (NEWS["job_types"]["fetch"]["payload_schema"])
    )
    assert template_to_mapping(template)["job_types"]["fetch"]["payload_schema"]["required"] == [
        "feeds"
    ]


REFUSED = {
    "a keyword of the wrong type": (
        news(schema={"required": "feeds"}),
        "job_types.fetch.payload_schema.required: 'feeds' is not of type 'array'",
    ),
    "an unknown type name": (
        news(schema={"properties": {"feeds": {"type": "lst"}}}),
        "job_types.fetch.payload_schema.properties.feeds.type: 'lst' is not valid",
    ),
    "an unknown dialect": (
        news(schema={"$schema": "https://example.com/my-schema"}),
        "job_types.fetch.payload_schema.$schema: unknown dialect",
    ),
    "a regular expression that does not compile": (
        news(schema={"properties": {"feeds": {"type": "array", "items": {"pattern": "(["}}}}),
        "job_types.fetch.payload_schema.properties.feeds.items.pattern: '(['",
    ),
    "a schedule payload its job type refuses": (
        news(payload={"feeds": "a"}),
        "schedules.hourly.payload.feeds: 'a' is not of type 'array' "
        "(the payload_schema of job type 'fetch')",
    ),
    "a schedule without the payload its job type requires": (
        news(payload={}),
        "schedules.hourly.payload: 'feeds' is a required property",
    ),
}


@pytest.mark.parametrize(("data", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_a_template_the_jobs_could_never_run_is_refused_and_nothing_is_stored(
    container: Container, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        container.catalog().add(data)

    assert caught.value.message.startswith(message), caught.value.message
    assert [t.name.value for t in container.catalog().list()] == BUNDLED
    assert container.document_store().list_databases() == []


def test_every_bundled_template_passes_the_catalog_check(container: Container) -> None:
    for template in container.catalog().list():
        container.catalog().check(template)
        assert all(j.payload_schema is not None for j in template.job_types), template.name


SUBMIT = re.compile(r"jobs submit \S+ (\S+) (\S+) --payload '(\{[^']*\})'")
SAMPLE_RUN = re.compile(
    r"OVERLORD_PAYLOAD='(\{[^']*\})'[\s\\]*python -m overlord\.samples\.(\w+) (\S+)"
)


def documented_payloads() -> list[tuple[str, str, dict[str, Any]]]:
    """Every payload the docs, the README, the samples and quickstart show for a bundled job."""
    found = [SAMPLE_JOB]
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    texts += sorted((ROOT / "src/overlord/samples").glob("*.py"))
    for path in texts:
        text = path.read_text(encoding="utf-8")
        for connector, job_type, payload in SUBMIT.findall(text):
            found.append((connector, job_type, json.loads(payload)))
        for payload, module, job_type in SAMPLE_RUN.findall(text):
            found.append((module.replace("_", "-"), job_type, json.loads(payload)))
    return found


def test_the_payloads_the_docs_and_samples_show_pass_their_schemas(container: Container) -> None:
    payloads = documented_payloads()
    validator = container.payload_validator()

    assert {(c, j) for c, j, _ in payloads} >= {
        ("weather", "ingest"),
        ("marketplace", "submit-feed"),
    }
    for connector, job_type, payload in payloads:
        schema = container.catalog().get(connector).job_type(job_type).payload_schema
        assert schema is not None
        validator.validate(schema, payload)


COMMANDS = {
    ("weather", "ingest"): weather.ingest,
    ("marketplace", "submit-feed"): marketplace.submit_feed,
    ("marketplace", "check-feed-status"): marketplace.check_feed_status,
}


def run_sample(connector: str, job_type: str, payload: dict[str, Any]) -> None:
    """The sample command as its job would run it, handed ``payload`` by the job SDK."""
    COMMANDS[connector, job_type](
        JobContext(
            tenant="acme",
            connector=connector,
            job_type=job_type,
            job_id="0" * 32,
            attempt=1,
            payload=payload,
        )
    )


# Payloads each sample command refuses, and ones it takes.
REFUSED_BY_COMMANDS = [
    ("weather", "ingest", {"stations": []}),
    ("weather", "ingest", {"stations": [5]}),
    ("weather", "ingest", {"stations": ["ksea"]}),
    ("weather", "ingest", {"stations": "KSEA"}),
    ("weather", "ingest", {"hour": 7}),
    ("marketplace", "submit-feed", {}),
    ("marketplace", "submit-feed", {"items": {"sku": "A"}}),
    ("marketplace", "submit-feed", {"items": [{"price": 1}]}),
    ("marketplace", "submit-feed", {"items": [{"sku": "  "}]}),
    ("marketplace", "submit-feed", {"items": [{"sku": "A", "price": -1}]}),
    ("marketplace", "submit-feed", {"items": [{"sku": "A", "price": True}]}),
    ("marketplace", "submit-feed", {"items": [{"sku": "A", "quantity": 1.5}]}),
    ("marketplace", "submit-feed", {"items": [{"sku": f"S{i}"} for i in range(5001)]}),
    ("marketplace", "check-feed-status", {"feed_id": "f-1"}),
]
TAKEN_BY_COMMANDS = [
    ("weather", "ingest", {}),
    ("weather", "ingest", {"stations": ["KSEA", "KJFK"], "hour": "2026-01-05T09:00"}),
    ("weather", "ingest", {"n": 1, "window": 7}),  # keys the command does not read
    ("marketplace", "submit-feed", {"items": []}),
    ("marketplace", "submit-feed", {"items": [{"sku": "A-1", "price": 9.5, "quantity": 3}]}),
    ("marketplace", "check-feed-status", {}),
    ("marketplace", "check-feed-status", {"feed_id": "feed-" + "0" * 20}),
]


@pytest.mark.parametrize(("connector", "job_type", "payload"), REFUSED_BY_COMMANDS)
def test_a_payload_a_sample_command_refuses_is_refused_by_its_schema(
    container: Container, connector: str, job_type: str, payload: dict[str, Any]
) -> None:
    with pytest.raises(SampleError):
        run_sample(connector, job_type, payload)
    schema = container.catalog().get(connector).job_type(job_type).payload_schema
    assert schema is not None

    with pytest.raises(InvalidPayload):
        container.payload_validator().validate(schema, payload)


@pytest.mark.parametrize(("connector", "job_type", "payload"), TAKEN_BY_COMMANDS)
def test_a_payload_a_sample_command_takes_passes_its_schema(
    container: Container,
    connector: str,
    job_type: str,
    payload: dict[str, Any],
) -> None:
    run_sample(connector, job_type, payload)
    schema = container.catalog().get(connector).job_type(job_type).payload_schema
    assert schema is not None

    container.payload_validator().validate(schema, payload)


def test_a_stored_template_that_no_longer_validates_hides_nothing_else_and_can_be_replaced(
    container: Container,
) -> None:
    catalog, documents = container.catalog(), container.document_store()
    catalog.add(news())
    database = platform_database(container.namespace())
    stored = documents.get(database, TEMPLATES.name, "news")
    assert stored is not None
    stale = copy.deepcopy(stored["template"])
    stale["schedules"]["hourly"]["expression"] = "cron(99 99 * * ? *)"  # taken before the fix
    documents.update(database, TEMPLATES.name, "news", {"template": stale})

    names = [t.name.value for t in catalog.list()]
    with pytest.raises(InvalidTemplate, match="connector news version 1 in the catalog no longer"):
        catalog.get("news")
    with pytest.raises(Conflict, match="increase 'version'"):
        catalog.add(news())
    fixed, changed = catalog.add(news(version=2))

    assert names == BUNDLED
    assert (fixed.version, changed) == (2, True)
    assert catalog.get("news").schedule("hourly").expression == "rate(1 hour)"
