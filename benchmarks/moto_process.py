"""A moto server in its own process for the benchmarks that talk to AWS APIs over HTTP.

The server runs in a child process so that it and the clients under test do not share one GIL:
otherwise the figures would measure moto's CPU as much as the client's.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import socket
import threading
import urllib.request
from typing import Any


def _serve(port: int, ready: Any) -> None:
    """Child process: moto's ThreadedMotoServer, until the parent terminates it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    ready.set()
    threading.Event().wait()


def start_moto(config: dict[str, Any] | None = None) -> Any:
    """moto on a free 127.0.0.1 port with ``config`` posted to ``/moto-api/config``; the
    environment points boto3 at it. Returns the server process (terminate it when done)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "MOTO_PORT": str(port),
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(port, ready), daemon=True)
    server.start()
    if not ready.wait(timeout=60):
        raise SystemExit("the moto server did not start")
    url = f"http://127.0.0.1:{port}"
    body = json.dumps(config or {}).encode()
    request = urllib.request.Request(f"{url}/moto-api/config", data=body, method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    os.environ["AWS_ENDPOINT_URL"] = url
    return server
