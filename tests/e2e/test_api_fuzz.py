"""Whatever API Gateway event arrives, the API answers without a 5xx, and a refusal writes
nothing.

Hypothesis builds REST and HTTP API events for every route with at least one thing wrong in
each request that could write: a hostile name (``../x``, ``$where``, look-alike letters, lone
surrogates), a body that is not a JSON object or is too large, a bad header or query, fields
missing or of the wrong type, an authorizer naming another tenant. The document store and the
backend's submissions are compared before and after every example.
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st

from overlord.container import Container
from overlord.domain.errors import InvalidInput
from overlord.domain.jobs import JobId, canonical_json
from overlord.domain.names import ConnectorName, TenantName, slug
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.settings import Settings
from overlord.testing import memory_container, provisioned_memory_container
from tests.e2e.api_events import http_event, rest_event

LIMIT = 256 * 1024
HOSTILE = [
    "../x",
    "..",
    ".",
    "$where",
    '{"$gt": ""}',
    "ACME",
    "\u0430cme",  # Cyrillic a
    "acme\u200b",  # zero-width space
    "\uff41\uff43\uff4d\uff45",  # full-width acme
    "acme\x00",
    "acme\n",
    "weather\n",
    " acme",
    "a",
    "a" * 40,
    "-acme",
    "acme-",
    "ac--me",
    "acme;rm -rf /",
    "__proto__",
    "\ud800",
    "%",
    "%2e%2e",
    "acme%00",
]
NOT_OBJECTS = [
    "{",
    "}",
    "[]",
    "[{}]",
    "1",
    '"x"',
    "null",
    "true",
    " ",
    '{"a": NaN}',
    '{"a": -Infinity}',
    '{"a": 1e999}',
    '{"a": ' + "1" * 5000 + "}",
    '{"a": ' + "[" * 950 + "]" * 950 + "}",
    "[" * 50_000,
    '{"a": 1}{"b": 2}',
    "\ufeff{}",
    "\ud800",
    '{"a": "\\ud800"}',
    '{"a": "' + "x" * LIMIT + '"}',
]
# JSON objects, but no payload a document store accepts: bad only where the body is a payload.
UNSTORABLE = [
    '{"$where": "sleep(1000)"}',
    '{"a": {"$ne": null}}',
    '{"a": "\\u0000"}',
    '{"a": 123456789012345678901234567890}',
]
TEMPLATES = [
    ("PUT", "/tenants/{tenant}/connectors/{connector}", "provisions"),
    ("GET", "/tenants/{tenant}/connectors/{connector}", "reads"),
    ("POST", "/tenants/{tenant}/connectors/{connector}/jobs/{job_type}", "submits"),
    ("GET", "/tenants/{tenant}/jobs", "reads"),
    ("GET", "/tenants/{tenant}/jobs/{job_id}", "reads"),
    ("GET", "/tenants/{tenant}/jobs/{job_id}/logs", "reads"),
    ("GET", "/init/{tenant}/{connector}", "provisions"),
    ("POST", "/init/{job_type}/{tenant}/{connector}", "submits"),
    ("GET", "/tenants/{tenant}/datasets", "reads"),
    ("POST", "/tenants/{tenant}/connectors/{connector}/datasets/{dataset}/runs", "starts"),
    ("GET", "/tenants/{tenant}/connectors/{connector}/datasets/{dataset}/runs", "reads"),
    ("GET", "/tenants/{tenant}/connectors/{connector}/datasets/{dataset}/runs/{job_id}", "reads"),
    ("GET", "/tenants/{tenant}/datasets/runs/{job_id}", "reads"),
]
VALID = {
    "tenant": ["acme", "beta"],
    "connector": ["weather", "marketplace", "bank-reports"],
    "dataset": ["call-reports", "rate-sheets"],
    "job_type": ["ingest", "check-feed-status"],
    "job_id": ["0" * 32, "f" * 32],
}
CHECKS: dict[str, Callable[[str], object]] = {
    "tenant": TenantName,
    "connector": ConnectorName,
    "job_type": lambda name: slug("job type", name),
    "dataset": lambda name: slug("dataset", name),
    "job_id": JobId,
}


def refused_by(parameter: str, name: str) -> bool:
    try:
        CHECKS[parameter](name)
    except InvalidInput:
        return True
    return False


def in_path(name: str) -> st.SearchStrategy[str]:
    """A name as a client would put it in a path: percent-encoded, or as it is when it cannot
    be encoded (a lone surrogate) or to try the router with it raw."""
    try:
        encoded = quote(name, safe="")
    except UnicodeEncodeError:
        return st.just(name)
    return st.sampled_from([encoded, name]) if name in HOSTILE else st.just(encoded)


def hostile(parameter: str) -> st.SearchStrategy[str]:
    generated = st.text(max_size=48).filter(lambda name: refused_by(parameter, name))
    return st.one_of(st.sampled_from(HOSTILE), generated)


def not_an_object(text: str) -> bool:
    try:
        return not isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return True


not_objects = st.one_of(
    st.sampled_from(NOT_OBJECTS), st.text(min_size=1, max_size=60).filter(not_an_object)
)
bad_payloads = st.one_of(not_objects, st.sampled_from(UNSTORABLE))
# A run's body with one field wrong, so that a start with every name right still starts nothing.
MARCH = {"params": {"period": "2026-03-31"}}
WRONG_FIELDS = {
    "params": st.one_of(
        st.sampled_from([None, [], "period=2026-03-31", 7, {"period": 20260331}]),
        st.sampled_from(["../x", "$where", "", "2026/03", "x" * 41, "-1"]).map(
            lambda period: {"period": period}
        ),
        st.sampled_from(["bad name", "$gt", "", "x" * 65]).map(lambda name: {name: "x"}),
    ),
    "source_url": st.sampled_from(
        [7, [], "", "ftp://mirror", "http://", "http://h/Bulk.aspx", "http://u:p@h", "http://h?q"]
    ),
    "process": st.sampled_from([None, "yes", 0, 1, []]),
    "idempotency_key": st.sampled_from([7, "", " ", "k" * 300, "ключ"]),
    "archive": st.sampled_from(["incoming/" + "0" * 64 + "/x.zip", None]),  # CLI-only
}
bad_starts = st.one_of(
    not_objects,
    st.sampled_from(sorted(WRONG_FIELDS)).flatmap(
        lambda name: WRONG_FIELDS[name].map(lambda value: json.dumps({**MARCH, name: value}))
    ),
)
any_body = st.one_of(st.none(), st.just(""), st.just("{}"), st.just('{"n": 1}'), bad_payloads)
BAD_BODIES = {"provisions": not_objects, "submits": bad_payloads, "starts": bad_starts}
headers = st.dictionaries(
    st.sampled_from(["Idempotency-Key", "Content-Type", "X-Forwarded-For"]),
    st.one_of(st.sampled_from(["", " ", "k" * 300, "ключ", "a\tb"]), st.text(max_size=20)),
    max_size=2,
)
queries = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"status": st.one_of(st.sampled_from(["RUNNING", "done", "", "$ne"]), st.text())}
    ),
    st.fixed_dictionaries({"connector": st.sampled_from(["weather", "../x", ""])}),
    st.fixed_dictionaries({"plan": st.sampled_from(["true", "maybe", "1"])}),
)
authorizers = st.sampled_from(
    [
        None,
        None,
        None,
        {"principalId": "iam-user"},
        {"tenant": "beta"},
        {"tenant": 3},
        {"lambda": {"tenant": None}},
        {"claims": {"custom:tenant": "acme"}},
        {"jwt": {"claims": {"custom:tenant": ["acme"]}}},
        "not-an-object",
    ]
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method, template, effect = draw(st.sampled_from(TEMPLATES))
    parameters = [p for p in VALID if "{" + p + "}" in template]
    names = {p: draw(st.one_of(st.sampled_from(VALID[p]), hostile(p))) for p in parameters}
    all_valid = all(not refused_by(p, n) for p, n in names.items())
    body = draw(BAD_BODIES[effect] if effect in BAD_BODIES and all_valid else any_body)
    path = template.format(**{p: draw(in_path(n)) for p, n in names.items()})
    build = draw(st.sampled_from([rest_event, http_event]))
    event: dict[str, Any] = build(
        method,
        path,
        body=body,
        headers=draw(headers),
        query=draw(queries),
        authorizer=draw(authorizers),
    )
    return event


def wrong_types(event: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """The event with fields deleted or of the wrong type (never the body: a request is kept
    malformed by its body or names, not by what is done to the rest of the event)."""
    keys = [k for k in event if k != "body"]
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        replacement: object = draw(st.sampled_from(["<delete>", None, 7, "x", [], {"k": 1}, True]))
        if replacement == "<delete>":
            del event[key]
        elif key == "isBase64Encoded" and replacement is True:
            event[key] = "yes"
        else:
            event[key] = replacement
    context = event.get("requestContext")
    if isinstance(context, dict) and draw(st.booleans()):
        if "http" in context:
            context["http"] = draw(st.sampled_from([None, {}, {"method": 5}, "GET"]))
            if draw(st.booleans()):
                context.pop("stage")
        else:
            context.pop("stage", None)
            event["httpMethod"] = draw(st.sampled_from([None, "", "get", "GE T", 3]))
    return event


@st.composite
def events(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["request", "request", "damaged", "junk"]))
    if kind == "junk":
        return draw(st.sampled_from([None, [], "GET /", 42, {}, {"version": "2.0"}]))
    event = draw(requests())
    return wrong_types(event, draw) if kind == "damaged" else event


def state(container: Container) -> object:
    """Everything a request could have written: every document and index, and every job the
    backend accepted."""
    store = container.document_store()
    documents = {
        database: {
            name: (store.describe_collection(database, name), store.find(database, name))
            for name in store.list_collections(database)
        }
        for database in store.list_databases()
    }
    return documents, len(container.job_runner().submitted)


@pytest.fixture(scope="module")
def container() -> Container:
    return provisioned_memory_container("acme", "weather", "bank-reports")


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event=events())
def test_malformed_events_never_get_a_5xx_and_write_nothing(
    container: Container, event: object
) -> None:
    handlers = LambdaHandlers(container)
    before = state(container)

    response = handlers.api(event, None)

    status = response["statusCode"]
    assert 200 <= status < 500, (_shown(event), response)
    body = json.loads(response["body"])
    label(f"{status} {body['error']['code']}" if status >= 400 else str(status))
    if status >= 400:
        assert set(body) == {"error"}
        assert isinstance(body["error"]["code"], str)
        assert isinstance(body["error"]["message"], str)
    assert state(container) == before, (_shown(event), response)


def _shown(event: object) -> object:
    if isinstance(event, dict):
        return {k: event.get(k) for k in ("httpMethod", "rawPath", "path", "body", "headers")}
    return event


SMALL_LIMIT = 1024


@pytest.fixture(scope="module")
def small_limit() -> Container:
    container = memory_container(Settings(max_payload_bytes=SMALL_LIMIT))
    container.provisioning().apply("acme", "weather")
    return container


@settings(max_examples=60, deadline=None)
@given(
    text=st.integers(min_value=SMALL_LIMIT - 40, max_value=SMALL_LIMIT * 3),
    big_numbers=st.integers(min_value=0, max_value=60),
    base64=st.booleans(),
)
def test_a_body_over_the_limit_is_413_and_writes_nothing(
    small_limit: Container, text: int, big_numbers: int, base64: bool
) -> None:
    """Over the limit as sent, or once canonical (``9e18`` is 19 digits as an integer)."""
    body = '{"a": "' + "x" * text + '", "n": [' + ", ".join(["9e18"] * big_numbers) + "]}"
    event = http_event("POST", "/tenants/acme/connectors/weather/jobs/ingest", body=body)
    if base64:
        event["body"] = b64encode(body.encode()).decode()
        event["isBase64Encoded"] = True
    before = state(small_limit)

    response = LambdaHandlers(small_limit).api(event, None)

    canonical = len(canonical_json(json.loads(body)).encode())
    if len(body) > SMALL_LIMIT or canonical > SMALL_LIMIT:
        assert response["statusCode"] == 413, (len(body), canonical)
        assert json.loads(response["body"])["error"]["code"] == "payload_too_large"
        assert state(small_limit) == before
    else:
        assert response["statusCode"] in (200, 202)


RUN_FIELDS = st.sampled_from(["params", "source_url", "process", "idempotency_key", "period", ""])
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.sampled_from(HOSTILE),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def datasets() -> Container:
    return provisioned_memory_container("acme", "bank-reports")


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(bad_starts, st.dictionaries(RUN_FIELDS, ANY_JSON, max_size=3).map(json.dumps)),
    build=st.sampled_from([rest_event, http_event]),
)
def test_any_run_body_starts_a_run_or_is_4xx_writing_nothing(
    datasets: Container, body: str, build: Callable[..., dict[str, Any]]
) -> None:
    path = "/tenants/acme/connectors/bank-reports/datasets/call-reports/runs"
    before = state(datasets)

    response = LambdaHandlers(datasets).api(build("POST", path, body=body), None)

    status = response["statusCode"]
    answer = json.loads(response["body"])
    label(f"{status} {answer['error']['code']}" if status >= 400 else str(status))
    assert 200 <= status < 500, (body, answer)
    if status >= 400:
        assert set(answer) == {"error"}
        assert state(datasets) == before, body
    else:
        assert answer["status"] == "GATHERING"
        assert datasets.datasets().run("acme", answer["run_id"]).run_id == answer["run_id"]
