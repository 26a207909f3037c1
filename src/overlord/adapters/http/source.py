"""One GET per `ApiSource` call, streamed to disk, with the retries only this boundary can judge.

A GET is safe to repeat, and whether a failure may pass (429, most 5xx, a dropped connection, a
timeout) or never will (any other 4xx) is known only from the HTTP exchange, so retrying lives
here rather than in services. The wait honours the server's ``Retry-After``, but a source never
sleeps longer than it was configured to: an API asking for an hour is reported as `Throttled`
at once, so a scheduled job fails fast and runs again on its cadence.
"""

from __future__ import annotations

import email.utils
import http.client
import random
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Mapping
from email.message import Message
from pathlib import Path
from typing import IO, TypeVar
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from attrs import frozen

from overlord.adapters.fetching import (
    CHUNK_BYTES,
    Staging,
    disposition_filename,
    staging,
    url_file_name,
)
from overlord.adapters.http.recipe import Pacer, run_recipe, with_param
from overlord.domain.datasets import ApiSource, ScrapeSource
from overlord.domain.errors import (
    BackendError,
    InvalidInput,
    NotFound,
    OverlordError,
    PayloadTooLarge,
    Throttled,
)
from overlord.domain.fetched import FetchedFile
from overlord.ports.secrets import Secrets

T = TypeVar("T")
_Response = http.client.HTTPResponse

DEFAULT_MAX_BYTES = 1 << 30
# Statuses that say "try again": timeout, too early, throttled, and the transient 5xx.
_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
# Only for a response named by its URL alone ("/v1/readings"): the suffix tells readers the format.
_SUFFIXES = {
    "application/json": ".json",
    "application/x-ndjson": ".ndjson",
    "text/csv": ".csv",
    "application/zip": ".zip",
    "application/gzip": ".gz",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "text/plain": ".txt",
}


