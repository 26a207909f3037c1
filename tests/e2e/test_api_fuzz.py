"""Whatever API Gateway event arrives, the API answers without a 5xx, and a refusal writes
nothing.

Hypothesis builds REST and HTTP API events for every route with at least one thing wrong in
each request that could write: a hostile name (``../x``, ``$where``, look-alike letters, lone
surrogates), a body that is not a JSON object or is too large, a bad header or query, fields
missing or of the wrong type, an authorizer naming another tenant. The document store and the
backend's submissions are compared before and after every example.

An API dataset's window (a run's ``start``/``end``, a partition job's body, the partitions
query) is spelled every way a client might, offsets that overflow the calendar included; what
is accepted must reach the job's payload as the instants it names, to the second.
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
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
    ("GET", "/tenants/{tenant}/connectors/{connector}/datasets/{dataset}/partitions", "reads"),
    ("POST", "/tenants/{tenant}/connectors/{connector}/datasets/{dataset}/partitions", "rebuilds"),
]
VALID = {
    "tenant": ["acme", "beta"],
    "connector": ["weather", "marketplace", "bank-reports"],
    "dataset": ["call-reports", "rate-sheets", "observations"],
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
BAD_INSTANTS = [
    7,
    True,
    [],
    {},
    "",
    "yesterday",
    "2026-13-01T00:00:00Z",
    "2026-01-05T06:00:00+25:00",
    "9999-12-31T23:59:59-01:00",  # past year 9999 once in UTC
    "0001-01-01T00:30:00+01:00",  # before year 1 once in UTC
    "0999-12-31T00:00:00Z",
    "2026-01-05T06:00:00Z" + "0" * 40,
    "\ud800",
]
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
    # Never null: a null start or end is no window, and the rest of the body is a good start.
    "start": st.sampled_from([*BAD_INSTANTS, "2026-01-05T06:00:00Z"]),  # alone: no end
    "end": st.sampled_from([*BAD_INSTANTS, "2026-01-05T06:00:00Z"]),  # alone: no start
}
bad_starts = st.one_of(
    not_objects,
    st.sampled_from(sorted(WRONG_FIELDS)).flatmap(
        lambda name: WRONG_FIELDS[name].map(lambda value: json.dumps({**MARCH, name: value}))
    ),
)
# What a query string can carry (a lone surrogate cannot be percent-encoded).
QUERY_INSTANTS = [i for i in BAD_INSTANTS if isinstance(i, str) and i.isprintable()]
# A partition job's body with its window wrong, or a field it does not take.
WINDOW = {"start": "2026-01-05T06:00:00Z", "end": "2026-01-05T08:00:00Z"}
bad_windows = st.one_of(
    not_objects,
    st.sampled_from(["{}", '{"start": "2026-01-05T06:00:00Z"}', '{"end": "2026-01-05T06:00:00Z"}']),
    st.tuples(st.sampled_from(["start", "end"]), st.sampled_from([None, *BAD_INSTANTS])).map(
        lambda wrong: json.dumps({**WINDOW, wrong[0]: wrong[1]})
    ),
    st.just(json.dumps({"start": WINDOW["end"], "end": WINDOW["start"]})),
    st.just(json.dumps({"start": WINDOW["start"], "end": WINDOW["start"]})),
    st.sampled_from(["params", "idempotency_key", "window", ""]).map(
        lambda name: json.dumps({**WINDOW, name: "x"})
    ),
)
any_body = st.one_of(st.none(), st.just(""), st.just("{}"), st.just('{"n": 1}'), bad_payloads)
BAD_BODIES = {
    "provisions": not_objects,
    "submits": bad_payloads,
    "starts": bad_starts,
    "rebuilds": bad_windows,
}
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
    st.dictionaries(
        st.sampled_from(["start", "end"]),
        st.one_of(
            st.sampled_from([*QUERY_INSTANTS, *WINDOW.values()]),
            st.text(max_size=30),
        ),
        min_size=1,
    ),
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


RUN_FIELDS = st.sampled_from(
    ["params", "source_url", "process", "idempotency_key", "period", "start", "end", ""]
)
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


# An API dataset's window, spelled as a client might: every offset, naive (UTC), ``Z``,
# fractions of a second, the edges of the calendar where an offset overflows.
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
moments = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31),
    timezones=st.one_of(st.none(), offsets),
)
spelled = st.one_of(
    moments.map(lambda m: m.isoformat()),
    moments.map(lambda m: m.isoformat().replace("+00:00", "Z")),
    st.sampled_from([i for i in BAD_INSTANTS if isinstance(i, str)]),
)


# Windows a client would mostly ask for: a start, then an end a little before or after it.
@st.composite
def near_windows(draw: st.DrawFn) -> tuple[str, str]:
    start = draw(
        st.datetimes(
            min_value=datetime(1000, 1, 2),
            max_value=datetime(9990, 1, 1),
            timezones=st.one_of(st.none(), offsets),
        )
    )
    length = draw(st.timedeltas(min_value=timedelta(days=-1), max_value=timedelta(days=3000)))
    end = (start if start.tzinfo else start.replace(tzinfo=UTC)) + length
    return start.isoformat(), end.astimezone(draw(offsets)).isoformat()


OBSERVATIONS = "/tenants/acme/connectors/weather/datasets/observations"
MAX_SPAN = timedelta(hours=6)  # the observations recipe's; a window takes at most 10000 of them


def instant(text: str) -> datetime | None:
    """``text`` as the UTC instant to the second it must be read as, worked out apart from the
    code under test; None when it must be refused."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if not 1000 <= moment.year <= 9998 or len(text) > 40:
        return None
    return moment.replace(microsecond=0)


