"""Datasets: what a connector gathers, where the raw files land, and where clean data goes.

A dataset is pure data so that ingestion services, the scheduler and ``overlord connectors add``
agree on one checked definition. Raw folder names carry their metadata (``call_reports__2024``)
because a folder is often all a processing job is given; the layout that parses them refuses
names it cannot read, and patterns whose names could be read two ways, rather than feed a folder
to the wrong table.
"""

from __future__ import annotations

import enum
import fnmatch
import itertools
import re
import string
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import ParamSpec, TypeVar
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from attrs import evolve, field, frozen

from overlord.domain.api_recipes import (
    ApiAuth,
    ApiEntities,
    ApiWindow,
    Pagination,
    check_dotted_path,
)
from overlord.domain.dataset_files import FileTables
from overlord.domain.errors import InvalidInput, InvalidName, InvalidTemplate
from overlord.domain.expressions import validate_schedule_expression, validate_timezone
from overlord.domain.names import slug
from overlord.domain.periods import check_period_format, parse_iso_period

T = TypeVar("T")
P = ParamSpec("P")

# A placeholder's value: letters and digits, joined by single '-', '_' or '.'. Values never hold
# a doubled separator, so a pattern like "{table}__{date}" reads one way only.
_VALUE = r"[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*"
# Text made of value characters without a doubled separator could be part of a value.
_AMBIGUOUS = re.compile(r"[._-]?(?:[A-Za-z0-9]+[._-])*[A-Za-z0-9]*")
# Column and table names must be plain SQL identifiers (PostgreSQL keeps 63 characters).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def check_identifier(kind: str, value: object) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise InvalidName(f"{kind} {str(value)[:70]!r} is not a name of 1-63 letters, digits or _")
    return value


