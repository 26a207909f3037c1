"""Session-wide real components: an AWS-API endpoint (moto server over HTTP), and the Lambda
deployment zip.

Started (or built) lazily, once per test process, only by tests that ask for them; boto3 and
aioboto3 reach the endpoint through the standard ``AWS_ENDPOINT_URL`` configuration, exactly as
they would reach AWS.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import shutil
import socket
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from tests.moto_endpoint import LostAnswers, MotoEndpoint

if TYPE_CHECKING:
    from tests.lambda_zip import LambdaBuild, LambdaCode

# Tests never assert on timings: Hypothesis's per-example deadline would fail a correct example
# that a busy CI machine happened to slow down, so no test has one.
settings.register_profile("overlord", deadline=None)
settings.load_profile("overlord")

_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the tests marked ``long`` first. A worker hands out tests as the others finish
    theirs, so one that starts a four-minute test near the end keeps the whole run waiting
    while the other worker idles."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[MotoEndpoint]:
    """A moto server on 127.0.0.1; the process environment points boto3 at it."""
    port = _free_port()
    saved = {k: os.environ.get(k) for k in [*_AWS_ENV, "AWS_ENDPOINT_URL", "MOTO_PORT"]}
    os.environ.update(_AWS_ENV)
    os.environ.pop("AWS_PROFILE", None)
    os.environ["MOTO_PORT"] = str(port)
    server = MotoEndpoint(port)
    server.start()
    url = server.url
    config = {
        "batch": {"use_docker": False},
        "lambda": {"use_docker": False},
        "stepfunctions": {"execute_state_machine": True},
    }
    request = urllib.request.Request(
        f"{url}/moto-api/config", data=json.dumps(config).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def aws_endpoint(moto_endpoint: MotoEndpoint) -> str:
    """URL of the moto server (see `moto_endpoint`)."""
    return moto_endpoint.url


@pytest.fixture
def lost_answers(moto_endpoint: MotoEndpoint) -> Iterator[LostAnswers]:
    """The server's answer-losing switch, reset after the test."""
    yield moto_endpoint.lost_answers
    moto_endpoint.lost_answers.reset()


@pytest.fixture(scope="session")
def lambda_build(tmp_path_factory: pytest.TempPathFactory) -> LambdaBuild:
    """The Lambda deployment zip (`tests.lambda_zip`), built once per test run: it takes half
    a minute, and the same sources build the same bytes. The first worker to ask builds it
    under a file lock in the run's shared temporary folder and leaves a description of it;
    the other waits on the lock and reads that."""
    from tests.lambda_zip import build_lambda_zip

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, saved = shared / "lambda-package", shared / "lambda-package.pickle"
    with open(shared / "lambda-package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if saved.exists():
            build: LambdaBuild = pickle.loads(saved.read_bytes())
            return build
        shutil.rmtree(folder, ignore_errors=True)  # what a worker that died half-way left
        folder.mkdir()
        build = build_lambda_zip(folder)
        saved.write_bytes(pickle.dumps(build))
    return build


@pytest.fixture(scope="session")
def lambda_code(lambda_build: LambdaBuild, tmp_path_factory: pytest.TempPathFactory) -> LambdaCode:
    """The zip unpacked as Lambda unpacks it, and the runtime's boto3 beside it."""
    from tests.lambda_zip import LambdaCode, runtime_only, unpack

    root = tmp_path_factory.mktemp("lambda-code")
    return LambdaCode(
        task=unpack(lambda_build.zip_path, root / "task"), runtime=runtime_only(root / "runtime")
    )
