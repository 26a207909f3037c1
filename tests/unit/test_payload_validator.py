"""Payloads judged by JSON Schema: each refusal names the path of the offending value, and a
schema that cannot be applied is the template's fault, never a crash."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.adapters.jsonschema.payload_validator import JsonSchemaPayloadValidator
from overlord.domain.errors import InvalidPayload, InvalidTemplate
from overlord.testing import memory_container

VALIDATOR = JsonSchemaPayloadValidator()

ORDER: dict[str, Any] = {
    "type": "object",
    "required": ["lines"],
    "properties": {
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku"],
                "properties": {"sku": {"type": "string"}, "count": {"type": "integer"}},
            },
        },
        "notes": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "payload: 'lines' is a required property"),
        ({"lines": "A-1"}, "payload.lines: 'A-1' is not of type 'array'"),
        ({"lines": [{"sku": "A"}, {"sku": 5}]}, "payload.lines[1].sku: 5 is not of type 'string'"),
        ({"lines": [{}]}, "payload.lines[0]: 'sku' is a required property"),
        ({"lines": [], "notes": {"gift wrap": 1}}, 'payload.notes["gift wrap"]: 1 is not of'),
    ],
)
def test_a_refusal_names_the_path_of_the_offending_value(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload) as caught:
        VALIDATOR.validate(ORDER, payload)

    assert caught.value.message.startswith(message), caught.value.message
    assert caught.value.code == "invalid_payload"


def test_the_path_starts_where_the_caller_says() -> None:
    with pytest.raises(InvalidPayload, match=r"^schedules\.nightly\.payload\.lines: "):
        VALIDATOR.validate(ORDER, {"lines": 3}, "schedules.nightly.payload")


def test_a_huge_offending_value_is_quoted_short() -> None:
    schema = {"properties": {"lines": {"type": "array", "maxItems": 2}}}

    with pytest.raises(InvalidPayload) as caught:
        VALIDATOR.validate(schema, {"lines": list(range(10_000))})

    assert caught.value.message.startswith("payload.lines: [0, 1, 2, 3")
    assert caught.value.message.endswith("… is too long")
    assert len(caught.value.message) < 120


def test_booleans_are_not_numbers_and_integral_floats_are_integers() -> None:
    schema = {"properties": {"n": {"type": "integer"}, "x": {"type": "number"}}}
    VALIDATOR.validate(schema, {"n": 3.0, "x": 1})

    for payload in ({"n": True}, {"x": False}, {"n": 1.5}):
        with pytest.raises(InvalidPayload):
            VALIDATOR.validate(schema, payload)


def test_format_is_an_annotation_so_every_install_judges_alike() -> None:
    VALIDATOR.validate(
        {"properties": {"at": {"type": "string", "format": "date-time"}}}, {"at": "x"}
    )


def test_a_schema_is_read_in_the_dialect_it_names() -> None:
    tuple_items = {"properties": {"pair": {"items": [{"type": "string"}, {"type": "integer"}]}}}
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **tuple_items}

    VALIDATOR.check_schema(draft7, "s")
    with pytest.raises(InvalidPayload, match=r"payload\.pair\[1\]: 'b' is not of type"):
        VALIDATOR.validate(draft7, {"pair": ["a", "b"]})
    with pytest.raises(InvalidTemplate, match=r"^s\.properties\.pair\.items: "):
        VALIDATOR.check_schema(tuple_items, "s")  # 2020-12 by default: items is one schema


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "strin"}, "s.type: 'strin' is not valid under any of the given schemas"),
        ({"minimum": "0"}, "s.minimum: '0' is not of type 'number'"),
        ({"properties": {"a": {"pattern": "(["}}}, "s.properties.a.pattern: '(['"),
        ({"$schema": "https://example.com/mine"}, "s.$schema: unknown dialect"),
        ({"$schema": 7}, "s.$schema: expected the URI of a JSON Schema draft"),
        ({"default": date(2026, 1, 5)}, "s: not plain JSON"),
        ({"minimum": float("nan")}, "s: not plain JSON"),
    ],
)
def test_a_schema_that_cannot_be_applied_is_refused_naming_where(
    schema: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        VALIDATOR.check_schema(schema, "s")

    assert caught.value.message.startswith(message), caught.value.message


@pytest.mark.parametrize(
    "reference", ["#/$defs/nowhere", "https://example.com/schemas/sku.json", "other.json"]
)
def test_a_reference_that_resolves_nowhere_is_the_templates_fault_and_nothing_is_fetched(
    reference: str,
) -> None:
    schema = {"properties": {"sku": {"$ref": reference}}}
    VALIDATOR.check_schema(schema, "s")
    VALIDATOR.validate(schema, {})  # nothing reaches the reference

    with pytest.raises(InvalidTemplate, match=r"^payload_schema: a \$ref cannot be resolved"):
        VALIDATOR.validate(schema, {"sku": "A-1"})


def test_references_within_the_schema_resolve() -> None:
    schema = {"$defs": {"sku": {"type": "string"}}, "properties": {"sku": {"$ref": "#/$defs/sku"}}}

    VALIDATOR.validate(schema, {"sku": "A-1"})
    with pytest.raises(InvalidPayload, match=r"^payload\.sku: 5 is not of type 'string'"):
        VALIDATOR.validate(schema, {"sku": 5})


KEYS = st.sampled_from(["stations", "hour", "fail", "items", "sku", "price", "folders", "feed_id"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["stations", "hour", "fail", "items", "sku", "price", "folders", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)
BUNDLED = [job.payload_schema for t in memory_container().catalog().list() for job in t.job_types]


@given(
    schema=st.sampled_from(BUNDLED),
    payload=st.dictionaries(KEYS | st.text(max_size=4), json_values),
)
def test_any_payload_against_a_bundled_schema_passes_or_is_an_invalid_payload(
    schema: dict[str, Any], payload: dict[str, Any]
) -> None:
    try:
        VALIDATOR.validate(schema, payload)
    except InvalidPayload as exc:
        message = exc.message
    else:
        return
    assert message.startswith("payload")
