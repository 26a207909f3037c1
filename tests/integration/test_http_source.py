"""HttpSource against a real HTTP server: retries, Retry-After, limits, timeouts, redirects, and
what the request carries — what the Source contract cannot ask of adapters that have no HTTP.

Waits are recorded by an injected ``sleep`` instead of slept, so a test of a 2-second
``Retry-After`` takes milliseconds and can assert the exact waits.
"""

from __future__ import annotations

import email.utils
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from overlord.adapters.http.source import HttpSource
from overlord.domain.datasets import ApiSource
from overlord.domain.errors import (
    BackendError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Throttled,
)
from tests.site_server import Site, sample_zip, serve_site


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as running:
        yield running


class Waits(list[float]):
    """A ``sleep`` that remembers instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def source_for(
    site: Site, path: str, token: str | None = None, **query: str
) -> tuple[ApiSource, str]:
    """An ApiSource for ``path`` with a fresh token, and that token."""
    token = token or uuid.uuid4().hex
    return ApiSource(f"{site.url}{path}", (("token", token), *query.items())), token


def calls(site: Site, path: str, token: str) -> int:
    with site._lock:
        return sum(1 for r in site.requests if r.startswith(path + "?") and token in r)


def test_a_429_is_retried_after_the_wait_the_server_asks_for(site: Site, tmp_path: Path) -> None:
    waits = Waits()
    api, token = source_for(site, "/status/429", times="1", retry_after="2")

    files = HttpSource(jitter=lambda: 1.0, sleep=waits).fetch(api, tmp_path)

    assert waits == [2.0]
    assert calls(site, "/status/429", token) == 2
    assert [f.name for f in files] == ["429.json"]
    assert json.loads(files[0].path.read_bytes()) == {"call": 2}


def test_a_retry_after_given_as_a_date_is_honoured(site: Site, tmp_path: Path) -> None:
    waits = Waits()
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    api, _ = source_for(site, "/status/503", times="1", retry_after=when)

    HttpSource(jitter=lambda: 1.0, sleep=waits).fetch(api, tmp_path)

    assert len(waits) == 1
    assert 3.0 <= waits[0] <= 5.0


def test_a_retry_after_beyond_the_limit_fails_at_once_as_throttled(
    site: Site, tmp_path: Path
) -> None:
    waits = Waits()
    api, token = source_for(site, "/status/429", retry_after="3600")

    with pytest.raises(Throttled, match="3600"):
        HttpSource(jitter=lambda: 1.0, sleep=waits, max_wait_seconds=60).fetch(api, tmp_path)

    assert waits == []
    assert calls(site, "/status/429", token) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_server_error_is_retried_with_doubling_waits_then_reported(
    site: Site, tmp_path: Path
) -> None:
    waits = Waits()
    api, token = source_for(site, "/status/500")

    with pytest.raises(BackendError, match="500") as failed:
        HttpSource(sleep=waits, max_attempts=4, backoff_seconds=0.5, jitter=lambda: 1.0).fetch(
            api, tmp_path
        )

    assert failed.type is BackendError
    assert waits == [0.5, 1.0, 2.0]
    assert calls(site, "/status/500", token) == 4
    assert list(tmp_path.iterdir()) == []


def test_backoff_never_waits_longer_than_the_limit(site: Site, tmp_path: Path) -> None:
    waits = Waits()
    api, _ = source_for(site, "/status/429")
    http = HttpSource(
        jitter=lambda: 1.0, sleep=waits, max_attempts=5, backoff_seconds=2, max_wait_seconds=5
    )

    with pytest.raises(Throttled):
        http.fetch(api, tmp_path)

    assert waits == [2, 4, 5, 5]


def test_a_server_error_that_passes_is_fetched_after_one_retry(site: Site, tmp_path: Path) -> None:
    waits = Waits()
    api, _ = source_for(site, "/status/502", times="1")

    files = HttpSource(jitter=lambda: 1.0, sleep=waits, backoff_seconds=0.25).fetch(api, tmp_path)

    assert waits == [0.25]
    assert [f.name for f in files] == ["502.json"]


@pytest.mark.parametrize(
    ("status", "error"), [(404, NotFound), (410, NotFound), (403, BackendError)]
)
def test_a_client_error_is_not_retried_and_says_what_the_server_answered(
    site: Site, tmp_path: Path, status: int, error: type[Exception]
) -> None:
    waits = Waits()
    api, token = source_for(site, f"/status/{status}")

    with pytest.raises(error) as failed:
        HttpSource(jitter=lambda: 1.0, sleep=waits).fetch(api, tmp_path)

    assert failed.type is error
    assert f"answered {status}" in str(failed.value)
    assert f"status {status}" in str(failed.value)  # the body's excerpt
    assert waits == []
    assert calls(site, f"/status/{status}", token) == 1


@pytest.mark.parametrize("declare", ["1", "0"])
def test_a_file_over_the_size_limit_is_refused_and_nothing_is_kept(
    site: Site, tmp_path: Path, declare: str
) -> None:
    api, _ = source_for(site, "/big", size=str(2 << 20), declare=declare)

    with pytest.raises(PayloadTooLarge):
        HttpSource(max_bytes=1 << 20).fetch(api, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_a_file_of_exactly_the_size_limit_is_kept(site: Site, tmp_path: Path) -> None:
    api, _ = source_for(site, "/big", size=str(1 << 20), declare="0")

    files = HttpSource(max_bytes=1 << 20).fetch(api, tmp_path)

    assert [(f.name, f.size) for f in files] == [("big", 1 << 20)]


def test_a_body_cut_short_is_fetched_again(site: Site, tmp_path: Path) -> None:
    waits = Waits()
    api, token = source_for(site, "/truncated", times="1")

    files = HttpSource(jitter=lambda: 1.0, sleep=waits, backoff_seconds=0.1).fetch(api, tmp_path)

    assert waits == [0.1]
    assert [(f.name, f.size) for f in files] == [("truncated", 1000)]
    assert calls(site, "/truncated", token) == 2


def test_a_body_always_cut_short_fails_and_leaves_no_partial_file(
    site: Site, tmp_path: Path
) -> None:
    api, _ = source_for(site, "/truncated")

    with pytest.raises(BackendError, match="closed 990 bytes before the end"):
        HttpSource(sleep=Waits(), max_attempts=2).fetch(api, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_a_server_that_does_not_answer_in_time_times_out(site: Site, tmp_path: Path) -> None:
    api, _ = source_for(site, "/slow", seconds="2")
    started = time.monotonic()

    with pytest.raises(BackendError, match=r"no answer within 0\.3 s"):
        HttpSource(timeout_seconds=0.3, max_attempts=1).fetch(api, tmp_path)

    assert time.monotonic() - started < 1.5


def test_an_unreachable_server_is_retried_then_reported(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits = Waits()

    with pytest.raises(BackendError, match="refused"):
        HttpSource(jitter=lambda: 1.0, sleep=waits, max_attempts=2).fetch(
            ApiSource(f"http://127.0.0.1:{port}/x"), tmp_path
        )

    assert waits == [1.0]


def test_values_fill_the_query_and_configured_headers_are_sent(site: Site, tmp_path: Path) -> None:
    api = ApiSource(f"{site.url}/api/readings", (("station", "{station}"), ("day", "{day}")))
    values = {"station": "north & south=1", "day": "2024-01-31"}

    files = HttpSource(headers={"X-Api-Key": "k-123"}).fetch(api, tmp_path, values=values)

    assert [f.name for f in files] == ["readings.json"]
    answer = json.loads(files[0].path.read_bytes())
    assert answer == {"query": values, "api_key": "k-123"}


def test_a_missing_value_is_invalid_input_and_nothing_is_requested(
    site: Site, tmp_path: Path
) -> None:
    api = ApiSource(f"{site.url}/api/readings", (("day", "{day}"),))
    before = len(site.requests)

    with pytest.raises(InvalidInput, match="day"):
        HttpSource().fetch(api, tmp_path)

    assert len(site.requests) == before


def test_a_redirect_is_followed_and_the_file_keeps_the_name_the_server_offers(
    site: Site, tmp_path: Path
) -> None:
    api = ApiSource(f"{site.url}/redirect", (("to", "/files/data.zip"),))

    files = HttpSource().fetch(api, tmp_path)

    assert [(f.name, f.size) for f in files] == [("data.zip", len(sample_zip()))]


def test_a_redirect_off_http_is_refused(site: Site, tmp_path: Path) -> None:
    api = ApiSource(f"{site.url}/redirect", (("to", "ftp://127.0.0.1/data.zip"),))

    with pytest.raises(BackendError, match="not an http"):
        HttpSource().fetch(api, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(InvalidInput):
        HttpSource(max_attempts=0)
    with pytest.raises(InvalidInput):
        HttpSource(backoff_seconds=-1)