def expected_window(start: str, end: str, route: str) -> tuple[str, str] | None:
    """The window as the job's payload must spell it; None when it must be refused: a run's
    window is fetched in requests of the recipe's span, at most 10000 of them, and ends by now
    (a clock minutes off would not change which windows these draw refuses)."""
    first, last = instant(start), instant(end)
    if first is None or last is None or last <= first:
        return None
    if route == "runs" and (last - first) / MAX_SPAN > 10_000:
        return None
    if route == "runs" and last > datetime.now(UTC):
        return None
    return first.strftime("%Y-%m-%dT%H:%M:%SZ"), last.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def weather() -> Container:
    return provisioned_memory_container("acme", "weather")


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    window=st.one_of(st.tuples(spelled, spelled), near_windows()),
    route=st.sampled_from(["runs", "partitions"]),
    build=st.sampled_from([rest_event, http_event]),
)
def test_any_window_starts_a_run_or_a_partition_job_over_it_or_is_400_writing_nothing(
    weather: Container,
    window: tuple[str, str],
    route: str,
    build: Callable[..., dict[str, Any]],
) -> None:
    start, end = window
    body = json.dumps({"start": start, "end": end})
    before = state(weather)

    response = LambdaHandlers(weather).api(
        build("POST", f"{OBSERVATIONS}/{route}", body=body), None
    )

    status = response["statusCode"]
    answer = json.loads(response["body"])
    expected = expected_window(start, end, route)
    label(f"{route} {status}")
    if expected is None:
        assert status == 400, (body, answer)
        # A lone surrogate is refused with the body, before any field is read.
        assert answer["error"]["code"] in ("invalid_input", "malformed_request"), answer
        assert state(weather) == before, body
        return
    assert status in (200, 202), (body, answer)
    job_id = answer["run_id" if route == "runs" else "job_id"]
    payload = weather.jobs().get("acme", job_id).payload
    assert (payload["start"], payload["end"]) == expected


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=st.dictionaries(
        st.sampled_from(["start", "end", "status"]),
        spelled.filter(lambda text: text in QUERY_INSTANTS or text.isascii()),
        max_size=3,
    ),
    build=st.sampled_from([rest_event, http_event]),
)
def test_any_partitions_query_lists_them_or_is_400_and_never_writes(
    weather: Container, query: dict[str, str], build: Callable[..., dict[str, Any]]
) -> None:
    before = state(weather)

    response = LambdaHandlers(weather).api(
        build("GET", f"{OBSERVATIONS}/partitions", query=query), None
    )

    status = response["statusCode"]
    answer = json.loads(response["body"])
    label(str(status))
    bounds = [instant(query[name]) if name in query else None for name in ("start", "end")]
    readable = all(
        bounds[i] is not None for i, name in enumerate(("start", "end")) if name in query
    )
    first, last = bounds
    ordered = first is None or last is None or first < last
    if readable and ordered:
        assert status == 200, (query, answer)
        assert set(answer) == {"tenant", "connector", "dataset", "cursor", "partitions"}
    else:
        assert (status, answer["error"]["code"]) == (400, "invalid_input"), (query, answer)
    assert state(weather) == before
