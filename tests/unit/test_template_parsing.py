"""Templates parse from plain data, print back to it, and every mistake names its path."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.connectors import ConnectorTemplate, Placement, StuckPolicy
from overlord.domain.errors import InvalidTemplate
from overlord.domain.template_parsing import parse_template, template_to_mapping

MINIMAL: dict[str, Any] = {
    "name": "weather",
    "version": 1,
    "compute": {"job_definition": {"image": "python:3.11-slim", "command": ["python"]}},
}

FULL: dict[str, Any] = {
    "name": "marketplace",
    "version": 3,
    "description": "Retailer feeds",
    "placement": "pooled",
    "pool": "batch-jobs",
    "collections": [
        {
            "name": "settings",
            "seed": [{"_id": "default", "poll_minutes": 5, "nested": {"a": [1, 2]}}],
        },
        {
            "name": "feeds",
            "indexes": [{"fields": ["feed_id"], "unique": True}, {"fields": ["status", "at"]}],
        },
    ],
    "compute": {
        "type": "FARGATE_SPOT",
        "max_vcpus": 4,
        "priority": 10,
        "job_definition": {
            "image": "public.ecr.aws/docker/library/python:3.11-slim",
            "command": ["python", "-m", "overlord.samples.marketplace"],
            "vcpus": 0.5,
            "memory_mib": 1024,
            "timeout_seconds": 900,
            "retry_attempts": 2,
            "environment": {"LOG_LEVEL": "debug", "A_FIRST": "1"},
        },
    },
    "job_types": {
        "submit-feed": {
            "command": ["submit-feed"],
            "timeout_seconds": 600,
            "retry_attempts": 2,
            "follow_up": {"schedule": "check-feed-status", "action": "enable"},
            "stuck_policy": "cancel-and-resubmit",
            "stuck_after_seconds": 900,
            "payload_schema": {
                "type": "object",
                "required": ["feed"],
                "properties": {"feed": {"enum": ["full", "delta"]}, "limits": {"type": "object"}},
            },
        },
        "check-feed-status": {"command": ["check-feed-status"], "stuck_policy": "fail"},
    },
    "schedules": {
        "check-feed-status": {
            "expression": "rate(5 minutes)",
            "job_type": "check-feed-status",
            "enabled": False,
        },
        "nightly": {
            "expression": "cron(0 2 ? * MON-FRI *)",
            "timezone": "America/New_York",
            "job_type": "submit-feed",
            "payload": {"feed": "full", "limits": {"items": 5000}},
        },
    },
    "storage": {"public_read_prefixes": ["public/"], "folders": ["feeds/", "public/"]},
}


@pytest.mark.parametrize("data", [MINIMAL, FULL], ids=["minimal", "full"])
def test_a_template_survives_printing_and_parsing_again(data: dict[str, Any]) -> None:
    template = parse_template(data)
    mapping = template_to_mapping(template)
    again = parse_template(json.loads(json.dumps(mapping)))
    assert again == template
    # Seeds and payloads are left out of equality; they must survive all the same.
    assert [c.seed for c in again.collections] == [c.seed for c in template.collections]
    assert [s.payload for s in again.schedules] == [s.payload for s in template.schedules]
    assert [j.payload_schema for j in again.job_types] == [
        j.payload_schema for j in template.job_types
    ]


def test_a_full_template_keeps_what_it_was_given() -> None:
    template = parse_template(FULL)
    assert template.placement is Placement.POOLED
    assert template.pool == "batch-jobs"
    assert template.job_type("submit-feed").stuck_policy is StuckPolicy.RESUBMIT
    assert template.schedule("nightly").payload == {"feed": "full", "limits": {"items": 5000}}
    assert template.compute.job_definition.environment == (("A_FIRST", "1"), ("LOG_LEVEL", "debug"))
    assert (
        template.job_type("submit-feed").payload_schema
        == FULL["job_types"]["submit-feed"]["payload_schema"]
    )
    assert template.job_type("check-feed-status").payload_schema is None


def test_a_payload_schema_is_a_copy_the_caller_cannot_change_afterwards() -> None:
    data = copy.deepcopy(FULL)
    template = parse_template(data)
    data["job_types"]["submit-feed"]["payload_schema"]["required"].append("limits")

    assert (
        template.job_type("submit-feed").payload_schema
        == FULL["job_types"]["submit-feed"]["payload_schema"]
    )


def test_a_job_type_without_a_schema_prints_without_one() -> None:
    mapping = template_to_mapping(parse_template(FULL))

    assert "payload_schema" in mapping["job_types"]["submit-feed"]
    assert "payload_schema" not in mapping["job_types"]["check-feed-status"]


def with_change(path: list[str | int], value: Any, base: dict[str, Any] = FULL) -> dict[str, Any]:
    data = copy.deepcopy(base)
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


def without(path: list[str | int], base: dict[str, Any] = FULL) -> dict[str, Any]:
    data = copy.deepcopy(base)
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return data


MISTAKES = {
    "unknown top-level field": (with_change(["nmae"], "x"), "nmae: unknown field"),
    "unknown nested field": (
        with_change(["compute", "job_definition", "imagee"], "x"),
        "compute.job_definition.imagee: unknown field",
    ),
    "string for an integer": (with_change(["compute", "max_vcpus"], "8"), "compute.max_vcpus:"),
    "boolean for an integer": (with_change(["version"], True), "version:"),
    "vcpus out of range": (
        with_change(["compute", "job_definition", "vcpus"], 0.1),
        "compute.job_definition.vcpus:",
    ),
    "an integer too big for a float": (
        with_change(["compute", "job_definition", "vcpus"], 10**400),
        "compute.job_definition.vcpus:",
    ),
    "list instead of a table": (with_change(["compute"], ["x"]), "compute: expected a table"),
    "unknown enum value": (with_change(["placement"], "shared"), "placement: expected one of"),
    "bad schedule expression": (
        with_change(["schedules", "nightly", "expression"], "every day"),
        "schedules.nightly:",
    ),
    "cron field out of range": (
        with_change(["schedules", "nightly", "expression"], "cron(99 99 * * ? *)"),
        "schedules.nightly: expression 'cron(99 99 * * ? *)': minutes value '99' is outside 0-59",
    ),
    "cron month name that is no month": (
        with_change(["schedules", "nightly", "expression"], "cron(0 2 * JUM ? *)"),
        "schedules.nightly: expression 'cron(0 2 * JUM ? *)': month value 'JUM'",
    ),
    "cron with two question marks": (
        with_change(["schedules", "nightly", "expression"], "cron(0 2 ? * ? *)"),
        "schedules.nightly: expression 'cron(0 2 ? * ? *)': one of day-of-month",
    ),
    "one-time schedule on a day that does not exist": (
        with_change(["schedules", "nightly", "expression"], "at(2026-02-30T02:00:00)"),
        "schedules.nightly: expression 'at(2026-02-30T02:00:00)': day is out of range",
    ),
    "cron without a question mark": (
        with_change(["schedules", "nightly", "expression"], "cron(0 2 * * MON *)"),
        "schedules.nightly:",
    ),
    "bad timezone": (
        with_change(["schedules", "nightly", "timezone"], "Mars/Olympus_Mons"),
        "schedules.nightly: timezone",
    ),
    "schedule of a missing job type": (
        with_change(["schedules", "nightly", "job_type"], "publish"),
        "schedules.nightly.job_type: no job type 'publish'",
    ),
    "follow_up to a missing schedule": (
        with_change(["job_types", "submit-feed", "follow_up", "schedule"], "poll"),
        "job_types.submit-feed.follow_up.schedule: no schedule 'poll'",
    ),
    "follow_up at an unknown moment": (
        with_change(["job_types", "submit-feed", "follow_up", "when"], "finished"),
        "job_types.submit-feed.follow_up.when",
    ),
    "duplicate collection": (
        with_change(["collections", 1, "name"], "settings"),
        "collections: 'settings' appears twice",
    ),
    "seed document without _id": (
        with_change(["collections", 0, "seed"], [{"poll_minutes": 5}]),
        "collections[0].seed[0]: a seed document needs a string _id",
    ),
    "duplicate seed _id": (
        with_change(["collections", 0, "seed"], [{"_id": "a"}, {"_id": "a"}]),
        "collections[0].seed[1]: duplicate _id",
    ),
    "index without fields": (
        with_change(["collections", 1, "indexes", 0, "fields"], []),
        "collections[1].indexes[0].fields:",
    ),
    "public prefix without a trailing slash": (
        with_change(["storage", "public_read_prefixes"], ["public"]),
        "storage.public_read_prefixes: 'public' must be a relative folder ending in '/'",
    ),
    "public prefix escaping the bucket": (
        with_change(["storage", "public_read_prefixes"], ["../public/"]),
        "storage.public_read_prefixes:",
    ),
    "job type name not a slug": (
        with_change(["job_types", "Submit Feed"], {"command": ["x"]}),
        "job_types.Submit Feed:",
    ),
    "environment value not a string": (
        with_change(["compute", "job_definition", "environment", "N"], 3),
        "compute.job_definition.environment.N: expected a string",
    ),
    "empty environment value": (  # AWS Batch drops it: the definition could not be registered
        with_change(["compute", "job_definition", "environment", "N"], ""),
        "compute.job_definition.environment.N: expected a non-empty string",
    ),
    "payload schema not a table": (
        with_change(["job_types", "submit-feed", "payload_schema"], ["object"]),
        "job_types.submit-feed.payload_schema: expected a table",
    ),
    "payload schema holding a date": (
        with_change(
            ["job_types", "submit-feed", "payload_schema", "default"], {"day": date(2026, 1, 5)}
        ),
        "job_types.submit-feed.payload_schema: not plain JSON",
    ),
    "schedule payload holding a date": (
        with_change(["schedules", "nightly", "payload", "since"], date(2026, 1, 5)),
        "schedules.nightly.payload: not plain JSON",
    ),
    "empty template": ({}, "connector template: 'name' is missing"),
    "missing compute": (without(["compute"]), "connector template: 'compute' is missing"),
    "missing version": (without(["version"]), "connector template: 'version' is missing"),
    "missing job definition": (
        without(["compute", "job_definition"]),
        "compute: 'job_definition' is missing",
    ),
    "missing image": (
        without(["compute", "job_definition", "image"]),
        "compute.job_definition: 'image' is missing",
    ),
    "job type without a command": (
        without(["job_types", "check-feed-status", "command"]),
        "job_types.check-feed-status: 'command' is missing",
    ),
    "schedule without an expression": (
        without(["schedules", "nightly", "expression"]),
        "schedules.nightly: 'expression' is missing",
    ),
    "schedule without a job type": (
        without(["schedules", "nightly", "job_type"]),
        "schedules.nightly: 'job_type' is missing",
    ),
    "collection without a name": (
        without(["collections", 0, "name"]),
        "collections[0]: 'name' is missing",
    ),
    "bad connector name": (with_change(["name"], "Market Place"), "name: invalid connector"),
    "not a table at all": ([FULL], "template: expected a table"),
}


@pytest.mark.parametrize(("data", "message"), MISTAKES.values(), ids=MISTAKES.keys())
def test_each_mistake_is_refused_with_its_path(data: object, message: str) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        parse_template(data)
    assert caught.value.message.startswith(message), caught.value.message


json_ish = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["weather", "rate(5 minutes)", "UTC", "public/", "pooled", "FARGATE"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)


@given(json_ish)
def test_arbitrary_data_is_refused_only_as_an_invalid_template(data: object) -> None:
    try:
        result = parse_template(data)
    except InvalidTemplate:
        return
    assert isinstance(result, ConnectorTemplate)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


FULL_PATHS = paths(FULL)


@given(where=st.sampled_from(FULL_PATHS), garbage=json_ish)
def test_garbage_anywhere_in_a_valid_template_is_refused_only_as_an_invalid_template(
    where: tuple[Any, ...], garbage: object
) -> None:
    data = with_change(list(where), garbage)
    try:
        result = parse_template(data)
    except InvalidTemplate:
        return
    assert isinstance(result, ConnectorTemplate)


DATASET: dict[str, Any] = {
    "name": "observations",
    "cadence": "rate(7 minutes)",
    "cleaner": "weather",
    "raw_layout": "{table}__{station}",
    "source": {"type": "api", "url_template": "https://api.example.com/{station}", "params": {}},
    "sink": {"type": "collection", "collection": "observations", "keys": ["station"]},
    "gather_job": "submit-feed",  # each stage runs as one of the connector's job types
    "process_job": "submit-feed",
}


def test_a_template_keeps_its_checked_datasets() -> None:
    template = parse_template(with_change(["datasets"], [DATASET]))

    assert template.datasets == (DATASET,)


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        ([{**DATASET, "cadence": "daily"}], "datasets[0].cadence:"),
        (["observations"], "datasets[0]: expected a table"),
        ([DATASET, DATASET], "datasets: 'observations' appears twice"),
        ([{**DATASET, "process_job": "load"}], "datasets[0].process_job: no job type 'load'"),
    ],
)
def test_a_template_with_a_bad_dataset_is_refused_with_its_path(
    datasets: list[Any], message: str
) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        parse_template(with_change(["datasets"], datasets))
    assert caught.value.message.startswith(message), caught.value.message
