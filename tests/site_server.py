"""A small web site on 127.0.0.1 for the Source tests, served by ``http.server`` in a thread.

It stands in for the sites and APIs datasets are gathered from: a page with a download link and
a button that appears late and starts two downloads, a JSON API that echoes its query, files
registered by a test under any name (hostile ones included), and endpoints that fail on
purpose: a status code for the first N calls (429 with ``Retry-After``, 500...), a body cut
short, a slow answer, a redirect, more bytes than a limit; and a bulk-download form like a
regulator's (``tests/bulk_page.py``). Each failing endpoint counts its calls per ``token`` (the
bulk page per ``key``) so tests sharing one site do not disturb each other.
"""

from __future__ import annotations

import contextlib
import html
import http.server
import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest

from overlord.adapters.selenium.scraper import CHROMEDRIVER, CHROMIUM, INSTALL_HINT
from tests import bulk_page


def sample_zip(rows: int = 50) -> bytes:
    """A real zip (a CSV inside) with fixed timestamps, so its checksum is stable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("readings.csv", date_time=(2024, 1, 31, 0, 0, 0))
        lines = "station,value\n" + "".join(f"s{i},{i * 1.5}\n" for i in range(rows))
        archive.writestr(info, lines)
    return buffer.getvalue()


INDEX = """<!doctype html>
<html><head><title>Call reports</title></head><body>
<h1>Call reports</h1>
<a id="download" href="/files/data.zip">Download all reports</a>
<button id="export" hidden>Export</button>
<script>
  setTimeout(() => { document.getElementById("export").hidden = false; }, 300);
  document.getElementById("export").addEventListener("click", () => {
    for (const name of ["export.zip", "notes.txt"]) {
      const link = document.createElement("a");
      link.href = "/files/" + name;
      link.download = name;
      document.body.appendChild(link);
      link.click();
    }
  });