class _Retry(Exception):
    """A failure that may pass; ``error`` is raised if it is the last attempt."""

    def __init__(self, error: OverlordError, wait: float | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait


@frozen
class _Call:
    """What every request of one fetch shares, and how its credential is kept out of sight."""

    source: ApiSource
    secret: str | None
    base_headers: Mapping[str, str]
    timeout: float

    @property
    def headers(self) -> dict[str, str]:
        auth, headers = self.source.auth, dict(self.base_headers)
        if auth is not None and self.secret is not None:
            if auth.header is not None:
                headers[auth.header] = self.secret
            elif auth.scheme is not None:
                headers["Authorization"] = f"{auth.scheme} {self.secret}"
        return headers

    def authorized(self, url: str) -> str:
        auth = self.source.auth
        if auth is None or auth.query is None or self.secret is None:
            return url
        return with_param(url, auth.query, self.secret)

    def shown(self, url: str) -> str:
        """``url`` as it may be printed: the credential's parameter, if any, is dropped."""
        auth = self.source.auth
        text = url if auth is None or auth.query is None else _without(url, auth.query)
        return self._scrub(text)

    def _scrub(self, text: str) -> str:
        if not self.secret:
            return text
        for form in {self.secret, quote(self.secret, safe=""), quote_plus(self.secret)}:
            text = text.replace(form, "***")
        return text

    def scrubbed(self, exc: OverlordError) -> OverlordError:
        """``exc``, rebuilt without the secret if its message holds it (an echoing server)."""
        clean = self._scrub(exc.message)
        return exc if clean == exc.message else type(exc)(clean)


def _check_values(source: ApiSource, values: Mapping[str, str]) -> None:
    """Refuse missing or malformed values before anything is created or requested."""
    if source.entities is None:
        source.render(values)
        return
    for entity in source.entities.each(values):
        source.render({**values, source.entities.param: entity})


def _without(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode(query)))


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """urllib follows redirects to ftp:// as well; a server must not steer a fetch off HTTP."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise BackendError(f"{req.full_url} redirected to {newurl[:80]!r}, not an http(s) URL")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), or None.

    >>> retry_after_seconds("2")
    2.0
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


class HttpSource:
    """Source for `ApiSource`: GET the rendered URL, keep the one file it answers with.

    The file is named by the response's ``Content-Disposition``, else by the last segment of
    the URL's path (``/v1/readings`` answered with JSON becomes ``readings.json``), else
    ``response``. Statuses 404 and 410 are `NotFound`; 408, 425, 429, 500 and 502-504 and
    dropped connections are retried up to ``max_attempts`` in all, waiting ``Retry-After`` or
    ``backoff_seconds`` doubled each time (times a jitter factor from 0.5 to 1), never more
    than ``max_wait_seconds``.

    A recipe with ``records`` is walked instead (`overlord.adapters.http.recipe`): its pages
    and entities, paced to ``rate_per_second``, each page landing as NDJSON. A recipe's
    ``auth`` names a secret read from ``secrets``; its value is kept out of every message.

    >>> source = HttpSource(headers={"Authorization": "Bearer ..."}, timeout_seconds=10)
    """

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_seconds: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_attempts: int = 4,
        backoff_seconds: float = 1.0,
        max_wait_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        secrets: Secrets | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if timeout_seconds <= 0 or max_bytes < 1 or max_attempts < 1:
            raise InvalidInput("timeout_seconds, max_bytes and max_attempts must be positive")
        if backoff_seconds < 0 or max_wait_seconds < 0:
            raise InvalidInput("backoff_seconds and max_wait_seconds cannot be negative")
        self._headers = {"User-Agent": "overlord", "Accept-Encoding": "gzip", **(headers or {})}
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._max_wait = max_wait_seconds
        self._sleep = sleep
        self._secrets = secrets
        self._jitter = jitter

    def fetch(
        self,
        source: ScrapeSource | ApiSource,
        destination: Path,
        *,
        values: Mapping[str, str] | None = None,
    ) -> list[FetchedFile]:
        if not isinstance(source, ApiSource):
            raise InvalidInput(
                f"HttpSource fetches an ApiSource; a {type(source).__name__} needs a browser"
            )
        values = values or {}
        _check_values(source, values)
        secret = self._secret(source)
        call = _Call(source, secret, self._headers, source.timeout_seconds or self._timeout)
        try:
            with staging(destination) as stage:
                if source.records is None:
                    url = source.render(values)
                    self._retrying(call, url, lambda r: self._keep(call, r, stage))
                else:
                    pacer = Pacer(source.rate_per_second, sleep=self._sleep)

                    def get(url: str) -> tuple[bytes, Message]:
                        pacer.wait()
                        return self._retrying(call, url, lambda r: self._read(call, r))

                    run_recipe(source, values, stage, get, call.shown)
                return stage.publish()
        except OverlordError as exc:
            raise call.scrubbed(exc) from None

    def _secret(self, source: ApiSource) -> str | None:
        if source.auth is None:
            return None
        if self._secrets is None:
            raise InvalidInput(
                f"the recipe reads secret {source.auth.secret!r}; this HttpSource has no secrets"
            )
        return self._secrets.get(source.auth.secret)

    def _retrying(self, call: _Call, url: str, consume: Callable[[_Response], T]) -> T:
        attempt = 1
        while True:
            try:
                return self._attempt(call, url, consume)
            except _Retry as retry:
                if attempt >= self._max_attempts:
                    raise retry.error from None
                self._sleep(self._wait(retry, attempt))
                attempt += 1

    def _wait(self, retry: _Retry, attempt: int) -> float:
        if retry.wait is None:
            # Full jitter: clients that failed together do not come back together.
            ceiling = min(self._backoff * 2 ** (attempt - 1), self._max_wait)
            return float(ceiling * (0.5 + self._jitter() / 2))
        if retry.wait > self._max_wait:
            kind = type(retry.error)
            raise kind(
                f"{retry.error.message}; it asks to retry after {retry.wait:.0f} s, longer than "
                f"this source waits ({self._max_wait:g} s)"
            )
        return retry.wait

    def _keep(self, call: _Call, response: _Response, stage: Staging) -> None:
        shown = call.shown(response.geturl())
        name = _name(response)
        stage.write(name, _body(response), max_bytes=self._max_bytes, offered_by=shown)

    def _read(self, call: _Call, response: _Response) -> tuple[bytes, Message]:
        body = bytearray()
        for chunk in _body(response):
            body += chunk
            if len(body) > self._max_bytes:
                raise PayloadTooLarge(
                    f"{call.shown(response.geturl())} sent more than {self._max_bytes} bytes"
                )
        return bytes(body), response.headers

    def _attempt(self, call: _Call, url: str, consume: Callable[[_Response], T]) -> T:
        full, shown = call.authorized(url), call.shown(url)
        request = urllib.request.Request(full, headers=call.headers, method="GET")
        opener = urllib.request.build_opener(_HttpOnlyRedirects)
        try:
            with opener.open(request, timeout=call.timeout) as response:
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self._max_bytes:
                    raise PayloadTooLarge(
                        f"GET {shown} announces {declared} bytes, over the {self._max_bytes} "
                        "bytes this source accepts"
                    )
                return consume(response)
        except urllib.error.HTTPError as exc:
            raise _status_error(shown, exc) from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError) as exc:
            raise _Retry(BackendError(f"GET {shown} failed: {_reason(exc)}"), None) from None
        except TimeoutError:
            error = BackendError(f"GET {shown}: no answer within {call.timeout:g} s")
            raise _Retry(error, None) from None
        except zlib.error:
            raise _Retry(BackendError(f"GET {shown}: a corrupt gzip body"), None) from None
        except OSError as exc:  # the disk, not the network: repeating will not help
            raise BackendError(f"cannot save GET {shown}: {exc.strerror or exc}") from None


def _body(response: _Response) -> Iterator[bytes]:
    """The body's bytes, un-gzipped when the server compressed it."""
    if response.headers.get("Content-Encoding", "").strip().lower() not in ("gzip", "x-gzip"):
        yield from _chunks(response)
        return
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for chunk in _chunks(response):
        yield inflater.decompress(chunk)
    yield inflater.flush()
    if not inflater.eof:
        raise zlib.error("the gzip stream ends early")


