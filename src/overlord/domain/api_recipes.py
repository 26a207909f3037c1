"""The parts of an API recipe beyond its URL: auth, pagination, records, windows and entities.

An `ApiSource` names *how* a well-behaved client walks an API, so every adapter (and every test)
walks it the same way. The values here are pure data: they hold the *name* of a secret, never its
value, so a recipe can be printed, stored and logged without leaking a credential.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from attrs import field, frozen

from overlord.domain.errors import InvalidInput

# A secret's name becomes part of an environment variable (OVERLORD_SECRET_<NAME>) or a Secrets
# Manager name, so it stays within what both accept without quoting.
_SECRET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_KEY = r"[A-Za-z_][A-Za-z0-9_-]*"
_DOTTED = re.compile(rf"{_KEY}(?:\.{_KEY})*")
_PARAM = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_ISO_SPAN = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def check_secret_name(name: object) -> str:
    if not isinstance(name, str) or not _SECRET_NAME.fullmatch(name):
        raise InvalidInput(
            f"secret name {str(name)[:70]!r}: expected a letter then letters, digits or _"
        )
    return name


def check_dotted_path(kind: str, value: object, *, empty: bool = False) -> str:
    """A path like ``meta.next_token``; ``""`` (the body itself) only where ``empty`` allows."""
    if isinstance(value, str) and ((empty and value == "") or _DOTTED.fullmatch(value)):
        return value
    raise InvalidInput(f"{kind} {str(value)[:70]!r}: expected a dotted path like 'meta.next'")


def _check_param(kind: str, value: object) -> str:
    if not isinstance(value, str) or not _PARAM.fullmatch(value):
        raise InvalidInput(f"{kind} {str(value)[:70]!r}: expected a query parameter name")
    return value


def dig(body: object, path: str) -> object:
    """The value at dotted ``path`` in a JSON body, or None where any step is missing.

    >>> dig({"meta": {"next": "b"}}, "meta.next")
    'b'
    """
    value = body
    for key in path.split(".") if path else ():
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


@frozen
class ApiAuth:
    """A credential read from the named secret and sent in one place.

    Exactly one of ``header`` (the raw value in that header), ``query`` (a query parameter) or
    ``scheme`` (``Authorization: <scheme> <value>``).
    """

    secret: str = field(validator=lambda _, __, v: check_secret_name(v))
    header: str | None = None
    query: str | None = None
    scheme: str | None = None

    def __attrs_post_init__(self) -> None:
        chosen = [v for v in (self.header, self.query, self.scheme) if v is not None]
        if len(chosen) != 1:
            raise InvalidInput("auth: give exactly one of header, query or scheme")
        if self.header is not None and not _HEADER.fullmatch(self.header):
            raise InvalidInput(f"auth header {self.header[:70]!r}: not an HTTP header name")
        if self.query is not None:
            _check_param("auth query", self.query)
        if self.scheme is not None and not _HEADER.fullmatch(self.scheme):
            raise InvalidInput(f"auth scheme {self.scheme[:70]!r}: expected a word like Bearer")


class PaginationStyle(enum.StrEnum):
    TOKEN = "token"
    NEXT_URL = "next_url"
    LINK_HEADER = "link_header"
    PAGE = "page"
    OFFSET = "offset"


# The fields each style needs; any other is refused so a misplaced field is reported at load.
PAGINATION_FIELDS = {
    PaginationStyle.TOKEN: {"token", "param"},
    PaginationStyle.NEXT_URL: {"url"},
    PaginationStyle.LINK_HEADER: set(),
    PaginationStyle.PAGE: {"param", "start"},
    PaginationStyle.OFFSET: {"param", "limit_param", "limit"},
}


@frozen(kw_only=True)
class Pagination:
    """How the next page is asked for; see docs/sources.md for each style."""

    style: PaginationStyle
    token: str | None = None
    param: str | None = None
    url: str | None = None
    start: int = 1
    limit_param: str | None = None
    limit: int = 100

    def __attrs_post_init__(self) -> None:
        if self.style is PaginationStyle.TOKEN:
            check_dotted_path("pagination token", self.token)
        if self.style is PaginationStyle.NEXT_URL:
            check_dotted_path("pagination url", self.url)
        if self.style in (PaginationStyle.TOKEN, PaginationStyle.PAGE, PaginationStyle.OFFSET):
            _check_param("pagination param", self.param)
        if self.style is PaginationStyle.OFFSET:
            _check_param("pagination limit_param", self.limit_param)
            if not 1 <= self.limit <= 1_000_000:
                raise InvalidInput("pagination limit: expected 1 to 1000000")
        if not 0 <= self.start <= 1_000_000:
            raise InvalidInput("pagination start: expected 0 to 1000000")


class WindowFormat(enum.StrEnum):
    ISO = "iso"
    EPOCH = "epoch"


def parse_span(value: object) -> timedelta:
    """``"PT1H"`` (days, hours, minutes, seconds) or a number of seconds, above zero.

    >>> parse_span("P1DT30M")
    datetime.timedelta(days=1, seconds=1800)
    """
    if isinstance(value, bool):
        raise InvalidInput("max_span: expected an ISO duration like PT1H or seconds")
    if isinstance(value, int | float):
        span = timedelta(seconds=value) if 0 < value <= 10**9 else timedelta(0)
    elif isinstance(value, str) and (m := _ISO_SPAN.fullmatch(value)) and value not in ("P", "PT"):
        days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
        if max(days, hours, minutes, seconds) > 10**7 or value.endswith("T"):
            raise InvalidInput(f"max_span {value[:40]!r}: expected an ISO duration like PT1H")
        span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    else:
        raise InvalidInput(f"max_span {str(value)[:40]!r}: expected an ISO duration like PT1H")
    if span <= timedelta(0):
        raise InvalidInput("max_span: expected a span above zero")
    return span


@frozen
class ApiWindow:
    """How ``{start}`` and ``{end}`` are written, the longest window one fetch may cover, and
    how far before the cursor a cadence run starts again: ``overlap`` picks up records an API
    publishes late under an earlier time (a weather station's delayed report), which the
    partitions and the table then keep once by key."""

    format: WindowFormat = WindowFormat.ISO
    max_span: timedelta | None = None
    overlap: timedelta = timedelta(0)

    def render(self, moment: str) -> str:
        """An ISO time from a job's values, written as the API expects it (UTC)."""
        try:
            parsed = datetime.fromisoformat(moment)
        except (TypeError, ValueError):
            raise InvalidInput(f"window bound {moment[:40]!r}: expected an ISO time") from None
        utc = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        if self.format is WindowFormat.EPOCH:
            return str(int(utc.timestamp()))
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


@frozen
class ApiEntities:
    """Run the fetch once per value of ``values[from_]``, with ``{param}`` set to that value."""

    param: str = field(validator=lambda _, __, v: _check_param("entities param", v))
    from_: str = field(validator=lambda _, __, v: _check_param("entities from", v))

    def __attrs_post_init__(self) -> None:
        if not self.param.isidentifier():
            raise InvalidInput(f"entities param {self.param!r}: expected a placeholder name")

    def each(self, values: Mapping[str, object]) -> list[str]:
        """The entities of one fetch: a comma-separated string or a list, in order, deduplicated."""
        raw = values.get(self.from_)
        if isinstance(raw, str):
            items: list[object] = list(raw.split(","))
        elif isinstance(raw, list | tuple):
            items = list(raw)
        else:
            raise InvalidInput(f"entities: no list of values in {self.from_!r}")
        chosen = [str(item).strip() for item in items if str(item).strip()]
        if not chosen:
            raise InvalidInput(f"entities: {self.from_!r} names no entity")
        return list(dict.fromkeys(chosen))


def page_file_name(entity: str | None, page: int) -> str:
    """The file one page of records lands in, so the same window lands the same files."""
    return f"{entity or 'all'}-{page:05d}.ndjson"


def ndjson(records: list[object]) -> bytes:
    """One record per line, keys sorted, UTF-8: the same records always give the same bytes."""
    lines = (
        json.dumps(r, sort_keys=True, ensure_ascii=False, separators=(",", ":")) for r in records
    )
    return "".join(line + "\n" for line in lines).encode("utf-8")
