"""A web of registered files, so ingestion services can be tested without a network or browser.

It serves both kinds of source (a service test may hold datasets of either) and writes through
the same staging as the HTTP and browser adapters, so names it accepts, files it publishes and
what a failure leaves behind are exactly what production does. Registering accepts any name, as
a real server would offer it; `fetch` judges it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path

from overlord.adapters.fetching import staging
from overlord.domain.api_recipes import dig, ndjson, page_file_name
from overlord.domain.datasets import ApiSource, ScrapeSource
from overlord.domain.errors import BackendError, InvalidInput, NotFound, OverlordError
from overlord.domain.fetched import FetchedFile, check_file_name


class MemorySource:
    """Source over files registered by URL: an `ApiSource`'s rendered URL or a page's URL.

    >>> import tempfile
    >>> web = MemorySource()
    >>> web.serve("https://api.example.com/rates?day=2024-01-31", "rates.json", b"[]")
    >>> rates = ApiSource("https://api.example.com/rates", (("day", "{day}"),))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     files = web.fetch(rates, Path(folder), values={"day": "2024-01-31"})
    >>> [(f.name, f.size) for f in files]
    [('rates.json', 2)]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, dict[str, bytes]] = {}
        self._failures: dict[str, OverlordError] = {}

    def serve(self, url: str, name: str, data: bytes) -> None:
        """Offer ``data`` as ``name`` at ``url`` (a page may offer several files, an API one)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"served data must be bytes, got {type(data).__name__}")
        with self._lock:
            self._failures.pop(url, None)
            self._files.setdefault(url, {})[name] = bytes(data)

    def fail(self, url: str, error: OverlordError) -> None:
        """Make every fetch of ``url`` raise ``error`` (a throttled API, a broken page...)."""
        with self._lock:
            self._files.pop(url, None)
            self._failures[url] = error

    def fetch(
        self,
        source: ScrapeSource | ApiSource,
        destination: Path,
        *,
        values: Mapping[str, str] | None = None,
    ) -> list[FetchedFile]:
        if isinstance(source, ApiSource) and source.records is not None:
            return self._records(source, destination, values or {})
        if isinstance(source, ApiSource):
            url = source.render(values or {})
        elif isinstance(source, ScrapeSource):
            source.requested_period(values or {})  # its steps are not run; their values are checked
            url = source.page_url
        else:
            raise InvalidInput(f"not a source: {type(source).__name__}")
        with self._lock:
            failure = self._failures.get(url)
            files = dict(self._files.get(url, {}))
        if failure is not None:
            raise failure
        if not files:
            raise NotFound(f"nothing is served at {url}")
        for name in files:
            check_file_name(name, offered_by=url)
        if isinstance(source, ApiSource) and len(files) > 1:
            raise BackendError(f"{url} serves {len(files)} files; an API call answers with one")
        if isinstance(source, ScrapeSource):
            files = {name: data for name, data in files.items() if source.matches(name)}
            if not files:
                raise BackendError(f"{url} offers no file matching {source.file_pattern!r}")
        with staging(destination) as stage:
            for name, data in files.items():
                stage.write(name, [data], offered_by=url)
            return stage.publish()

    def _records(
        self, source: ApiSource, destination: Path, values: Mapping[str, str]
    ) -> list[FetchedFile]:
        """A recipe with ``records``: each entity's served JSON is its one page (no walk)."""
        entities: list[str | None] = (
            list(source.entities.each(values)) if source.entities else [None]
        )
        pages: dict[str, bytes] = {}
        for entity in entities:
            filled = dict(values)
            if entity is not None and source.entities is not None:
                filled[source.entities.param] = entity
            url = source.render(filled)
            with self._lock:
                failure = self._failures.get(url)
                served = list(self._files.get(url, {}).values())
            if failure is not None:
                raise failure
            if len(served) != 1:
                raise NotFound(f"nothing is served at {url}")
            try:
                found = dig(json.loads(served[0]), source.records or "")
            except ValueError:
                raise BackendError(f"GET {url} did not answer JSON") from None
            if not isinstance(found, list):
                raise BackendError(f"GET {url} has no list of records at {source.records!r}")
            if found:
                pages[page_file_name(entity, 1)] = ndjson(found)
        with staging(destination) as stage:
            for name, data in pages.items():
                stage.write(name, [data], offered_by="the memory API")
            return stage.publish()
