"""Parsing API recipes from TOML-shaped data, and reading Link headers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.adapters.http.links import parse_link_header
from overlord.domain.api_recipes import ApiEntities, PaginationStyle, WindowFormat
from overlord.domain.dataset_parsing import _source
from overlord.domain.datasets import ApiSource
from overlord.domain.errors import InvalidInput, InvalidTemplate

URL = "https://api.example.com/v1/observations"


def parse(**fields: Any) -> ApiSource:
    parsed = _source({"type": "api", "url_template": URL, **fields}, "datasets[0].source")
    assert isinstance(parsed, ApiSource)
    return parsed


def test_a_full_recipe_is_read() -> None:
    recipe = parse(
        params={"start": "{start}", "end": "{end}", "station": "{station}"},
        auth={"secret": "WEATHER_API", "header": "X-Api-Key"},
        pagination={"style": "token", "token": "meta.next_token", "param": "page_token"},
        max_pages=50,
        records="features",
        time_field="properties.timestamp",
        rate_per_second=2.5,
        timeout_seconds=20,
        window={"format": "epoch", "max_span": "PT1H"},
        entities={"param": "station", "from": "stations"},
    )
    assert recipe.auth is not None
    assert recipe.auth.header == "X-Api-Key"
    assert recipe.pagination is not None
    assert recipe.pagination.style is PaginationStyle.TOKEN
    assert recipe.window is not None
    assert (recipe.window.format, recipe.window.max_span) == (
        WindowFormat.EPOCH,
        timedelta(hours=1),
    )
    assert recipe.entities == ApiEntities("station", "stations")
    assert (recipe.max_pages, recipe.rate_per_second, recipe.timeout_seconds) == (50, 2.5, 20.0)


def test_the_existing_recipe_still_reads() -> None:
    assert parse(params={"day": "{day}"}) == ApiSource(URL, (("day", "{day}"),))


def test_a_span_in_seconds_is_a_timedelta() -> None:
    assert parse(window={"max_span": 900}).window.max_span == timedelta(minutes=15)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"auth": {"secret": "K", "header": "X", "query": "k"}}, "source.auth"),
        ({"auth": {"secret": "bad name", "header": "X"}}, "source.auth"),
        ({"auth": {"secret": "K", "header": "X", "value": "v"}}, "source.auth.value"),
        ({"records": "a", "pagination": {"style": "scroll"}}, "source.pagination.style"),
        ({"records": "a", "pagination": {"style": "token", "param": "p"}}, "source.pagination"),
        (
            {"records": "a", "pagination": {"style": "link_header", "param": "p"}},
            "pagination.param",
        ),
        ({"pagination": {"style": "link_header"}}, "source"),
        ({"records": "a..b"}, "source.records"),
        ({"time_field": ""}, "source.time_field"),
        ({"rate_per_second": 0}, "source.rate_per_second"),
        ({"window": {"max_span": "1 hour"}}, "source.window.max_span"),
        ({"window": {"max_span": -5}}, "source.window.max_span"),
        ({"window": {"format": "unix"}}, "source.window.format"),
        ({"records": "a", "entities": {"param": "station"}}, "source.entities.from"),
        ({"max_pages": 0}, "source.max_pages"),
    ],
)
def test_a_malformed_recipe_names_its_path(fields: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidTemplate, match=path.replace(".", r"\.")):
        parse(**fields)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "auth",
                "pagination",
                "records",
                "time_field",
                "window",
                "entities",
                "rate_per_second",
                "max_pages",
            ]
        ),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=8),
            st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
        ),
        min_size=1,
    )
)
def test_any_malformed_recipe_is_invalid_template_never_a_crash(fields: dict[str, Any]) -> None:
    message = "datasets[0].source"
    try:
        parse(**fields)
    except InvalidTemplate as exc:
        message = exc.message
    assert message.startswith("datasets[0].source")


def test_entities_come_from_a_comma_separated_string_or_a_list() -> None:
    entities = ApiEntities("station", "stations")
    assert entities.each({"stations": "KSEA, KPDX,,KSEA"}) == ["KSEA", "KPDX"]
    assert entities.each({"stations": ["KBOI"]}) == ["KBOI"]
    with pytest.raises(InvalidInput, match="stations"):
        entities.each({})


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["next", "prev", "last"]),
            st.from_regex(r"https://a\.b/[a-z0-9?=&]{0,12}", fullmatch=True),
        ),
        max_size=4,
    )
)
def test_a_link_header_gives_each_relation_its_first_uri(links: list[tuple[str, str]]) -> None:
    header = ", ".join(f'<{uri}>; rel="{rel}"' for rel, uri in links)
    expected: dict[str, str] = {}
    for rel, uri in links:
        expected.setdefault(rel, uri)
    assert parse_link_header(header) == expected


@given(st.text(max_size=80))
def test_any_link_header_text_parses_without_crashing(text: str) -> None:
    assert isinstance(parse_link_header(text), dict)
