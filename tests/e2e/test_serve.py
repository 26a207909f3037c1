"""``overlord serve``: the API's routes over real HTTP on 127.0.0.1, read with urllib.

The server runs in a thread of the test process on a free port, over a memory container, so the
test can look at the same ports the server writes to; one test runs the Typer command itself in
a child process and stops it with Ctrl-C, as a user would.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from overlord.container import Container
from overlord.domain.jobs import JobStatus
from overlord.entrypoints.api.local_server import ApiServer, start_server
from overlord.settings import Settings
from overlord.testing import memory_container
from tests.e2e.conftest import child_env


@pytest.fixture
def served() -> Iterator[tuple[ApiServer, Container]]:
    container = memory_container(Settings(max_payload_bytes=4096))
    server = start_server(container)
    try:
        yield server, container
    finally:
        server.stop()


def call(
    server: ApiServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(
        server.url + path, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw, status, sent = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, sent = error.read(), error.code, dict(error.headers)
    return status, json.loads(raw) if raw else None, {k.lower(): v for k, v in sent.items()}


def test_provision_submit_and_read_a_job_over_http(
    served: tuple[ApiServer, Container],
) -> None:
    server, container = served

    provisioned = call(server, "PUT", "/tenants/acme/connectors/weather")
    submitted = call(
        server,
        "POST",
        "/tenants/acme/connectors/weather/jobs/ingest",
        json.dumps({"stations": ["KSEA"]}).encode(),
        {"Content-Type": "application/json", "Idempotency-Key": "tick-1"},
    )
    again = call(
        server,
        "POST",
        "/init/ingest/acme/weather",
        b'{"stations": ["KSEA"]}',
        {"Idempotency-Key": "tick-1"},
    )
    job_id = submitted[1]["job_id"]
    backend = container.jobs().get("acme", job_id).backend_job_id
    container.job_runner().advance(backend, JobStatus.RUNNING)
    container.job_runner().write_log(backend, 1, "hello from KSEA")
    container.job_runner().advance(backend, JobStatus.SUCCEEDED)
    shown = call(server, "GET", f"/tenants/acme/jobs/{job_id}")
    logs = call(server, "GET", f"/tenants/acme/jobs/{job_id}/logs")
    listed = call(server, "GET", "/tenants/acme/jobs?status=SUCCEEDED")

    assert provisioned[0] == 200
    assert {r["action"] for r in provisioned[1]["resources"]} == {"created"}
    assert (submitted[0], submitted[1]["created"]) == (202, True)
    assert submitted[2]["location"] == f"/tenants/acme/jobs/{job_id}"
    assert (again[0], again[1]) == (200, {**submitted[1], "created": False})
    assert (shown[0], shown[1]["status"], len(shown[1]["runs"])) == (200, "SUCCEEDED", 1)
    assert [line["message"] for line in logs[1]["logs"]] == ["hello from KSEA"]
    assert [job["job_id"] for job in listed[1]["jobs"]] == [job_id]


def test_errors_are_json_with_the_status_of_their_kind(
    served: tuple[ApiServer, Container],
) -> None:
    server, container = served
    call(server, "PUT", "/tenants/acme/connectors/weather")
    ingest = "/tenants/acme/connectors/weather/jobs/ingest"

    cases = {
        "no route": call(server, "GET", "/nowhere"),
        "wrong method": call(server, "DELETE", "/tenants/acme/jobs"),
        "bad json": call(server, "POST", ingest, b"{not json"),
        "not an object": call(server, "POST", ingest, b"[1, 2, 3]"),
        "not utf-8": call(server, "POST", ingest, b'{"a": "\xff\xfe"}'),
        "too large": call(server, "POST", ingest, b'{"a": "' + b"x" * 5000 + b'"}'),
        "hostile name": call(server, "GET", "/tenants/..%2Fx/jobs"),
        "look-alike": call(server, "GET", "/tenants/%D0%B0cme/jobs"),
        "unknown job type": call(server, "POST", "/tenants/acme/connectors/weather/jobs/x1"),
    }

    statuses = {name: (status, body["error"]["code"]) for name, (status, body, _) in cases.items()}
    assert statuses == {
        "no route": (404, "route_not_found"),
        "wrong method": (405, "method_not_allowed"),
        "bad json": (400, "malformed_request"),
        "not an object": (400, "malformed_request"),
        "not utf-8": (400, "malformed_request"),
        "too large": (413, "payload_too_large"),
        "hostile name": (400, "invalid_name"),
        "look-alike": (400, "invalid_name"),
        "unknown job type": (404, "not_found"),
    }
    assert cases["wrong method"][2]["allow"] == "GET"
    assert container.jobs().list("acme") == []


def test_a_method_http_server_does_not_know_is_405_not_501(
    served: tuple[ApiServer, Container],
) -> None:
    server, _ = served
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        connection.request("BREW", "/tenants/acme/jobs")
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()

    assert response.status == 405
    assert body["error"]["code"] == "method_not_allowed"


def test_head_gets_headers_and_no_body(served: tuple[ApiServer, Container]) -> None:
    server, _ = served
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        connection.request("HEAD", "/tenants/acme/jobs")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()

    assert (response.status, body) == (405, b"")
    assert int(response.headers["Content-Length"]) > 0


def test_concurrent_identical_submissions_make_one_job(
    served: tuple[ApiServer, Container],
) -> None:
    server, container = served
    call(server, "PUT", "/tenants/acme/connectors/weather")

    def submit(_: int) -> tuple[int, str, bool]:
        status, body, _headers = call(
            server, "POST", "/tenants/acme/connectors/weather/jobs/ingest", b'{"n": 1}'
        )
        return status, body["job_id"], body["created"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(submit, range(16)))

    assert sorted(status for status, _, _ in results) == [200] * 15 + [202]
    assert len({job_id for _, job_id, _ in results}) == 1
    assert len(container.job_runner().submitted) == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


SERVE_COMMAND = """
import sys
import typer
from overlord.entrypoints.cli.serve import serve
app = typer.Typer()
app.command()(serve)
app(sys.argv[1:])
"""


def test_the_serve_command_serves_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE_COMMAND, "--port", str(port)],
        env=child_env(tmp_path / "home", OVERLORD_PROFILE="memory"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/tenants/acme/connectors/weather"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(url, method="PUT"), timeout=5
                ) as response:
                    status = response.status
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, child.stderr.read() if child.stderr else ""
                assert child.poll() is None
                time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()

    assert status == 200
    assert child.returncode == 0
    assert f"serving the Overlord API on http://127.0.0.1:{port}" in stderr
    assert '"PUT /tenants/acme/connectors/weather HTTP/1.1" 200' in stderr
    assert stderr.rstrip().endswith("stopped")
