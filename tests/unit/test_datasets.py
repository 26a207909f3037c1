"""Dataset definitions: sources, raw folder names, sinks and Hive-style partitions."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.dataset_parsing import parse_dataset
from overlord.domain.datasets import (
    ApiSource,
    CollectionTarget,
    Dataset,
    Granularity,
    Partitioning,
    RawLayout,
    ScrapeSource,
    ScrapeStep,
    StepAction,
    TableTarget,
    partition_key,
)
from overlord.domain.errors import InvalidInput, InvalidName, InvalidTemplate

BANK_REPORTS: dict[str, Any] = {
    "name": "call-reports",
    "cadence": "cron(0 6 ? * MON *)",
    "timezone": "America/New_York",
    "cleaner": "bank-reports",
    "raw_layout": "{table}__{date}",
    "source": {
        "type": "scrape",
        "page_url": "https://cdr.example.gov/public/DownloadBulkData.aspx",
        "steps": [
            {"action": "click", "selector": "#ListBox1 option[value=ReportingSeriesSinglePeriod]"},
            {"action": "wait_for", "selector": "#Download_0", "timeout_seconds": 30},
            {"action": "click", "selector": "#Download_0"},
            {"action": "wait_for_download", "timeout_seconds": 600},
        ],
        "file_pattern": "*.zip",
    },
    "sink": {"type": "table", "table": "{table}", "keys": ["idrssd", "report_date"]},
    "partitioning": {"column": "report_date", "granularity": "day"},
}

# The same site gathered with the recipe steps of issue 11: a product, a period, a layout picked
# from the job's values, a format, and the site's own error messages retried.
BULK: dict[str, Any] = {
    **BANK_REPORTS,
    "source": {
        "type": "scrape",
        "page_url": "https://cdr.example.gov/public/DownloadBulkData.aspx",
        "error_selector": "#ErrorMessage",
        "retries": 5,
        "retry_seconds": 0.5,
        "steps": [
            {"action": "choose", "selector": "#ReportingSeriesSinglePeriod"},
            {"action": "select_period", "selector": "#DatesDropDownList", "format": "%m/%d/%Y"},
            {"action": "select", "selector": "#Layout", "value": "{layout}"},
            {"action": "select", "selector": "#Series", "text": "Call Reports ({form})"},
            {"action": "choose", "selector": "#ExportFormat_XBRL"},
            {"action": "wait_for", "selector": "#Download_0", "state": "enabled"},
            {"action": "click", "selector": "#Download_0", "timeout_seconds": 30},
            {"action": "wait_for_download", "timeout_seconds": 600},
        ],
        "file_pattern": "*.zip",
    },
}

WEATHER: dict[str, Any] = {
    "name": "observations",
    "cadence": "rate(7 minutes)",
    "cleaner": "weather",
    "raw_layout": "{table}__{station}__{window}",
    "source": {
        "type": "api",
        "url_template": "https://api.example.com/stations/{station}/observations",
        "params": {"start": "{start}", "format": "json"},
    },
    "sink": {"type": "collection", "collection": "observations", "keys": ["station_id", "at"]},
}


def test_a_scraped_dataset_is_read_whole() -> None:
    dataset = parse_dataset(BANK_REPORTS)
    assert isinstance(dataset.source, ScrapeSource)
    assert [s.action for s in dataset.source.steps] == [
        StepAction.CLICK,
        StepAction.WAIT_FOR,
        StepAction.CLICK,
        StepAction.WAIT_FOR_DOWNLOAD,
    ]
    assert dataset.source.steps[3].timeout_seconds == 600
    assert dataset.source.matches("FFIEC_Call_2024.zip")
    assert not dataset.source.matches("notes.txt")
    assert dataset.sink == TableTarget("{table}", ("idrssd", "report_date"))
    assert dataset.partitioning == Partitioning("report_date", Granularity.DAY)
    assert dataset.timezone == "America/New_York"


def test_an_api_dataset_is_read_whole_with_defaults() -> None:
    dataset = parse_dataset(WEATHER)
    assert dataset.source == ApiSource(
        "https://api.example.com/stations/{station}/observations",
        (("start", "{start}"), ("format", "json")),
    )
    assert dataset.sink == CollectionTarget("observations", ("station_id", "at"))
    assert (dataset.timezone, dataset.partitioning) == ("UTC", None)


def test_an_api_url_is_filled_with_encoded_values_that_cannot_change_its_shape() -> None:
    source = parse_dataset(WEATHER).source
    assert isinstance(source, ApiSource)
    assert source.placeholders == {"station", "start"}
    url = source.render({"station": "../K SEA?x=1", "start": "2026-01-05T09:30:00+00:00"})
    assert url == (
        "https://api.example.com/stations/..%2FK%20SEA%3Fx%3D1/observations"
        "?start=2026-01-05T09%3A30%3A00%2B00%3A00&format=json"
    )
    with pytest.raises(InvalidInput, match="start"):
        source.render({"station": "KSEA"})


def test_a_raw_folder_name_says_which_table_it_feeds() -> None:
    folder = RawLayout("{table}__{date}").parse("call_reports__2024-03-31")
    assert folder.table == "call_reports"
    assert dict(folder.values) == {"table": "call_reports", "date": "2024-03-31"}
    assert TableTarget("rc_{table}", ("id",)).table_for(folder) == "rc_call_reports"


@pytest.mark.parametrize(
    "name",
    [
        "call_reports",
        "call_reports__",
        "__2024",
        "call_reports__2024__x",
        "call reports__2024",
        "../x__2024",
        "a/b__2024",
        "call_reports__2024\n",
        "",
    ],
)
def test_a_folder_name_that_does_not_match_the_layout_is_refused(name: str) -> None:
    with pytest.raises(InvalidName, match="does not match"):
        RawLayout("{table}__{date}").parse(name)


values = st.from_regex(r"[A-Za-z0-9]{1,5}(?:[-_.][A-Za-z0-9]{1,5}){0,3}", fullmatch=True)


@given(table=values, station=values, window=values)
def test_a_folder_named_by_a_layout_parses_back_to_the_same_values(
    table: str, station: str, window: str
) -> None:
    layout = RawLayout("{table}__{station}--{window}")
    given_values = {"table": table, "station": station, "window": window}
    assert dict(layout.parse(layout.folder(given_values)).values) == given_values


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("{table}_{date}", "between placeholders"),
        ("{table}{date}", "between placeholders"),
        ("{table}.v1.{date}", "between placeholders"),
        ("{date}", "{table}"),
        ("{table}__{table}", "distinct"),
        ("raw/{table}", "one-folder"),
        ("{0}__{table}", "placeholders as {name}"),
        ("{table!r}", "placeholders as {name}"),
        ("{table}__{date", "{table}__{date"),
    ],
)
def test_a_layout_that_could_read_a_name_two_ways_or_lacks_the_table_is_refused(
    pattern: str, reason: str
) -> None:
    with pytest.raises(InvalidTemplate, match=reason.replace("{", r"\{").replace("}", r"\}")):
        RawLayout(pattern)


def test_a_table_named_from_a_folder_must_still_be_a_plain_identifier() -> None:
    folder = RawLayout("{table}__{date}").parse("rc-b__2024")
    with pytest.raises(InvalidName, match="'rc-b'"):
        TableTarget("{table}", ("id",)).table_for(folder)


@pytest.mark.parametrize(
    ("granularity", "key"),
    [
        (Granularity.YEAR, "year=2026"),
        (Granularity.MONTH, "year=2026/month=11"),
        (Granularity.DAY, "year=2026/month=11/day=22"),
        (Granularity.HOUR, "year=2026/month=11/day=22/hour=08"),
        (Granularity.MINUTE, "year=2026/month=11/day=22/hour=08/minute=05"),
    ],
)
def test_a_partition_key_goes_as_deep_as_its_granularity(
    granularity: Granularity, key: str
) -> None:
    assert partition_key(datetime(2026, 11, 22, 8, 5, 59), granularity) == key


def test_an_aware_time_is_partitioned_by_its_utc_instant() -> None:
    new_york_evening = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert Partitioning("at", Granularity.HOUR).key(new_york_evening) == (
        "year=2027/month=01/day=01/hour=04"
    )


@given(st.datetimes(timezones=st.none() | st.just(UTC)), st.sampled_from(list(Granularity)))
def test_a_partition_key_names_the_time_it_came_from(moment: datetime, grain: Granularity) -> None:
    key = partition_key(moment, grain)
    parts = dict(part.split("=") for part in key.split("/"))
    assert list(parts) == [g.value for g in Granularity][: len(parts)]
    assert parts.keys() == {
        g.value for g in list(Granularity)[: list(Granularity).index(grain) + 1]
    }
    for name, value in parts.items():
        assert int(value) == getattr(moment, name)
        assert len(value) == (4 if name == "year" else 2)


def test_steps_must_end_in_a_download_and_selectors_go_where_they_mean_something() -> None:
    with pytest.raises(InvalidTemplate, match="wait_for_download"):
        ScrapeSource("https://x.example", (ScrapeStep(StepAction.CLICK, "#a"),), "*.zip")
    with pytest.raises(InvalidTemplate, match="needs selector"):
        ScrapeStep(StepAction.CLICK)
    with pytest.raises(InvalidTemplate, match="takes no selector"):
        ScrapeStep(StepAction.WAIT_FOR_DOWNLOAD, "#a")


def with_change(base: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


DELETE = object()
B = BANK_REPORTS
MISTAKES = {
    "missing name": (with_change(B, ["name"], DELETE), "name: missing"),
    "unknown field": (with_change(B, ["source", "pageurl"], "x"), "source.pageurl: unknown field"),
    "bad cadence": (with_change(B, ["cadence"], "daily"), "cadence: expression 'daily'"),
    "one-time cadence": (
        with_change(B, ["cadence"], "at(2026-03-01T06:00:00)"),
        "cadence: a cadence recurs",
    ),
    "cadence out of range": (
        with_change(B, ["cadence"], "cron(0 25 ? * MON *)"),
        "cadence: expression 'cron(0 25 ? * MON *)': hours value '25' is outside 0-23",
    ),
    "bad timezone": (with_change(B, ["timezone"], "Mars/Base"), "timezone: timezone"),
    "unknown source type": (with_change(B, ["source", "type"], "ftp"), "source.type:"),
    "source not a table": (with_change(B, ["source"], "https://x"), "source.type:"),
    "not a web page": (with_change(B, ["source", "page_url"], "file:///etc"), "source.page_url:"),
    "click without selector": (
        with_change(B, ["source", "steps", 0, "selector"], DELETE),
        "source.steps[0]: a click step needs selector",
    ),
    "unknown step action": (
        with_change(B, ["source", "steps", 1, "action"], "hover"),
        "source.steps[1].action: expected one of",
    ),
    "timeout out of range": (
        with_change(B, ["source", "steps", 3, "timeout_seconds"], 0),
        "source.steps[3].timeout_seconds:",
    ),
    "no download step": (
        with_change(B, ["source", "steps"], [{"action": "click", "selector": "#a"}]),
        "source.steps: add a wait_for_download step",
    ),
    "file pattern with a folder": (
        with_change(B, ["source", "file_pattern"], "../*.zip"),
        "source.file_pattern:",
    ),
    "ambiguous layout": (with_change(B, ["raw_layout"], "{table}_{date}"), "raw_layout:"),
    "cleaner not a slug": (with_change(B, ["cleaner"], "bank.clean"), "cleaner:"),
    "table sink without keys": (with_change(B, ["sink", "keys"], []), "sink.keys:"),
    "key not a column name": (with_change(B, ["sink", "keys"], ["report date"]), "sink.keys:"),
    "table from a missing field": (
        with_change(B, ["sink", "table"], "{region}_{table}"),
        "sink.table: the raw layout has no {region}",
    ),
    "table not an identifier": (with_change(B, ["sink", "table"], "call-reports"), "sink.table:"),
    "bad granularity": (
        with_change(B, ["partitioning", "granularity"], "week"),
        "partitioning.granularity: expected one of year, month, day, hour, minute",
    ),
    "bad partition column": (
        with_change(B, ["partitioning", "column"], "1st"),
        "partitioning.column:",
    ),
    "api url not http": (
        with_change(WEATHER, ["source", "url_template"], "ftp://x/{station}"),
        "source.url_template: url_template 'ftp://x/{station}' is not an http(s) URL",
    ),
    "api host from a placeholder": (
        with_change(WEATHER, ["source", "url_template"], "https://{station}.example.com/obs"),
        "source.url_template: url_template 'https://{station}.example.com/obs': the host must",
    ),
    "api param not a string": (
        with_change(WEATHER, ["source", "params", "start"], 5),
        "source.params.start: expected a string",
    ),
    "api placeholder with an index": (
        with_change(WEATHER, ["source", "url_template"], "https://x/{0}"),
        "source.url_template:",
    ),
    "api param with a broken placeholder": (
        with_change(WEATHER, ["source", "params", "start"], "{start"),
        "source.params.start:",
    ),
    "collection not a slug": (
        with_change(WEATHER, ["sink", "collection"], "$cmd"),
        "sink.collection:",
    ),
    "select without an option": (
        with_change(BULK, ["source", "steps", 2, "value"], DELETE),
        "source.steps[2]: a select step needs exactly one of value or text",
    ),
    "select with value and text": (
        with_change(BULK, ["source", "steps", 3, "value"], "call"),
        "source.steps[3]: a select step needs exactly one of value or text",
    ),
    "select with a broken placeholder": (
        with_change(BULK, ["source", "steps", 2, "value"], "{layout"),
        "source.steps[2]: '{layout'",
    ),
    "select with an indexed placeholder": (
        with_change(BULK, ["source", "steps", 2, "value"], "{0}"),
        "source.steps[2]: '{0}': write placeholders as {name}",
    ),
    "value on a click": (
        with_change(BULK, ["source", "steps", 6, "value"], "x"),
        "source.steps[6]: a click step takes no value",
    ),
    "format on a select": (
        with_change(BULK, ["source", "steps", 2, "format"], "%Y"),
        "source.steps[2]: a select step takes no format",
    ),
    "state on a choose": (
        with_change(BULK, ["source", "steps", 0, "state"], "visible"),
        "source.steps[0]: a choose step takes no state",
    ),
    "select_period without format": (
        with_change(BULK, ["source", "steps", 1, "format"], DELETE),
        "source.steps[1]: a select_period step needs format",
    ),
    "format without a date": (
        with_change(BULK, ["source", "steps", 1, "format"], "Q%q"),
        "source.steps[1]: format 'Q%q': expected a strptime date format",
    ),
    "format strptime cannot read": (
        with_change(BULK, ["source", "steps", 1, "format"], "%Y %"),
        "source.steps[1]: format '%Y %':",
    ),
    "two periods": (
        with_change(
            BULK,
            ["source", "steps", 0],
            {"action": "select_period", "selector": "#p", "format": "%Y"},
        ),
        "source.steps: one select_period step at most",
    ),
    "unknown wait state": (
        with_change(BULK, ["source", "steps", 5, "state"], "clickable"),
        "source.steps[5].state: expected one of present, visible, enabled",
    ),
    "wait_for_download with a selector": (
        with_change(BULK, ["source", "steps", 7, "selector"], "#a"),
        "source.steps[7]: a wait_for_download step takes no selector",
    ),
    "too many retries": (
        with_change(BULK, ["source", "retries"], 11),
        "source.retries: expected an integer from 0 to 10",
    ),
    "retries not a number": (
        with_change(BULK, ["source", "retries"], "3"),
        "source.retries: expected an integer",
    ),
    "negative retry wait": (
        with_change(BULK, ["source", "retry_seconds"], -1),
        "source.retry_seconds: expected a number from 0 to 600",
    ),
    "empty error selector": (
        with_change(BULK, ["source", "error_selector"], ""),
        "source.error_selector: expected a non-empty string",
    ),
    "blank error selector": (
        with_change(BULK, ["source", "error_selector"], "  "),
        "source.error_selector: expected a CSS selector",
    ),
}


@pytest.mark.parametrize(("data", "message"), MISTAKES.values(), ids=MISTAKES.keys())
def test_each_mistake_in_a_dataset_names_its_path(data: object, message: str) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        parse_dataset(data)
    assert caught.value.message.startswith(message), caught.value.message


def test_a_dataset_inside_a_template_names_its_place_in_it() -> None:
    with pytest.raises(InvalidTemplate, match=r"^datasets\[2\]\.cadence:"):
        parse_dataset(with_change(B, ["cadence"], "daily"), "datasets[2]")


def test_a_dataset_built_directly_is_checked_like_a_parsed_one() -> None:
    good = parse_dataset(BANK_REPORTS)
    with pytest.raises(InvalidTemplate):
        Dataset(
            name=good.name,
            source=good.source,
            cadence="rate(0 minutes)",
            raw_layout=good.raw_layout,
            cleaner=good.cleaner,
            sink=good.sink,
        )
    with pytest.raises(InvalidTemplate, match="layout lacks"):
        Dataset(
            name=good.name,
            source=good.source,
            cadence=good.cadence,
            raw_layout=good.raw_layout,
            cleaner=good.cleaner,
            sink=TableTarget("{region}", ("id",)),
        )


json_ish = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["scrape", "api", "table", "collection", "{table}", "https://x.example"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


@given(
    base=st.sampled_from([BANK_REPORTS, BULK, WEATHER]).flatmap(
        lambda b: st.tuples(st.just(b), st.sampled_from(paths(b)))
    ),
    garbage=json_ish,
)
def test_garbage_anywhere_in_a_dataset_is_refused_only_as_an_invalid_template(
    base: tuple[dict[str, Any], tuple[Any, ...]], garbage: object
) -> None:
    data = with_change(base[0], list(base[1]), garbage)
    try:
        parse_dataset(data)
    except InvalidTemplate:
        pass


@given(json_ish)
def test_arbitrary_data_is_refused_only_as_an_invalid_template(data: object) -> None:
    try:
        parse_dataset(data)
    except InvalidTemplate:
        pass
