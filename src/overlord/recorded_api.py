"""Recorded responses of an HTTP API, served on 127.0.0.1: a recipe run end to end, offline.

``overlord quickstart`` runs the weather connector's ``observations`` dataset against a recording
of the National Weather Service API (``overlord/samples/nws-observations-KSEA-KJFK.json``)
through the recipe's mirror URL, so the whole path — gather, paging, raw folders, the process
and partition jobs — runs on a machine without the network, and the docs can show it as written.

A recording is JSON: ``{"origin", "links", "exchanges": [{"path", "query", "body"}]}``. A GET
whose path and query (in any order) are an exchange's gets its body, as the API sent it; any
other GET gets 404 in the API's problem format, naming what was asked. ``links`` are the dotted
paths of the URLs a client follows (``pagination.next``): only those are moved from ``origin``
onto this server, since a recipe refuses a next page on another host. Everything else is left
as recorded, so what lands is byte for byte what the real API gave, whichever port served it.

It lives outside ``overlord.samples``, which holds job commands that nothing inside Overlord may
import, and uses only the standard library.

    python -m overlord.recorded_api --port 8000     # the bundled NWS recording, until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from attrs import frozen

NWS_OBSERVATIONS = "nws-observations-KSEA-KJFK.json"
# What the NWS recording covers: both stations over three hours, KSEA's in two pages.
NWS_WINDOW = ("2026-01-05T06:00:00Z", "2026-01-05T09:00:00Z")
NWS_STATIONS = "KSEA,KJFK"

Query = tuple[tuple[str, str], ...]


def _query(text: str) -> Query:
    return tuple(sorted(parse_qsl(text, keep_blank_values=True)))


@frozen
class Exchange:
    path: str
    query: Query
    body: Mapping[str, Any]


@frozen
class Recording:
    origin: str
    links: tuple[str, ...]
    exchanges: tuple[Exchange, ...]

    @classmethod
    def from_json(cls, text: str | bytes) -> Recording:
        data = json.loads(text)
        exchanges = tuple(
            Exchange(e["path"], tuple(sorted(e.get("query", {}).items())), e["body"])
            for e in data["exchanges"]
        )
        return cls(data["origin"].rstrip("/"), tuple(data.get("links", ())), exchanges)

    @classmethod
    def bundled(cls, name: str = NWS_OBSERVATIONS) -> Recording:
        """A recording shipped in ``overlord/samples`` (the package data of the wheel)."""
        return cls.from_json((files("overlord.samples") / name).read_bytes())

    def answer(self, target: str, url: str) -> bytes | None:
        """The recorded body for the request target ``/path?query``, its links moved onto
        ``url``; None when nothing was recorded for it."""
        parts = urlsplit(target)
        asked = (parts.path, _query(parts.query))
        for exchange in self.exchanges:
            if (exchange.path, exchange.query) == asked:
                body = json.loads(json.dumps(exchange.body))  # a copy to move links in
                for path in self.links:
                    _move_link(body, path, self.origin, url)
                return json.dumps(body, ensure_ascii=False).encode("utf-8")
        return None


def _move_link(body: Any, path: str, origin: str, url: str) -> None:
    *parents, last = path.split(".")
    for key in parents:
        body = body.get(key) if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(body.get(last), str):
        link: str = body[last]
        if link.startswith(origin):
            body[last] = url + link[len(origin) :]


class RecordedApi:
    """A running server: its base ``url`` and every request target it was asked, in order."""

    def __init__(self, recording: Recording, url: str) -> None:
        self.recording = recording
        self.url = url
        self._lock = threading.Lock()
        self._requests: list[str] = []

    @property
    def requests(self) -> list[str]:
        with self._lock:
            return list(self._requests)

    def asked(self, target: str) -> None:
        with self._lock:
            self._requests.append(target)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: RecordedApi


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the quickstart's output is its own, and a test reads `requests` instead."""

    def do_GET(self) -> None:
        api = self.server.api
        api.asked(self.path)
        body = api.recording.answer(self.path, api.url)
        if body is not None:
            self._send(200, "application/geo+json", body)
            return
        problem = {
            "type": f"{api.recording.origin}/problems/NotFound",
            "title": "Not Found",
            "status": 404,
            "detail": f"nothing was recorded for GET {self.path[:300]}",
        }
        self._send(404, "application/problem+json", json.dumps(problem).encode("utf-8"))

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serve(recording: Recording, port: int = 0) -> Iterator[RecordedApi]:
    """Serve ``recording`` on 127.0.0.1 (a free port unless told) until the block ends.

    >>> from urllib.request import urlopen
    >>> with serve(Recording.bundled()) as api:
    ...     page = urlopen(f"{api.url}/stations/KJFK/observations?end=2026-01-05T09:00:00Z"
    ...                    "&start=2026-01-05T06:00:00Z")
    ...     len(json.load(page)["features"])
    3
    """
    server = _Server(("127.0.0.1", port), _Handler)
    api = RecordedApi(recording, f"http://127.0.0.1:{server.server_address[1]}")
    server.api = api
    thread = threading.Thread(target=server.serve_forever, name="recorded-api", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m overlord.recorded_api",
        description="Serve a recorded API on 127.0.0.1 until interrupted.",
    )
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "recording",
        nargs="?",
        help=f"a recording's JSON file (default: the bundled {NWS_OBSERVATIONS})",
    )
    args = parser.parse_args(argv)
    if args.recording is None:
        recording = Recording.bundled()
    else:
        with open(args.recording, "rb") as file:
            recording = Recording.from_json(file.read())
    with serve(recording, args.port) as api:
        print(f"serving {recording.origin} as recorded at {api.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
