"""One Source for services, whatever kind a dataset's source is.

A dataset holds either a scraping recipe or an API, and each real adapter serves one kind.
Routing here, by the domain type, keeps services from choosing adapters (which would make them
know there are several) and keeps the container's wiring to one provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from overlord.domain.datasets import ApiSource, ScrapeSource
from overlord.domain.errors import InvalidInput
from overlord.domain.fetched import FetchedFile
from overlord.ports.source import Source


class SourceByKind:
    """Sends an `ApiSource` to ``api`` and a `ScrapeSource` to ``scrape``.

    >>> from overlord.adapters.http.source import HttpSource
    >>> from overlord.adapters.selenium.scraper import SeleniumScraper
    >>> sources = SourceByKind(api=HttpSource(), scrape=SeleniumScraper())  # imports no Selenium
    """

    def __init__(self, *, api: Source, scrape: Source) -> None:
        self._api = api
        self._scrape = scrape

    def fetch(
        self,
        source: ScrapeSource | ApiSource,
        destination: Path,
        *,
        values: Mapping[str, str] | None = None,
    ) -> list[FetchedFile]:
        if isinstance(source, ApiSource):
            return self._api.fetch(source, destination, values=values)
        if isinstance(source, ScrapeSource):
            return self._scrape.fetch(source, destination, values=values)
        raise InvalidInput(f"not a source: {type(source).__name__}")
