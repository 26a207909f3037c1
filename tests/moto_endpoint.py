"""A moto server in a thread of the test process, with DynamoDB given the atomicity AWS gives.

DynamoDB applies each conditional write and each transaction atomically. moto does not when
requests arrive concurrently: it checks a condition and writes in two steps, and a cancelled
transaction restores a copy of the whole table taken before it began, erasing any write that
landed in between (seen here as a lost compare-and-set increment). Serialising DynamoDB requests
restores the guarantee the adapters rely on; other services keep moto's threaded handling, so
a long-polling SQS receive never holds up the rest.
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


class MotoEndpoint:
    """moto's backends behind a threaded werkzeug server on 127.0.0.1:``port``."""

    def __init__(self, port: int) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = SerialDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