</script>
</body></html>
"""

PAGE = """<!doctype html>
<html><body><a id="download" href="{href}">Download</a></body></html>
"""


class Site:
    """What a test sees of the running site."""

    def __init__(self) -> None:
        self.url = ""
        self._lock = threading.Lock()
        self._files: dict[str, tuple[str, bytes]] = {
            "data.zip": ("data.zip", sample_zip()),
            "export.zip": ("export.zip", sample_zip(rows=7)),
            "notes.txt": ("notes.txt", b"not a dataset\n"),
        }
        self._calls: dict[str, int] = {}
        self._tokens: set[str] = set()  # the bulk page's form tokens the server accepts
        self._posts: dict[str, list[dict[str, str]]] = {}
        self._cookies: dict[str, list[str | None]] = {}
        self.requests: list[str] = []

    def bulk_url(self, **query: str) -> str:
        """The bulk-download page, counted under a fresh ``key`` unless one is given."""
        query.setdefault("key", uuid.uuid4().hex)
        return f"{self.url}/bulk?{urlencode(query)}"

    def bulk_posts(self, url: str) -> list[dict[str, str]]:
        """The forms posted from the bulk page at ``url``, in order."""
        key = dict(parse_qsl(urlsplit(url).query))["key"]
        with self._lock:
            return list(self._posts.get(key, []))

    def file(self, key: str) -> tuple[str, bytes]:
        with self._lock:
            return self._files[key]

    def add_file(self, name: str, data: bytes) -> str:
        """Serve ``data`` offered as ``name``; the key for `file_url` and `page_url`."""
        key = uuid.uuid4().hex
        with self._lock:
            self._files[key] = (name, data)
        return key

    def file_url(self, key: str) -> str:
        return f"{self.url}/files/{key}"

    def page_url(self, key: str) -> str:
        """A page whose ``#download`` link downloads the file ``key``."""
        return f"{self.url}/pages/{key}"

    def link_page_url(self, href: str) -> str:
        """A page whose ``#download`` link points at ``href``."""
        return f"{self.url}/link?href={quote(href, safe='')}"

    def count(self, path: str) -> int:
        """How many requests asked for ``path`` (query included, if given)."""
        with self._lock:
            return sum(1 for r in self.requests if r == path or r.startswith(path + "?"))

    def _call(self, token: str) -> int:
        with self._lock:
            self._calls[token] = self._calls.get(token, 0) + 1
            return self._calls[token]

    def _log(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def bulk_cookies(self, url: str) -> list[str | None]:
        """The ``Cookie`` header each load of the bulk page at ``url`` came with (None: none)."""
        key = dict(parse_qsl(urlsplit(url).query))["key"]
        with self._lock:
            return list(self._cookies.get(key, []))

    def _load(self, key: str, cookie: str | None) -> int:
        with self._lock:
            self._cookies.setdefault(key, []).append(cookie)
            return len(self._cookies[key])

    def _issue_token(self, valid: bool) -> str:
        token = uuid.uuid4().hex
        if valid:
            with self._lock:
                self._tokens.add(token)
        return token

    def _post(self, key: str, form: dict[str, str]) -> bool:
        """Record a posted form; whether its token is one the server issued."""
        with self._lock:
            self._posts.setdefault(key, []).append(form)
            return form.get("__REQUESTTOKEN") in self._tokens


def _first(spec: str | None, call: int) -> bool:
    """Whether ``call`` falls within ``spec``: a count of first calls, or ``always``."""
    return spec == "always" or (spec is not None and call <= int(spec))


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        site = self.server.site
        site._log(self.path)
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        head, _, rest = parts.path.lstrip("/").partition("/")
        routes = {
            "": lambda: self._send(200, INDEX.encode(), "text/html"),
            "files": lambda: self._file(rest),
            "pages": lambda: self._send(
                200, PAGE.format(href=f"/files/{rest}").encode(), "text/html"
            ),
            "api": lambda: self._api(query),
            "link": lambda: self._send(
                200, PAGE.format(href=html.escape(query["href"])).encode(), "text/html"
            ),
            "status": lambda: self._status(int(rest), query),
            "truncated": lambda: self._truncated(query),
            "big": lambda: self._big(int(query["size"]), query.get("declare") == "1"),
            "slow": lambda: self._slow(float(query["seconds"])),
            "redirect": lambda: self._send(302, b"", "text/plain", {"Location": query["to"]}),
            "bulk": lambda: self._bulk_page(query),
        }
        route = routes.get(head)
        if route is None:
            self._send(404, b"<h1>Not found</h1>", "text/html")
        else:
            route()

    def do_POST(self) -> None:
        site = self.server.site
        site._log(f"POST {self.path}")
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if parts.path != "/bulk/download":
            self._send(404, b"<h1>Not found</h1>", "text/html")
            return
        form = dict(parse_qsl(body.decode()))
        if not site._post(query.get("key", ""), form):
            self._bulk_page(query, message=bulk_page.EXPIRED)
        elif form.get("period") not in bulk_page.PERIOD_IDS:
            self._bulk_page(query, message="Select a reporting period.")
        else:
            period = bulk_page.PERIOD_IDS[form["period"]]
            self._stream(bulk_page.bulk_zip(form), bulk_page.file_name(period))

    def _bulk_page(self, query: dict[str, str], message: str = "") -> None:
        """The form; a load within ``fail`` answers 500, within ``stale`` gets a dead token.

        Each answer sets a session cookie, so a test can tell a fresh browser from a reused one.
        """
        site = self.server.site
        if message:  # an answer to a POST, not a load
            token = site._issue_token(valid=True)
        else:
            load = site._load(query.get("key", ""), self.headers.get("Cookie"))
            if _first(query.get("fail"), load):
                cookie = {"Set-Cookie": f"session={uuid.uuid4().hex}; Path=/"}
                self._send(500, b"<h1>Service Unavailable</h1>", "text/html", cookie)
                return
            token = site._issue_token(valid=not _first(query.get("stale"), load))
        no_data = query.get("nodata") == "1"
        page = bulk_page.render(urlencode(query), token, message, no_data=no_data)
        self._send(200, page, "text/html", {"Set-Cookie": f"session={token}; Path=/"})

    def _stream(self, data: bytes, name: str) -> None:
        """``data`` in chunks with pauses (chunked transfer, so no length is announced)."""
        self.protocol_version = "HTTP/1.1"  # chunked encoding does not exist in HTTP/1.0
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Disposition", f'attachment; filename="{name}"')
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        with contextlib.suppress(ConnectionError):
            for start in range(0, len(data), bulk_page.CHUNK_BYTES):
                chunk = data[start : start + bulk_page.CHUNK_BYTES]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                time.sleep(0.01)
            self.wfile.write(b"0\r\n\r\n")

    def _send(
        self, code: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _api(self, query: dict[str, str]) -> None:
        """Echo the query and the API key header, so a test sees exactly what was sent."""
        echo = {"query": query, "api_key": self.headers.get("X-Api-Key")}
        self._send(200, json.dumps(echo).encode(), "application/json")

    def _file(self, key: str) -> None:
        try:
            name, data = self.server.site.file(key)
        except KeyError:
            self._send(404, b"<h1>No such file</h1>", "text/html")
            return
        disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
        self._send(200, data, "application/octet-stream", {"Content-Disposition": disposition})

    def _status(self, code: int, query: dict[str, str]) -> None:
        """``code`` for the first ``times`` calls with this ``token``, then 200 with JSON."""
        call = self.server.site._call(f"status-{code}-{query.get('token', '')}")
        if call > int(query.get("times", "1000000")):
            self._send(200, json.dumps({"call": call}).encode(), "application/json")
            return
        headers = {"Retry-After": query["retry_after"]} if "retry_after" in query else {}
        if query.get("attachment"):
            headers["Content-Disposition"] = "attachment; filename=gone.zip"
        self._send(code, f"<h1>status {code}</h1>".encode(), "text/html", headers)

    def _truncated(self, query: dict[str, str]) -> None:
        """Announce 1000 bytes; send only 10 for the first ``times`` calls with this token."""
        call = self.server.site._call(f"truncated-{query.get('token', '')}")
        cut = call <= int(query.get("times", "1000000"))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"t" * (10 if cut else 1000))

    def _big(self, size: int, declare: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if declare:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        with contextlib.suppress(ConnectionError):  # a client that gives up early hangs up
            for start in range(0, size, 1 << 16):
                self.wfile.write(b"x" * min(1 << 16, size - start))

    def _slow(self, seconds: float) -> None:
        time.sleep(seconds)
        with contextlib.suppress(ConnectionError):
            self._send(200, b"{}", "application/json")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    site: Site


@contextlib.contextmanager
def serve_site() -> Iterator[Site]:
    """The site on a free port of 127.0.0.1 until the block ends."""
    site = Site()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.site = site
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="test-site", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def require_chromium() -> None:
    """Fail (never skip) when the browser is missing: a skipped scraper suite proves nothing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: Chromium is required; {INSTALL_HINT}")