def template_placeholders(template: str) -> list[tuple[str, str | None]]:
    """Literal text and the ``{name}`` after it; ``{0}``, ``{a.b}``, ``{a!r}`` are refused."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidTemplate(f"{template!r}: {exc}") from None
    for _, name, spec, conversion in parts:
        if name is not None and (not name.isidentifier() or spec or conversion):
            raise InvalidTemplate(f"{template!r}: write placeholders as {{name}}, got {{{name}}}")
    return [(literal, name) for literal, name, _, _ in parts]


def _fill(template: str, values: Mapping[str, str]) -> str:
    try:
        return template.format(**values)
    except KeyError as exc:
        raise InvalidInput(f"{template!r}: no value for {{{exc.args[0]}}}") from None


def check_glob(pattern: str) -> None:
    if not pattern or re.search(r"[/\\\x00-\x1f]", pattern):
        raise InvalidTemplate(f"file_pattern {pattern[:80]!r}: expected a file name glob")


def check_url(kind: str, url: str, shown: str | None = None) -> None:
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok or re.search(r"[\s\x00-\x1f\x7f]", url):
        raise InvalidTemplate(f"{kind} {(shown or url)[:80]!r} is not an http(s) URL")


class Granularity(enum.StrEnum):
    """Partition depth; each level adds one Hive-style ``name=value`` folder."""

    YEAR = "year"
    MONTH = "month"
    DAY = "day"
    HOUR = "hour"
    MINUTE = "minute"


def partition_key(moment: datetime, granularity: Granularity) -> str:
    """The Hive-style folder of ``moment``; aware times are taken in UTC so an instant has one.

    >>> partition_key(datetime(2026, 11, 22, 8, 5), Granularity.HOUR)
    'year=2026/month=11/day=22/hour=08'
    """
    m = moment.astimezone(UTC) if moment.utcoffset() is not None else moment
    values = (f"{m.year:04d}", f"{m.month:02d}", f"{m.day:02d}", f"{m.hour:02d}", f"{m.minute:02d}")
    depth = list(Granularity).index(granularity) + 1
    return "/".join(f"{g}={v}" for g, v in zip(list(Granularity)[:depth], values, strict=False))


class PartitionMode(enum.StrEnum):
    """``append``: a partition keeps its rows and gains the new ones, deduplicated by key (a
    re-landed window adds nothing); ``overwrite-partitions``: a touched partition holds exactly
    the new rows."""

    APPEND = "append"
    OVERWRITE = "overwrite-partitions"


class PartitionTrigger(enum.StrEnum):
    """``window``: the run that lands a window partitions it; ``event``: each landed raw object
    is partitioned when it lands (an S3 event on AWS, the local store's event locally)."""

    WINDOW = "window"
    EVENT = "event"


@frozen
class Partitioning:
    """Parquet partitions of a dataset's records by the record time in ``column`` (a column of
    the flattened records: nested keys joined by ``_``), published atomically."""

    column: str = field(validator=lambda _, __, v: check_identifier("partition column", v))
    granularity: Granularity = Granularity.DAY
    keys: tuple[str, ...] = ()  # append deduplicates by these (without: identical rows)
    mode: PartitionMode = PartitionMode.APPEND
    trigger: PartitionTrigger = PartitionTrigger.WINDOW

    def __attrs_post_init__(self) -> None:
        for column in self.keys:
            check_identifier("key column", column)
        if self.trigger is PartitionTrigger.EVENT and self.mode is PartitionMode.OVERWRITE:
            # One object holds part of a partition's records: overwriting with it loses the rest.
            raise InvalidTemplate("trigger 'event' partitions object by object: use mode 'append'")

    def key(self, moment: datetime) -> str:
        return partition_key(moment, self.granularity)


class StepAction(enum.StrEnum):
    CLICK = "click"
    CHOOSE = "choose"
    SELECT = "select"
    SELECT_PERIOD = "select_period"
    WAIT_FOR = "wait_for"
    WAIT_FOR_DOWNLOAD = "wait_for_download"


class ElementState(enum.StrEnum):
    """What a ``wait_for`` step waits for: in the page, also shown, or also usable."""

    PRESENT = "present"
    VISIBLE = "visible"
    ENABLED = "enabled"


# The fields each action takes besides its selector and timeout; any other is refused, so a
# misplaced ``value`` or ``format`` is a mistake reported at load rather than silently ignored.
_STEP_FIELDS = {
    StepAction.SELECT: {"value", "text"},
    StepAction.SELECT_PERIOD: {"format"},
    StepAction.WAIT_FOR: {"state"},
}


@frozen
class ScrapeStep:
    """One browser action; every action but ``wait_for_download`` needs a CSS selector.

    ``select`` picks an option by exactly one of ``value`` or visible ``text``, in which
    ``{name}`` placeholders are filled from the fetch's values; ``select_period`` picks the
    option whose text, read with the strptime ``format``, is the period asked for (else the
    newest); ``wait_for`` waits until its element is in ``state``.
    """

    action: StepAction
    selector: str | None = None
    timeout_seconds: int = 60
    value: str | None = field(default=None, kw_only=True)
    text: str | None = field(default=None, kw_only=True)
    format: str | None = field(default=None, kw_only=True)
    state: ElementState | None = field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        needs = self.action is not StepAction.WAIT_FOR_DOWNLOAD
        if needs != bool(self.selector):
            word = "needs" if needs else "takes no"
            raise InvalidTemplate(f"a {self.action} step {word} selector")
        if not 1 <= self.timeout_seconds <= 3600:
            raise InvalidTemplate(f"timeout_seconds {self.timeout_seconds}: expected 1 to 3600")
        given = {"value": self.value, "text": self.text, "format": self.format, "state": self.state}
        for name, setting in given.items():
            if setting is not None and name not in _STEP_FIELDS.get(self.action, set()):
                raise InvalidTemplate(f"a {self.action} step takes no {name}")
        if self.action is StepAction.SELECT:
            if (self.value is None) == (self.text is None):
                raise InvalidTemplate("a select step needs exactly one of value or text")
            template_placeholders(self.option)
        if self.action is StepAction.SELECT_PERIOD:
            if not self.format:
                raise InvalidTemplate("a select_period step needs format, e.g. '%m/%d/%Y'")
            check_period_format(self.format)
        if self.action is StepAction.WAIT_FOR and self.state is None:
            object.__setattr__(self, "state", ElementState.PRESENT)

    @property
    def option(self) -> str:
        """A ``select`` step's value or text template; empty for other actions."""
        return self.value if self.value is not None else self.text or ""

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(n for _, n in template_placeholders(self.option) if n is not None)

    def filled_option(self, values: Mapping[str, str]) -> str:
        """The option a ``select`` step picks for ``values``; a missing one is `InvalidInput`."""
        return _fill(self.option, values)


def _mirror_netloc(url: str) -> tuple[str, str]:
    """The scheme and host[:port] of a mirror's base URL, refusing anything more."""
    shown = repr(url[:80]) if isinstance(url, str) else type(url).__name__
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except (ValueError, TypeError, AttributeError):
        parts = None
    bad = not isinstance(url, str) or re.search(r"[\s\x00-\x1f\x7f]", url)
    if bad or parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"source URL {shown}: expected http(s)://host[:port]")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"source URL {shown}: must not carry user info")
    if parts.path not in ("", "/") or "?" in url or "#" in url:
        raise InvalidInput(
            f"source URL {shown}: give only scheme, host and port; the page's path and query "
            "come from the recipe"
        )
    return parts.scheme, parts.netloc


