"""Every Lambda handler run from the deployment zip alone, as Lambda runs it.

A child interpreter is started isolated (``-I -S``: no site-packages, no ``PYTHON*``
variables) with two folders on its path: the zip unpacked, and boto3 with its dependencies, which
is what the Lambda runtime adds. Against the tests' moto server it invokes each module-level
handler once with an event AWS would send, on the aws profile, doing real work: the API reads a
job, a schedule tick submits one to Batch, a Batch event is tracked, maintenance sweeps, a
batch's finish call is refused for a batch nobody started, and S3 notifications of landed
manifests make the object-created handler write Parquet partitions with the zip's pyarrow.
Then no module may have come from anywhere but the zip, the runtime's folder or the standard
library (the zip's own botocore, the one aioboto3 accepts, ahead of the runtime's), and a user's
task package given with ``--with`` must be found through its entry point.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from overlord.adapters.memory.source import MemorySource
from overlord.container import Container
from overlord.settings import Settings
from tests.e2e.api_events import rest_event
from tests.e2e.conftest import child_env
from tests.e2e.test_lambda_handlers import batch_event, tick
from tests.e2e.test_lambda_object_events import notification, s3_record
from tests.e2e.test_lambda_partition_events import (
    HOURS,
    LANDED,
    PER_HOUR,
    TENANT,
    bucket_of,
    land,
    read_partition,
)
from tests.lambda_zip import PLUGIN_TASK, LambdaCode
from tests.observation_windows import CONNECTOR, EVENT, weather_events

CHILD = """
import json, sys, sysconfig

task, runtime, events_file, out_file = sys.argv[1:5]
sys.path[:0] = [task, runtime]

import overlord.entrypoints.lambdas.handlers as lambdas


class Context:
    aws_request_id = "3f2a9c1e-from-the-zip"
    function_name = "overlord"


def call(handler, event):
    try:
        return {"answer": handler(event, Context())}
    except Exception as exc:
        return {"raised": type(exc).__name__, "message": str(exc)}


with open(events_file) as stream:
    events = json.load(stream)
found = {
    "api": call(lambdas.api_handler, events["api"]),
    "schedule": call(lambdas.schedule_handler, events["schedule"]),
    "job_state_change": call(lambdas.job_state_change_handler, events["job_state_change"]),
    "maintenance": call(lambdas.maintenance_handler, events["maintenance"]),
    "pipeline_step": call(lambdas.pipeline_step_handler, events["pipeline_step"]),
    "object_created": call(lambdas.object_created_handler, events["object_created"]),
}
from overlord.tasks import default_registry

task_function = default_registry().get(events["task"])
found["task"] = {
    "file": sys.modules[task_function.__module__].__file__,
    "result": task_function(["quiet", "LOUD"], None),
}
allowed = (task, runtime, sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"))
found["outside"] = sorted(
    name
    for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and not module.__file__.startswith(allowed)
)
found["origins"] = {
    name: getattr(sys.modules.get(name), "__file__", None)
    for name in ("pyarrow", "aioboto3", "botocore")
}
with open(out_file, "w") as stream:
    json.dump(found, stream, default=str)
"""


@pytest.fixture
def aws(aws_account: dict[str, str], tmp_path: Path) -> Iterator[Container]:
    container = Container.from_settings(Settings.load(aws_account, tmp_path / "absent.toml"))
    container.catalog().add(weather_events(container))
    container.provisioning().apply(TENANT, CONNECTOR)
    container.source.override(providers.Object(MemorySource()))
    yield container
    container.shutdown_resources()


def run_from_the_zip(
    code: LambdaCode, events: dict[str, Any], tmp_path: Path, settings: dict[str, str]
) -> dict[str, Any]:
    (tmp_path / "events.json").write_text(json.dumps(events))
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            CHILD,
            str(code.task),
            str(code.runtime),
            str(tmp_path / "events.json"),
            str(tmp_path / "found.json"),
        ],
        env=child_env(tmp_path / "home", **settings),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads((tmp_path / "found.json").read_text())
    return found


def test_every_handler_runs_from_the_zip_beside_nothing_but_the_runtimes_boto3(
    lambda_code: LambdaCode, aws: Container, aws_account: dict[str, str], tmp_path: Path
) -> None:
    job = aws.jobs().submit(TENANT, CONNECTOR, "ingest", {"stations": ["KSEA"]}).job
    bucket = bucket_of(aws)
    manifests = land(aws, EVENT, LANDED)
    finish = {
        "action": "finish",
        "pipeline": "default",
        "execution": "arn:aws:states:us-east-1:123456789012:execution:none:0",
        "tenant": TENANT,
        "connector": CONNECTOR,
        "batch_id": "never-started",
        "attempt": 0,
        "outcomes": [],
    }
    events = {
        "api": rest_event("GET", f"/tenants/{TENANT}/jobs/{job.id}"),
        "schedule": tick(connector=CONNECTOR, payload={"stations": ["KJFK"]}),
        "job_state_change": batch_event(job, "RUNNING", 60, started=60),
        "maintenance": {"task": "sweep", "tenant": TENANT},
        "pipeline_step": finish,
        "object_created": notification(*(s3_record(bucket, key) for key in manifests)),
        "task": PLUGIN_TASK,
    }

    found = run_from_the_zip(lambda_code, events, tmp_path, aws_account)

    api = found["api"]["answer"]
    assert api["statusCode"] == 200, api
    assert json.loads(api["body"])["job_id"] == job.id.value
    assert found["schedule"]["answer"]["created"] is True
    assert found["job_state_change"]["answer"] == {
        "applied": True,
        "job_id": job.id.value,
        "status": "RUNNING",
    }
    assert found["maintenance"]["answer"]["task"] == "sweep"
    assert found["pipeline_step"]["raised"] == "NotFound", found["pipeline_step"]
    assert "answer" in found["object_created"], found["object_created"]
    created = found["object_created"]["answer"]
    assert (created["ignored"], created["refused"], len(created["submitted"])) == (0, 0, 2)
    marker, rows = read_partition(bucket, EVENT, HOURS[0])
    assert marker["rows"] == len(rows) == PER_HOUR
    # pyarrow and aioboto3 wrote and read the partitions; the zip's botocore, the one
    # aiobotocore accepts, came ahead of the runtime's
    assert {
        name: str(origin).startswith(str(lambda_code.task))
        for name, origin in found["origins"].items()
    } == {"pyarrow": True, "aioboto3": True, "botocore": True}
    assert found["task"]["file"].startswith(str(lambda_code.task))
    assert found["task"]["result"] == {"quiet": None, "LOUD": "LOUD is not lower case"}
    assert found["outside"] == []
