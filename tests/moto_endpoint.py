"""A moto server in a thread of the test process, with DynamoDB given the atomicity AWS gives.

DynamoDB applies each conditional write and each transaction atomically. moto does not when
requests arrive concurrently: it checks a condition and writes in two steps, and a cancelled
transaction restores a copy of the whole table taken before it began, erasing any write that
landed in between (seen here as a lost compare-and-set increment). Serialising DynamoDB requests
restores the guarantee the adapters rely on; other services keep moto's threaded handling, so
a long-polling SQS receive never holds up the rest.

`LostAnswers` lets a test make the server act on a request and then fail to answer it, the
fault that makes a non-idempotent call (SubmitJob) dangerous to resend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

_DYNAMODB_TARGET = "DynamoDB_"


class SerialDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, the response built inside the lock."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(_DYNAMODB_TARGET):
            return self._app(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))


class LostAnswers:
    """WSGI middleware: requests to a path are handled by moto, then answered with an error."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}
        self.lost: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._pending.clear()
            self.lost.clear()

    def lose(self, path: str, count: int = 1) -> None:
        """Answer the next ``count`` requests to ``path`` with HTTP 500, after moto acted."""
        with self._lock:
            self._pending[path] = self._pending.get(path, 0) + count

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        with self._lock:
            losing = self._pending.get(path, 0) > 0
            if losing:
                self._pending[path] -= 1
                self.lost[path] = self.lost.get(path, 0) + 1
        if not losing:
            return self._app(environ, start_response)
        list(self._app(environ, lambda status, headers, exc_info=None: None))
        body = b'{"__type": "InternalServerError", "message": "the answer was lost"}'
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


class MotoEndpoint:
    """moto's backends behind a threaded werkzeug server on 127.0.0.1:``port``."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        self.lost_answers = LostAnswers(
            SerialDynamoDB(DomainDispatcherApplication(create_backend_app))
        )
        self._server = make_server(
            "127.0.0.1", port, self.lost_answers, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