def _chunks(response: _Response) -> Iterator[bytes]:
    while chunk := response.read(CHUNK_BYTES):
        yield chunk
    # read(n) returns what arrived when a connection drops early (for compatibility, http.client
    # raises IncompleteRead only from a bare read()), so a cut body is detected here.
    if response.length:
        raise http.client.IncompleteRead(b"", response.length)


def _name(response: _Response) -> str:
    offered = disposition_filename(response.headers.get("Content-Disposition"))
    if offered is not None:
        return offered
    name = url_file_name(response.geturl()) or "response"
    if "." not in name and response.headers.get("Content-Type"):
        name += _SUFFIXES.get(response.headers.get_content_type(), "")
    return name


def _reason(exc: Exception) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, http.client.IncompleteRead):
        return f"the connection closed {reason.expected} bytes before the end of the body"
    return str(reason) or type(reason).__name__


def _status_error(url: str, exc: urllib.error.HTTPError) -> Exception:
    try:
        excerpt = " ".join(exc.read(300).decode("utf-8", "replace").split())
    except (OSError, http.client.HTTPException):
        excerpt = ""
    finally:
        exc.close()
    detail = f"GET {url} answered {exc.code} {exc.reason}" + (f": {excerpt}" if excerpt else "")
    if exc.code in (404, 410):
        return NotFound(detail)
    wait = retry_after_seconds(exc.headers.get("Retry-After")) if exc.headers else None
    if exc.code == 429:
        return _Retry(Throttled(detail), wait)
    if exc.code in _RETRYABLE:
        return _Retry(BackendError(detail), wait)
    return BackendError(detail)
