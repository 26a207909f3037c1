"""Names that pass validation can only produce valid, non-escaping backend names.

The backend rules are written out here from AWS's and MongoDB's documentation, independently of
the product's slug regex, so that a mistake in one is not repeated in the other.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from overlord.domain.errors import InvalidName
from overlord.domain.names import (
    ConnectorName,
    LocalName,
    Namespace,
    ResourceNames,
    TenantName,
    schedule_group,
    slug,
    tenant_database,
    validate_object_key,
)

LETTERS = "abcdefghijklmnopqrstuvwxyz"
ALNUM = LETTERS + "0123456789"


@st.composite
def slugs(draw: st.DrawFn, low: int, high: int) -> str:
    """Any word of the documented grammar: lowercase letters, digits and single hyphens,
    starting with a letter and ending with a letter or digit, with the edge lengths favoured."""
    length = draw(st.one_of(st.just(low), st.just(high), st.integers(low, high)))
    chars = [draw(st.sampled_from(LETTERS))]
    for _ in range(length - 2):
        pool = list(ALNUM) if chars[-1] == "-" else [*ALNUM, *"-" * 8]
        chars.append(draw(st.sampled_from(pool)))
    chars.append(draw(st.sampled_from(ALNUM)))
    return "".join(chars)


tenants = slugs(3, 32)
# S3 reserves the bucket suffix "-s3alias", and a connector ends the bucket name.
connectors = slugs(3, 18).filter(lambda c: not c.endswith("s3alias"))
local_names = slugs(2, 32)


def is_s3_bucket(name: str) -> bool:
    """General purpose bucket naming rules (docs.aws.amazon.com/AmazonS3/.../bucketnamingrules)."""
    return (
        3 <= len(name) <= 63
        and re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name) is not None
        and ".." not in name
        and re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){3}", name) is None
        and not name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        and not name.endswith(("-s3alias", "--ol-s3", "--x-s3", "--table-s3"))
    )


def is_mongo_database(name: str) -> bool:
    return (
        0 < len(name.encode("utf-8")) < 64
        and not any(ch in '/\\. "$*<>:|?' for ch in name)
        and "\x00" not in name
    )


def is_mongo_collection(name: str) -> bool:
    return bool(name) and "$" not in name and "\x00" not in name and not name.startswith("system.")


def is_dynamodb_table(name: str) -> bool:
    return re.fullmatch(r"[a-zA-Z0-9_.-]{3,255}", name) is not None


def is_batch_resource(name: str) -> bool:
    """Compute environment, job queue and job definition names."""
    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", name) is not None


def is_batch_share_identifier(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_]{1,255}", name) is not None


def is_scheduler_name(name: str) -> bool:
    """EventBridge Scheduler schedule and schedule group names."""
    return re.fullmatch(r"[0-9a-zA-Z_.-]{1,64}", name) is not None


def test_the_test_validators_refuse_what_the_backends_refuse() -> None:
    assert not is_s3_bucket("192.168.1.1")
    assert not is_s3_bucket("xn--bucket")
    assert not is_s3_bucket("bucket-s3alias")
    assert not is_s3_bucket("Bucket")
    assert not is_mongo_database("a.b")
    assert not is_mongo_collection("system.users")
    assert not is_batch_resource("-queue")
    assert not is_batch_share_identifier("acme-corp")
    assert not is_scheduler_name("a" * 65)


@given(tenant=tenants, connector=connectors, local=local_names)
@example(tenant="a" * 32, connector="c" * 18, local="l" * 32)
@example(tenant="a-0", connector="s-3", local="x9")
def test_every_derived_name_is_valid_on_every_backend(
    tenant: str, connector: str, local: str
) -> None:
    namespace = Namespace()
    names = ResourceNames(namespace, TenantName(tenant), ConnectorName(connector))

    assert is_s3_bucket(names.bucket)
    assert is_mongo_database(names.database)
    assert is_mongo_database(tenant_database(namespace, TenantName(tenant)))
    collection = names.collection(local)
    assert is_mongo_collection(collection)
    assert is_dynamodb_table(f"{names.database}.{collection}")
    for batch_name in (names.dedicated, names.job_definition, names.pool(local)):
        assert is_batch_resource(batch_name)
    assert is_batch_share_identifier(names.share_identifier)
    assert is_scheduler_name(names.schedule(local))
    assert is_scheduler_name(names.schedule_group)
    assert is_scheduler_name(schedule_group(namespace, TenantName(tenant)))


@given(first=tenants, second=tenants)
def test_distinct_tenants_never_share_a_database_bucket_or_share_identifier(
    first: str, second: str
) -> None:
    if first == second:
        return
    a = ResourceNames(Namespace(), TenantName(first), ConnectorName("weather"))
    b = ResourceNames(Namespace(), TenantName(second), ConnectorName("weather"))
    assert a.database != b.database
    assert a.bucket != b.bucket
    assert a.share_identifier != b.share_identifier


def matches_grammar(value: str, low: int, high: int) -> bool:
    return (
        low <= len(value) <= high
        and re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", value) is not None
        and "--" not in value
    )


@given(st.text(max_size=40).filter(lambda v: not matches_grammar(v, 3, 32)))
def test_any_text_outside_the_grammar_is_not_a_tenant_name(value: str) -> None:
    with pytest.raises(InvalidName):
        TenantName(value)


@given(
    st.text(alphabet=ALNUM + "-_.A", max_size=24).filter(lambda v: not matches_grammar(v, 3, 18))
)
def test_near_miss_connector_names_are_refused(value: str) -> None:
    with pytest.raises(InvalidName):
        ConnectorName(value)


HOSTILE = [
    "../x",
    "x/../y",
    "$where",
    "ACME",
    "Acme",
    "\u0430cme",  # Cyrillic small a
    "acm\u0435",  # Cyrillic small ie
    "\uff41cme",  # fullwidth small a
    "acm\u00e9",  # Latin e with acute
    "acme-",
    "-acme",
    "ac--me",
    "1acme",
    "ac",
    "a" * 33,
    "",
    "acme\n",
    "ac me",
    "ac.me",
    "ac_me",
    "acme\x00",
    "system.users",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_tenant_names_are_refused(value: str) -> None:
    with pytest.raises(InvalidName):
        TenantName(value)


@pytest.mark.parametrize("value", [None, 42, b"acme", ["acme"]])
def test_a_name_that_is_not_a_string_is_refused(value: object) -> None:
    with pytest.raises(InvalidName, match="must be a string"):
        TenantName(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "value"),
    [
        (ConnectorName, "c" * 19),
        (ConnectorName, "s3alias"),
        (ConnectorName, "feed-s3alias"),
        (LocalName, "x"),
        (LocalName, "x" * 33),
        (Namespace, "o"),
        (Namespace, "overlord-xy"),
        (Namespace, "xn-test"),
        (Namespace, "sthree"),
        (Namespace, "amzn-demo"),
    ],
)
def test_names_outside_their_kind_s_limits_are_refused(make: type, value: str) -> None:
    with pytest.raises(InvalidName):
        make(value)


@pytest.mark.parametrize("value", ["../x", "Nightly", "a", "a--b", "x" * 33])
def test_derived_local_names_refuse_what_a_slug_refuses(value: str) -> None:
    names = ResourceNames(Namespace(), TenantName("acme"), ConnectorName("weather"))
    for derive in (names.collection, names.schedule, names.pool, lambda v: slug("task", v)):
        with pytest.raises(InvalidName):
            derive(value)


def test_an_invalid_name_message_says_what_is_allowed_and_truncates_long_input() -> None:
    with pytest.raises(InvalidName) as caught:
        TenantName("X" * 500)
    assert "3-32 lowercase letters" in caught.value.message
    assert len(caught.value.message) < 250


@pytest.mark.parametrize(
    "key", ["raw/2026/file.csv", "a", "folder/x.y/z", "clean/table=a/part-0.parquet"]
)
def test_ordinary_object_keys_are_kept(key: str) -> None:
    assert validate_object_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "a//b", "../x", "a/../b", "a/./b", "a/", "a\\b", "a\x00b", "a\nb", "é" * 600, 3],
)
def test_object_keys_that_could_escape_or_mean_two_things_are_refused(key: object) -> None:
    with pytest.raises(InvalidName):
        validate_object_key(key)