@frozen
class ScrapeSource:
    """A recipe for a real browser: open the page, run the steps, keep files matching the glob.

    ``error_selector`` names the element where the site shows an error ("No data available
    for this period"); a page that shows one, or answers 5xx or 429, is tried again
    ``retries`` times in a fresh browser, waiting ``retry_seconds`` doubled each time.
    """

    page_url: str
    steps: tuple[ScrapeStep, ...]
    file_pattern: str
    error_selector: str | None = field(default=None, kw_only=True)
    retries: int = field(default=3, kw_only=True)
    retry_seconds: float = field(default=2.0, kw_only=True)

    def __attrs_post_init__(self) -> None:
        check_url("page_url", self.page_url)
        if not any(s.action is StepAction.WAIT_FOR_DOWNLOAD for s in self.steps):
            raise InvalidTemplate("add a wait_for_download step, or no file is gathered")
        if sum(s.action is StepAction.SELECT_PERIOD for s in self.steps) > 1:
            raise InvalidTemplate("one select_period step at most: a fetch gathers one period")
        check_glob(self.file_pattern)
        if self.error_selector is not None and not self.error_selector.strip():
            raise InvalidTemplate("error_selector: expected a CSS selector")
        if isinstance(self.retries, bool) or not 0 <= self.retries <= 10:
            raise InvalidTemplate(f"retries {self.retries}: expected 0 to 10")
        if not 0 <= self.retry_seconds <= 600:
            raise InvalidTemplate(f"retry_seconds {self.retry_seconds}: expected 0 to 600")

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset().union(*(s.placeholders for s in self.steps))

    def matches(self, filename: str) -> bool:
        return fnmatch.fnmatchcase(filename, self.file_pattern)

    def requested_period(self, values: Mapping[str, str]) -> date | None:
        """The period asked for in ``values["period"]``, if the recipe selects periods at all.

        Every ``{placeholder}`` is checked too, so bad values fail before a browser starts.
        """
        for step in self.steps:
            step.filled_option(values)
        selects = any(s.action is StepAction.SELECT_PERIOD for s in self.steps)
        return parse_iso_period(values["period"]) if selects and "period" in values else None

    def mirrored(self, url: str) -> ScrapeSource:
        """This recipe against another server (a test site, an air-gapped mirror).

        >>> ScrapeSource("https://cdr.example.gov/Bulk.aspx?a=1", (ScrapeStep(
        ...     StepAction.WAIT_FOR_DOWNLOAD),), "*").mirrored("http://127.0.0.1:8000").page_url
        'http://127.0.0.1:8000/Bulk.aspx?a=1'
        """
        scheme, netloc = _mirror_netloc(url)
        page = urlsplit(self.page_url)
        return evolve(self, page_url=urlunsplit((scheme, netloc, *page[2:])))


_WINDOW_EXAMPLE = {"start": "2000-01-01T00:00:00", "end": "2000-01-01T01:00:00"}


