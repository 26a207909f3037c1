"""Read a dataset definition from plain data, naming the path of whatever is wrong.

Kept apart from `overlord.domain.datasets` so the value classes stay readable on their own; the
template parser calls `parse_dataset` for each entry of a connector's ``datasets``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ParamSpec, TypeVar

from overlord.domain.api_recipe_parsing import API_FIELDS, api_recipe
from overlord.domain.dataset_files import FileTables
from overlord.domain.datasets import (
    ApiSource,
    CollectionTarget,
    Dataset,
    ElementState,
    Granularity,
    Partitioning,
    PartitionMode,
    PartitionTrigger,
    RawLayout,
    ScrapeSource,
    ScrapeStep,
    StepAction,
    TableTarget,
    check_glob,
    check_identifier,
    check_url,
    template_placeholders,
)
from overlord.domain.errors import InvalidInput, InvalidTemplate
from overlord.domain.expressions import at_time, validate_schedule_expression, validate_timezone
from overlord.domain.plain_data import Reader

T = TypeVar("T")
P = ParamSpec("P")
STEP_TEXTS = ("selector", "value", "text", "format")


def _make(path: str, build: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Build or check something, putting ``path`` in front of whatever it refuses."""
    try:
        return build(*args, **kwargs)
    except InvalidInput as exc:
        raise InvalidTemplate(f"{path}: {exc.message}") from None


def _kind(data: object, path: str, fields: Mapping[str, set[str]]) -> tuple[str, Reader]:
    kind = data.get("type") if isinstance(data, Mapping) else None
    if not isinstance(kind, str) or kind not in fields:
        raise InvalidTemplate(f"{path}.type: expected one of {', '.join(fields)}")
    return kind, Reader(data, path, {"type"} | fields[kind])


def _source(data: object, path: str) -> ScrapeSource | ApiSource:
    scrape = {"page_url", "steps", "file_pattern", "error_selector", "retries", "retry_seconds"}
    kind, r = _kind(data, path, {"scrape": scrape, "api": API_FIELDS})
    if kind == "api":
        params = r.mapping("params")
        for name, value in params.items():
            if not isinstance(value, str):
                raise InvalidTemplate(f"{r.at('params')}.{name}: expected a string")
            _make(f"{r.at('params')}.{name}", template_placeholders, value)
        url = r.text("url_template")
        _make(r.at("url_template"), ApiSource, url, tuple(params.items()))
        return _make(r.path, ApiSource, url, tuple(params.items()), **api_recipe(r))
    steps = [_step(item, f"{r.at('steps')}[{i}]") for i, item in enumerate(r.items("steps"))]
    _make(r.at("page_url"), check_url, "page_url", r.text("page_url"))
    _make(r.at("file_pattern"), check_glob, r.text("file_pattern"))
    error_selector = r.text("error_selector") if r.has("error_selector") else None
    if error_selector is not None and not error_selector.strip():
        raise InvalidTemplate(f"{r.at('error_selector')}: expected a CSS selector")
    return _make(
        r.at("steps"),
        ScrapeSource,
        r.text("page_url"),
        tuple(steps),
        r.text("file_pattern"),
        error_selector=error_selector,
        retries=r.integer("retries", 3, 0, 10),
        retry_seconds=r.number("retry_seconds", 2.0, 0, 600),
    )


def _step(item: object, path: str) -> ScrapeStep:
    s = Reader(item, path, {"action", "timeout_seconds", *STEP_TEXTS, "state"})
    action = s.choice("action", StepAction, StepAction.CLICK)
    texts = {name: s.text(name) for name in STEP_TEXTS if s.has(name)}
    state = s.choice("state", ElementState, ElementState.PRESENT) if s.has("state") else None
    timeout = s.integer("timeout_seconds", 60, 1, 3600)
    selector = texts.pop("selector", None)
    return _make(s.path, ScrapeStep, action, selector, timeout, state=state, **texts)


def _sink(data: object, path: str, layout: RawLayout) -> TableTarget | CollectionTarget:
    kinds = {"table": {"table", "keys", "period_column"}, "collection": {"collection", "keys"}}
    kind, r = _kind(data, path, kinds)
    keys = r.texts("keys", required=kind == "table")
    if kind == "collection":
        return CollectionTarget(r.slug("collection", "collection"), keys)
    for key in keys:
        _make(r.at("keys"), check_identifier, "key column", key)
    period_column = r.text("period_column") if r.has("period_column") else None
    if period_column is not None:
        _make(r.at("period_column"), check_identifier, "period column", period_column)
    sink = _make(r.at("table"), TableTarget, r.text("table"), keys, period_column)
    unknown = sorted(sink.placeholders - layout.fields)
    if unknown:
        raise InvalidTemplate(f"{r.at('table')}: the raw layout has no {{{unknown[0]}}}")
    return sink


def parse_dataset(data: object, path: str = "") -> Dataset:
    """Validate plain data as a dataset; raises `InvalidTemplate` naming the path.

    ``path`` is where the dataset sits in a larger document (``datasets[2]``).
    """
    known = {"name", "source", "cadence", "timezone", "raw_layout", "cleaner", "sink"}
    r = Reader(
        data, path, known | {"partitioning", "files", "gather_job", "process_job", "partition_job"}
    )
    for key in sorted(known - {"timezone"}):
        if not r.has(key):
            raise InvalidTemplate(f"{r.at(key)}: missing")
    partitioning = None
    if r.has("partitioning"):
        p = Reader(
            r.data["partitioning"],
            r.at("partitioning"),
            {"column", "granularity", "keys", "mode", "trigger"},
        )
        grain = p.choice("granularity", Granularity, Granularity.DAY)
        mode = p.choice("mode", PartitionMode, PartitionMode.APPEND)
        trigger = p.choice("trigger", PartitionTrigger, PartitionTrigger.WINDOW)
        keys = p.texts("keys")
        for column in keys:
            _make(p.at("keys"), check_identifier, "key column", column)
        partitioning = _make(
            p.at("column"), Partitioning, p.text("column"), grain, keys, mode, trigger
        )
    cadence, timezone = r.text("cadence"), r.text("timezone", "UTC")
    _make(r.at("cadence"), validate_schedule_expression, cadence)
    if at_time(cadence) is not None:
        raise InvalidTemplate(f"{r.at('cadence')}: a cadence recurs: use rate(...) or cron(...)")
    _make(r.at("timezone"), validate_timezone, timezone)
    layout = _make(r.at("raw_layout"), RawLayout, r.text("raw_layout"))
    files = None
    if r.has("files"):
        f = Reader(r.data["files"], r.at("files"), {"pattern", "table", "ignore"})
        files = _make(f.path, FileTables, f.text("pattern"), f.text("table"), f.texts("ignore"))
    return Dataset(
        name=r.slug("name", "dataset"),
        source=_source(r.data["source"], r.at("source")),
        cadence=cadence,
        timezone=timezone,
        raw_layout=layout,
        cleaner=r.slug("cleaner", "cleaner"),
        sink=_sink(r.data["sink"], r.at("sink"), layout),
        partitioning=partitioning,
        files=files,
        gather_job=r.text("gather_job", "gather"),
        process_job=r.text("process_job", "process"),
        partition_job=r.text("partition_job", "partition"),
    )
