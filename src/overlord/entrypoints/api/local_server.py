"""The API over real HTTP on this machine: what ``overlord serve`` runs.

Each request becomes the API Gateway HTTP API (payload 2.0) event API Gateway would send and is
answered by the same `HttpApi.handle` the Lambda handler calls, so a route behaves locally as it
does deployed and there is no second router to drift. Only what API Gateway itself would refuse
before invoking anything (a body over its 10 MiB limit, no length) is answered here.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from overlord.entrypoints.api.app import HttpApi
from overlord.entrypoints.api.errors import Reply, error_reply

if TYPE_CHECKING:
    from collections.abc import Callable

    from overlord.container import Container

GATEWAY_BODY_LIMIT = 10 * 1024 * 1024


def http_api_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The HTTP API v2 proxy event for one request, as API Gateway builds it: header names
    lower-cased and repeated values joined with commas, the path as sent, the query decoded."""
    split = urlsplit(target)
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": split.path or "/",
        "rawQueryString": split.query,
        "headers": joined,
        "requestContext": {
            "http": {
                "method": method,
                "path": split.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


class ApiServer(ThreadingHTTPServer):
    """An HTTP server answering every request through one `HttpApi`."""

    daemon_threads = True
    # socketserver's default backlog of 5 drops bursts of connections (clients then wait a
    # second to retry their SYN): a page or a script firing requests in parallel needs more.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: HttpApi, *, access_log: bool) -> None:
        self.api = api
        self.access_log = access_log
        super().__init__(address, _ProxyHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        return f"http://{shown}:{port}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    timeout = 60

    def __getattr__(self, name: str) -> Callable[[], None]:
        # http.server dispatches to do_<METHOD> and answers 501 when there is none; every
        # method goes to the API instead, which answers 405 for one no route accepts.
        if name.startswith("do_"):
            return self._proxy
        raise AttributeError(name)

    def _proxy(self) -> None:
        if "transfer-encoding" in self.headers:
            self._refuse(
                error_reply(
                    HTTPStatus.LENGTH_REQUIRED,
                    "length_required",
                    "send the body with a Content-Length",
                )
            )
            return
        try:
            length = int(self.headers.get("content-length", "0"))
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self._refuse(
                error_reply(
                    HTTPStatus.BAD_REQUEST, "malformed_request", "Content-Length is not a length"
                )
            )
            return
        if length > GATEWAY_BODY_LIMIT:
            self._refuse(
                error_reply(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    "payload_too_large",
                    f"the body is over {GATEWAY_BODY_LIMIT} bytes",
                )
            )
            return
        body = self.rfile.read(length) if length else b""
        event = http_api_event(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        self._send(self.server.api.handle(event))

    def _refuse(self, reply: Reply) -> None:
        """Answer without reading the body, so the connection cannot be reused."""
        self.close_connection = True
        self._write(
            int(reply.status),
            {"Content-Type": "application/json", "Connection": "close", **reply.headers},
            reply.text().encode("utf-8"),
        )

    def _send(self, response: dict[str, Any]) -> None:
        body = response.get("body") or ""
        raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode("utf-8")
        headers = dict(response.get("headers") or {})
        self._write(int(response["statusCode"]), headers, raw, response.get("cookies") or [])

    def _write(
        self, status: int, headers: dict[str, str], body: bytes, cookies: list[str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        for cookie in cookies or []:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.access_log:
            super().log_message(format, *args)


def make_server(
    container: Container, host: str = "127.0.0.1", port: int = 8000, *, access_log: bool = True
) -> ApiServer:
    """A server bound to ``host:port`` (port 0: any free port), not yet serving."""
    return ApiServer((host, port), HttpApi(container), access_log=access_log)


def start_server(
    container: Container, host: str = "127.0.0.1", port: int = 0, *, access_log: bool = False
) -> ApiServer:
    """Serve in a background thread; stop with `ApiServer.stop`.

    >>> from overlord.testing import memory_container
    >>> server = start_server(memory_container())
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> server.stop()
    """
    server = make_server(container, host, port, access_log=access_log)
    # A short poll keeps `ApiServer.stop` quick: shutdown waits for the loop's next poll.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="overlord-serve", daemon=True
    )
    thread.start()
    return server
