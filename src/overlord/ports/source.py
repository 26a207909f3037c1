"""Gathering a dataset's raw files: from a web page in a real browser, or from an HTTP API."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from overlord.domain.datasets import ApiSource, ScrapeSource
from overlord.domain.fetched import FetchedFile


class Source(Protocol):
    """Every adapter keeps these rules, so ingestion can trust a folder the moment a fetch returns.

    Kinds: an adapter serves `ApiSource`, `ScrapeSource` or both; a source of a kind it does not
    serve raises `InvalidInput` before anything is requested.

    Landing: ``destination`` is a folder (created with its parents if missing; `InvalidInput` if
    it is a file). Files are written into a hidden staging folder inside it and renamed into
    place only once complete and all of the fetch's files have arrived, so a reader of
    ``destination`` never sees a partial file. A file of the same name is replaced (one atomic
    rename: readers see the old bytes or the new); other files are left alone. Only a crash
    of the process itself can leave a hidden ``.overlord-fetch-*`` folder behind.

    Records: an `ApiSource` with ``records`` lands each page's records as one NDJSON file named
    ``{entity or "all"}-{page:05d}.ndjson`` (keys sorted, one record a line, UTF-8; an empty
    page lands none), so fetching the same window again lands the same files. Without
    ``records`` the response body is the one file.

    Names: otherwise a file keeps the name its source offers
    (`overlord.domain.fetched.check_file_name`);
    a name that is not one plain file name (``../x``, ``.hidden``, ``a/b``, control
    characters) raises `InvalidName`. Names are refused, never rewritten.

    Failure: a missing resource raises `NotFound`; a source that still throttles after the
    adapter's retries raises `Throttled`; a file over the adapter's size limit raises
    `PayloadTooLarge`; anything else the remote side does wrong raises `BackendError`. Whatever
    the error, ``destination`` holds exactly what it held before.
    """

    def fetch(
        self,
        source: ScrapeSource | ApiSource,
        destination: Path,
        *,
        values: Mapping[str, str] | None = None,
    ) -> list[FetchedFile]:
        """Fetch ``source`` into ``destination``; the files published, sorted by name.

        ``values`` fill the ``{placeholders}`` of an `ApiSource` and of a `ScrapeSource`'s
        ``select`` steps, and ``values["period"]`` (an ISO date) picks a ``select_period``
        step's period; a missing or malformed one is `InvalidInput` before anything is
        requested. Values a source does not use are ignored, so a service can pass a job's
        payload to any source.
        """
