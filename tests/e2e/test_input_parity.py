"""The CLI and the API accept and refuse the same payload texts and idempotency keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.domain.errors import InvalidInput, MalformedRequest
from overlord.entrypoints.api.requests import ApiRequest
from overlord.entrypoints.cli.payloads import check_idempotency_key, read_payload
from tests.e2e.conftest import Cli, run_subprocess

LIMIT = 1 << 20
CLI_SOURCE = "--payload"
API_SOURCE = "the body"


def api_request(body: str | None = None, key: str | None = None) -> ApiRequest:
    return ApiRequest(
        method="POST",
        path="/tenants/acme/connectors/weather/jobs/ingest",
        headers={} if key is None else {"idempotency-key": key},
        query={},
        body=body,
        base64_encoded=False,
        tenant_claim=None,
    )


def cli_reading(text: str) -> tuple[str, Any]:
    try:
        return "accepted", read_payload(text)
    except InvalidInput as exc:
        return "refused", exc.message.replace(CLI_SOURCE, "SOURCE", 1)


def api_reading(text: str) -> tuple[str, Any]:
    try:
        return "accepted", api_request(text).json_object(LIMIT)
    except InvalidInput as exc:
        return "refused", exc.message.replace(API_SOURCE, "SOURCE", 1)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=12,
)
_TRICKS = st.sampled_from(
    [
        '{"a": 1, "a": 2}',
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": 1e400}',
        '{"a": "\\ud800"}',
        "[1]",
        '"text"',
        "{",
        "",
        '{"a": ' + "[" * 101 + "]" * 101 + "}",
        '{"a": ' + "[" * 99 + "]" * 99 + "}",
        '{"a": ' + "1" * 5000 + "}",
    ]
)
# A --payload starting with @ names a file (or stdin): the text compared is the file's.
TEXTS = (
    _TRICKS
    | _VALUES.map(lambda value: json.dumps(value, allow_nan=True))
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
).filter(lambda text: not text.startswith("@"))


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_the_cli_and_the_api_read_every_payload_text_alike(text: str) -> None:
    cli, api = cli_reading(text), api_reading(text)
    if text == "":  # an empty body means "no payload"; an empty --payload is a mistake
        assert api == ("accepted", {})
        assert cli[0] == "refused"
        return
    assert cli == api


KEYS = st.text(max_size=300) | st.text(st.characters(min_codepoint=33, max_codepoint=126))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(KEYS)
def test_the_cli_and_the_api_take_the_same_idempotency_keys(key: str) -> None:
    try:
        check_idempotency_key(key)
        cli = True
    except MalformedRequest:
        cli = False
    try:
        api = api_request(key=key).idempotency_key() == key
    except MalformedRequest:
        api = False
    assert cli == api


@pytest.mark.parametrize(("length", "taken"), [(255, True), (256, False)])
def test_both_doors_take_keys_up_to_255_characters(length: int, taken: bool) -> None:
    key = "k" * length
    results = []
    for check in (check_idempotency_key, lambda k: api_request(key=k).idempotency_key()):
        try:
            check(key)
            results.append(True)
        except MalformedRequest:
            results.append(False)
    assert results == [taken, taken]


def test_the_api_refuses_a_body_with_a_duplicate_key() -> None:
    with pytest.raises(MalformedRequest, match="duplicate key 'a'"):
        api_request('{"a": 1, "a": 2}').json_object(LIMIT)


def test_payload_at_dash_reads_standard_input(cli: Cli, home: Path) -> None:
    assert cli("tenants", "init", "acme", "weather").exit_code == 0
    payload = json.dumps({"stations": ["KSEA", "KJFK"]})

    piped = run_subprocess(home, "jobs", "submit", "acme", "weather", "ingest",
                           "--payload", "@-", "-o", "json", stdin=payload)  # fmt: skip
    inline = cli("jobs", "submit", "acme", "weather", "ingest", "--payload", payload, output="json")

    assert piped.exit_code == 0, piped.stderr
    assert json.loads(piped.stdout)["job_id"] == json.loads(inline.stdout)["job_id"]
    assert json.loads(inline.stdout)["created"] is False  # the piped one made it