@frozen
class ApiSource:
    """An HTTP API; ``{name}`` placeholders in the URL and parameters are filled per call.

    The recipe fields say how a good client walks the API (see ``overlord.domain.api_recipes``
    and docs/sources.md). ``records`` names the list of records in a JSON body (``""``: the
    body is the list); without it a call's body is kept as one file.
    """

    url_template: str
    params: tuple[tuple[str, str], ...] = ()
    auth: ApiAuth | None = field(default=None, kw_only=True)
    pagination: Pagination | None = field(default=None, kw_only=True)
    max_pages: int = field(default=1000, kw_only=True)
    records: str | None = field(default=None, kw_only=True)
    time_field: str | None = field(default=None, kw_only=True)
    rate_per_second: float | None = field(default=None, kw_only=True)
    timeout_seconds: float | None = field(default=None, kw_only=True)
    window: ApiWindow | None = field(default=None, kw_only=True)
    entities: ApiEntities | None = field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        example = dict.fromkeys(self.placeholders, "x") | _WINDOW_EXAMPLE
        check_url("url_template", self.render(example), shown=self.url_template)
        if "{" in self.url_template.partition("://")[2].partition("/")[0]:
            # Values come from job payloads; they may pick a path, never the server called.
            raise InvalidTemplate(f"url_template {self.url_template!r}: the host must be fixed")
        if not 1 <= self.max_pages <= 1_000_000:
            raise InvalidInput("max_pages: expected 1 to 1000000")
        if self.records is not None:
            check_dotted_path("records", self.records, empty=True)
        if self.time_field is not None:
            check_dotted_path("time_field", self.time_field)
        for name, value in (
            ("rate_per_second", self.rate_per_second),
            ("timeout_seconds", self.timeout_seconds),
        ):
            if value is not None and not 0 < value <= 86_400:
                raise InvalidInput(f"{name}: expected a number above 0, at most 86400")
        if self.entities is not None and self.entities.param not in self.placeholders:
            # Each entity would fetch the same thing: a recipe that names none is a mistake.
            raise InvalidTemplate(
                f"entities param {self.entities.param!r}: the URL and parameters have no "
                f"{{{self.entities.param}}} to fill"
            )
        if (self.pagination or self.entities) is not None and self.records is None:
            # Pages and entities land one file each, named by them, which needs the records.
            raise InvalidInput("pagination and entities need records, the list each page holds")

    def mirrored(self, url: str) -> ApiSource:
        """This recipe against another server (a test API, a recorded response, a mirror).

        >>> api = ApiSource("https://api.example.gov/v1/obs?x=1")
        >>> api.mirrored("http://127.0.0.1:8000").url_template
        'http://127.0.0.1:8000/v1/obs?x=1'
        """
        scheme, netloc = _mirror_netloc(url)
        rest = self.url_template.partition("://")[2]
        path = rest[len(rest.partition("/")[0]) :]
        return evolve(self, url_template=f"{scheme}://{netloc}{path}")

    @property
    def placeholders(self) -> frozenset[str]:
        texts = [self.url_template, *(v for _, v in self.params)]
        return frozenset(n for t in texts for _, n in template_placeholders(t) if n is not None)

    def render(self, values: Mapping[str, str]) -> str:
        """The URL of one call; values are percent-encoded so they cannot change its shape.

        With a ``window``, ``start`` and ``end`` are written as its ``format`` asks (UTC ISO or
        epoch seconds); without one they are used as given.
        """
        if self.window is not None:
            window = self.window
            values = {
                k: window.render(v) if k in ("start", "end") else v for k, v in values.items()
            }
        url = _fill(self.url_template, {k: quote(v, safe="") for k, v in values.items()})
        query = urlencode([(k, _fill(v, values)) for k, v in self.params])
        return url + ("&" if "?" in url else "?") + query if query else url


@frozen
class RawFolder:
    """What a raw folder's name says: always the table, plus the layout's other fields."""

    name: str
    values: tuple[tuple[str, str], ...]

    @property
    def table(self) -> str:
        return dict(self.values)["table"]


