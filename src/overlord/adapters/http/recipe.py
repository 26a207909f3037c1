"""Walking an API recipe's pages and entities; `HttpSource` supplies the one GET it repeats.

Kept apart from the transport so the rules of a walk (when a page is the last, which URL comes
next, which file a page lands in) read in one place. Every page's URL stays on the recipe's
host: a credential sent with the first request must not follow a ``next`` link elsewhere.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from overlord.adapters.fetching import Staging
from overlord.adapters.http.links import parse_link_header
from overlord.domain.api_recipes import Pagination, PaginationStyle, dig, ndjson, page_file_name
from overlord.domain.datasets import ApiSource
from overlord.domain.errors import BackendError

MAX_ENTITY_WORKERS = 4
Get = Callable[[str], tuple[bytes, Message]]


def with_param(url: str, name: str, value: str) -> str:
    """``url`` with query parameter ``name`` set to ``value`` (replaced if present)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode([*query, (name, value)])))


class Pacer:
    """At most ``rate`` requests a second across every thread of one fetch."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


def _first_url(url: str, pagination: Pagination | None) -> str:
    if pagination is None or pagination.param is None:
        return url
    if pagination.style is PaginationStyle.PAGE:
        return with_param(url, pagination.param, str(pagination.start))
    if pagination.style is PaginationStyle.OFFSET and pagination.limit_param:
        url = with_param(url, pagination.param, "0")
        return with_param(url, pagination.limit_param, str(pagination.limit))
    return url


def _records(source: ApiSource, url: str, body: bytes) -> list[object]:
    try:
        data = json.loads(body)
    except ValueError:
        raise BackendError(f"GET {url} did not answer JSON") from None
    found = dig(data, source.records or "")
    if not isinstance(found, list):
        where = f"at {source.records!r}" if source.records else "as its body"
        raise BackendError(f"GET {url} has no list of records {where}")
    return found


def _next_url(
    source: ApiSource, first: str, url: str, body: bytes, headers: Message, count: int, page: int
) -> str | None:
    p = source.pagination
    if p is None:
        return None
    data = json.loads(body)
    if p.style is PaginationStyle.TOKEN:
        token = dig(data, p.token or "")
        return with_param(first, p.param or "", str(token)) if token not in (None, "") else None
    if p.style is PaginationStyle.NEXT_URL:
        link = dig(data, p.url or "")
        return urljoin(url, link) if isinstance(link, str) and link else None
    if p.style is PaginationStyle.LINK_HEADER:
        link = parse_link_header(headers.get("Link")).get("next")
        return urljoin(url, link) if link else None
    if p.style is PaginationStyle.PAGE:
        return with_param(first, p.param or "", str(p.start + page)) if count else None
    if count < p.limit:
        return None
    return with_param(first, p.param or "", str(page * p.limit))


def pages(source: ApiSource, url: str, get: Get) -> Iterator[tuple[int, list[object]]]:
    """(page number from 1, records) of every page the recipe's pagination reaches."""
    first = _first_url(url, source.pagination)
    host = urlsplit(first).netloc
    current: str | None = first
    seen: set[str] = set()
    page = 0
    while current is not None:
        if urlsplit(current).netloc != host or urlsplit(current).scheme not in ("http", "https"):
            raise BackendError(f"GET {url}: the next page is on another server; refused")
        if current in seen:
            raise BackendError(f"GET {url}: page {page} leads back to an earlier page")
        if page >= source.max_pages:
            raise BackendError(f"GET {url}: more than max_pages={source.max_pages} pages")
        seen.add(current)
        page += 1
        body, headers = get(current)
        records = _records(source, url, body)
        yield page, records
        current = _next_url(source, first, current, body, headers, len(records), page)


def run_recipe(
    source: ApiSource,
    values: Mapping[str, str],
    stage: Staging,
    get: Get,
    shown: Callable[[str], str],
) -> None:
    """Fetch every entity's pages into ``stage``, entities concurrently (``get`` paces itself)."""
    entities: list[str | None] = (
        list(source.entities.each(values)) if source.entities is not None else [None]
    )
    lock = threading.Lock()

    def one(entity: str | None) -> None:
        filled = dict(values)
        if entity is not None and source.entities is not None:
            filled[source.entities.param] = entity
        url = source.render(filled)
        for page, records in pages(source, url, get):
            if not records:
                continue  # an empty page (the end of a page walk) lands no file
            with lock:
                name = page_file_name(entity, page)
                stage.write(name, [ndjson(records)], offered_by=shown(url))

    if len(entities) == 1:
        one(entities[0])
        return
    with ThreadPoolExecutor(max_workers=min(MAX_ENTITY_WORKERS, len(entities))) as pool:
        for future in [pool.submit(one, entity) for entity in entities]:
            future.result()
