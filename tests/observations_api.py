"""An observations API on 127.0.0.1 that behaves like the real ones an API recipe walks.

It wants an API key (``X-Api-Key``, ``api_key=`` or ``Authorization: Bearer``), filters by
``start``/``end`` (UTC ISO) and ``station``, pages five ways (``/v1/token``, ``/v1/next``,
``/v1/link``, ``/v1/page``, ``/v1/offset``; two records a page), gzips when asked, and with
``faults=1`` answers each page's first request 429 (``Retry-After: 1``) and the second 503.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

KEY = "obs-key-7f3a9c"
STATIONS = ("KSEA", "KPDX", "KBOI")
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 2


def observations() -> list[dict[str, Any]]:
    """Hourly readings of every station over the first six hours of 2026."""
    return [
        {
            "station": station,
            "properties": {
                "timestamp": (FIRST + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "temperature": h * 1.5,
            },
        }
        for station in STATIONS
        for h in range(6)
    ]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: ObservationsApi


class ObservationsApi:
    def __init__(self) -> None:
        self.url = ""
        self.lock = threading.Lock()
        self.seen: dict[str, int] = {}
        self.requests: list[str] = []
        self.gzipped = 0

    def count(self, key: str) -> int:
        with self.lock:
            self.seen[key] = self.seen.get(key, 0) + 1
            self.requests.append(key)
            return self.seen[key]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        api = self.server.api
        headers = dict(headers or {})
        if "gzip" in self.headers.get("Accept-Encoding", "") and status == 200:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
            with api.lock:
                api.gzipped += 1
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        keys = {self.headers.get("X-Api-Key"), query.pop("api_key", None)}
        keys.add(self.headers.get("Authorization", "").removeprefix("Bearer "))
        if KEY not in keys:
            self._send(401, b'{"error": "missing or wrong API key"}')
            return
        attempt = self.server.api.count(parts.path + "?" + urlencode(sorted(query.items())))
        if query.get("faults") == "1" and attempt == 1:
            self._send(429, b'{"error": "slow down"}', {"Retry-After": "1"})
            return
        if query.get("faults") == "1" and attempt == 2:
            self._send(503, b'{"error": "try again"}')
            return
        rows = observations()
        if "station" in query:
            rows = [r for r in rows if r["station"] == query["station"]]
        for bound, keep in (("start", lambda t, b: t >= b), ("end", lambda t, b: t < b)):
            if bound in query:
                rows = [r for r in rows if keep(r["properties"]["timestamp"], query[bound])]
        self._page(parts.path, query, rows)

    def _page(self, path: str, query: dict[str, str], rows: list[dict[str, Any]]) -> None:
        base = {k: v for k, v in query.items() if k not in ("page_token", "page", "offset")}
        if path == "/v1/page":
            at = (int(query.get("page", "1")) - 1) * PAGE
            self._send(200, json.dumps(rows[at : at + PAGE]).encode())
            return
        if path == "/v1/offset":
            at, limit = int(query.get("offset", "0")), int(query.get("limit", "100"))
            self._send(200, json.dumps({"data": rows[at : at + limit]}).encode())
            return
        at = int(query.get("page_token", "0") or 0)
        chunk, after = rows[at : at + PAGE], at + PAGE
        more = after < len(rows)
        link = f"{self.server.api.url}{path}?{urlencode({**base, 'page_token': after})}"
        if path == "/v1/token":
            body = {"features": chunk, "meta": {"next_token": str(after) if more else None}}
            self._send(200, json.dumps(body).encode())
        elif path == "/v1/next":
            body = {"features": chunk, "links": {"next": link if more else None}}
            self._send(200, json.dumps(body).encode())
        elif path == "/v1/link":
            headers = {"Link": f'<{link}>; rel="next"'} if more else {}
            self._send(200, json.dumps({"features": chunk}).encode(), headers)
        else:
            self._send(404, b'{"error": "no such endpoint"}')


@contextlib.contextmanager
def serve_observations() -> Iterator[ObservationsApi]:
    api = ObservationsApi()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.api = api
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="observations", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
