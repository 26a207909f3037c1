"""The document rules' fast check decides exactly as the path-aware one does.

`plain_copy` walks documents with a fast check and hands anything unusual to the slow one
(which names the offending path); whatever the document, both must accept the same documents
and produce the same plain copy, or a store would accept what the contract refuses."""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.adapters.document_rules import _plain, dump, plain_copy
from overlord.domain.errors import InvalidInput


class Colour(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(), max_size=5),
    st.sampled_from(["\x00", "\ud800", "é", "$x", Colour.RED, Size.BIG, b"x", {1}]),
)
KEYS = st.one_of(st.text(max_size=4), st.sampled_from(["$a", "a\x00", "\udfff", 1, Colour.RED]))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(KEYS, inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=4).map(OrderedDict),
    ),
    max_leaves=20,
)


def slow(value: Any) -> object:
    return _plain(value, "document", 0)


@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_the_fast_check_agrees_with_the_slow_one(document: dict[Any, Any]) -> None:
    try:
        expected = slow(document)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            plain_copy(document)
        return
    copied = plain_copy(document)
    assert copied == expected
    # The copy is plain JSON already: encoding it and reading it back changes nothing.
    assert json.loads(dump(copied)) == copied
    assert all(type(key) is str for key in copied)


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(("depth", "valid"), [(100, True), (101, False)])
def test_depth_is_decided_at_the_limit(depth: int, valid: bool) -> None:
    document = {"_id": "a", "deep": nested(depth), "n": math.pi}
    if valid:
        assert plain_copy(document) == document
    else:
        with pytest.raises(InvalidInput, match="deeper"):
            plain_copy(document)


def test_the_copy_shares_no_container_and_holds_exact_types() -> None:
    inner = {"x": [1, 2]}
    document = {"_id": "a", "inner": inner, "tags": ("a", Colour.RED), "size": Size.BIG}
    copied = plain_copy(document)
    assert copied == {"_id": "a", "inner": {"x": [1, 2]}, "tags": ["a", "red"], "size": 3}
    assert copied["inner"] is not inner
    assert copied["inner"]["x"] is not inner["x"]
    assert type(copied["tags"][1]) is str
    assert type(copied["size"]) is int