@frozen
class RawLayout:
    """A folder-name pattern such as ``{table}__{date}``.

    >>> RawLayout("{table}__{date}").parse("call_reports__2024-03-31").table
    'call_reports'
    """

    pattern: str
    _regex: re.Pattern[str] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        parts = template_placeholders(self.pattern)
        names = [n for _, n in parts if n is not None]
        if "table" not in names or len(set(names)) != len(names) or "/" in self.pattern:
            raise InvalidTemplate(
                f"{self.pattern!r}: a one-folder pattern with {{table}} and distinct placeholders"
            )
        for (_, before), (literal, after) in itertools.pairwise(parts):
            if before and after and _AMBIGUOUS.fullmatch(literal):
                raise InvalidTemplate(
                    f"{self.pattern!r}: {literal!r} between placeholders can also occur inside "
                    "a value; separate them with e.g. '__'"
                )
        regex = "".join(
            re.escape(lit) + (f"(?P<{n}>{_VALUE})" if n is not None else "") for lit, n in parts
        )
        object.__setattr__(self, "_regex", re.compile(regex))

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self._regex.groupindex)

    def parse(self, folder: str) -> RawFolder:
        match = self._regex.fullmatch(folder) if isinstance(folder, str) else None
        if not match:
            raise InvalidName(f"folder {str(folder)[:80]!r} does not match {self.pattern!r}")
        return RawFolder(folder, tuple(match.groupdict().items()))

    def folder(self, values: Mapping[str, str]) -> str:
        """The folder name for ``values``, checked by parsing it back."""
        return self.parse(_fill(self.pattern, values)).name


@frozen
class TableTarget:
    """A relational table loaded by key; ``{table}`` (or any layout field) names it per folder.

    ``period_column`` is the column that holds a row's period (``reporting_period``): loading a
    folder then replaces the rows of the folder's period, so rows a corrected file no longer
    holds go too. Without it a load only upserts by key.
    """

    table: str
    keys: tuple[str, ...]
    period_column: str | None = None

    def __attrs_post_init__(self) -> None:
        self.table_for(RawFolder("", tuple((n, "t") for n in self.placeholders)))
        if not self.keys:
            raise InvalidTemplate("keys: a table load needs key columns to be repeatable")
        for key in self.keys:
            check_identifier("key column", key)
        if self.period_column is not None:
            check_identifier("period column", self.period_column)

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(n for _, n in template_placeholders(self.table) if n is not None)

    def table_for(self, folder: RawFolder) -> str:
        return check_identifier("table", _fill(self.table, dict(folder.values)))


@frozen
class CollectionTarget:
    collection: str = field(validator=lambda _, __, v: slug("collection", v))
    keys: tuple[str, ...] = ()


@frozen(kw_only=True)
class Dataset:
    name: str = field(validator=lambda _, __, v: slug("dataset", v))
    source: ScrapeSource | ApiSource
    cadence: str
    timezone: str = "UTC"
    raw_layout: RawLayout
    cleaner: str = field(validator=lambda _, __, v: slug("cleaner", v))
    sink: TableTarget | CollectionTarget
    partitioning: Partitioning | None = None
    files: FileTables | None = None
    gather_job: str = "gather"
    process_job: str = "process"
    partition_job: str = "partition"

    def table_of(self, name: str) -> str | None:
        """The table folder a gathered file goes to, None for a file the layout ignores.

        Without a ``files`` rule every file feeds the sink's table, which then needs no
        placeholder."""
        if self.files is None:
            if isinstance(self.sink, TableTarget) and not self.sink.placeholders:
                return self.sink.table.lower()
            raise InvalidTemplate(
                f"dataset {self.name}: add a files rule that names each file's table"
            )
        return None if self.files.ignored(name) else self.files.table_of(name)

    def __attrs_post_init__(self) -> None:
        validate_schedule_expression(self.cadence)
        validate_timezone(self.timezone)
        if (
            isinstance(self.sink, TableTarget)
            and not self.sink.placeholders <= self.raw_layout.fields
        ):
            raise InvalidTemplate(f"sink.table {self.sink.table!r}: uses a field the layout lacks")
