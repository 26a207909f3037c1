"""Batch pipelines on Step Functions: the generated definitions checked by a real Amazon States
Language validator (``asl-validator`` from the npm registry, installed by this module into a
cache folder), and the same pipeline run end to end on moto.

moto cannot invoke Lambdas without Docker, so the end-to-end state machine is generated with SQS
``sendMessage.waitForTaskToken`` steps (`StepTargetKind.SQS_CALLBACK`): every message it sends
is the event the Lambda version passes to ``pipeline_step_handler`` plus a task token, and the
test plays the Lambda: it hands each message to the handler and answers the token with the
handler's result, or with its exception as a Lambda error would be. So a step ends only when its
work is done, as with a Lambda. Records are in DynamoDB, the chunk list in S3.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from dependency_injector import providers

from overlord.adapters.aws.document_store import DynamoDocumentStore
from overlord.adapters.aws.object_store import S3ObjectStore
from overlord.adapters.aws.state_machines import StepTargetKind, state_machine_definition
from overlord.adapters.aws.workflow import StepFunctionsSettings, StepFunctionsWorkflow
from overlord.container import Container
from overlord.domain.batches import BatchStatus, RequestStatus
from overlord.domain.pipelines import PipelineSpec
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.settings import Settings
from tests.integration.aws_network import make_state_machine_role

ASL_VALIDATOR = "asl-validator@4.0.0"
STEP_LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:overlord-pipeline-step"
WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def asl_validator() -> Path:
    """The validator's command, installed once per machine into a cache folder.

    Both test workers may get here at once on a fresh machine: two ``npm install`` runs into one
    folder break each other (one fails, the other's files vanish under its tests). So the first
    installs under a file lock into a folder of its own and renames it into place whole; the
    other waits on the lock and finds it done.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "overlord-tests"
    prefix = cache / ASL_VALIDATOR.replace("@", "-")
    command = prefix / "node_modules" / ".bin" / "asl-validator"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not command.exists():
            npm = shutil.which("npm")
            assert npm is not None, "npm is needed to install asl-validator (apt-get install npm)"
            staging = Path(tempfile.mkdtemp(prefix=f".{prefix.name}-", dir=cache))
            subprocess.run(
                [npm, "install", "--prefix", str(staging), ASL_VALIDATOR, "--no-audit"],
                check=True,
                capture_output=True,
                timeout=300,
            )
            shutil.rmtree(prefix, ignore_errors=True)  # a half install an older run left
            staging.rename(prefix)
    return command


def validate(
    command: Path, definition: dict[str, Any], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(definition))
    return subprocess.run(
        [str(command), "--json-path", str(path)], capture_output=True, text=True, timeout=60
    )


SPECS = {
    "batch, inline and distributed": PipelineSpec(
        name="acme-batches",
        steps=("process-task-1", "process-task-2"),
        chunk_size=10,
        by_reference=True,
        distributed_from_chunks=40,
        tolerated_failure_percentage=5,
    ),
    "batch, inline only": PipelineSpec(
        name="acme-small",
        steps=("enrich",),
        chunk_size=1,
        by_reference=True,
    ),
    "items inline": PipelineSpec(name="acme-orders", steps=("fetch", "load"), chunk_size=2),
}


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
@pytest.mark.parametrize("kind", list(StepTargetKind))
def test_a_real_asl_validator_accepts_every_generated_definition(
    asl_validator: Path, spec: PipelineSpec, kind: StepTargetKind, tmp_path: Path
) -> None:
    target = (
        STEP_LAMBDA if kind is StepTargetKind.LAMBDA else "https://sqs.us-east-1.amazonaws.com/1/q"
    )
    done = validate(asl_validator, state_machine_definition(spec, target, kind), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_validator_does_refuse_a_broken_definition(asl_validator: Path, tmp_path: Path) -> None:
    definition = state_machine_definition(SPECS["batch, inline and distributed"], STEP_LAMBDA)
    definition["States"]["Chunks"]["Next"] = "no such state"
    assert validate(asl_validator, definition, tmp_path).returncode != 0


def test_large_batches_map_over_a_chunk_list_in_s3_with_the_users_limits() -> None:
    definition = state_machine_definition(SPECS["batch, inline and distributed"], STEP_LAMBDA)
    distributed = definition["States"]["Chunks from S3"]
    assert distributed["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert (distributed["MaxConcurrency"], distributed["ToleratedFailurePercentage"]) == (10, 5.0)
    assert distributed["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    step = distributed["ItemProcessor"]["States"]["process-task-1 (distributed)"]
    assert step["Parameters"]["FunctionName"] == STEP_LAMBDA
    assert "items.$" not in step["Parameters"]["Payload"]  # by reference, never inline
    assert {e for r in step["Retry"] for e in r["ErrorEquals"]} >= {
        "Lambda.TooManyRequestsException",
        "BackendError",
    }


@pytest.fixture
def aws(aws_endpoint: str) -> Iterator[tuple[Container, str]]:
    """A container whose records are in DynamoDB, objects in S3 and pipelines on Step
    Functions with SQS steps; a namespace of its own keeps its tables apart."""
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName=f"overlord-steps-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    settings = Settings(profile="memory", namespace=f"t{uuid.uuid4().hex[:8]}")
    container = Container.from_settings(settings)
    container.document_store.override(providers.Object(DynamoDocumentStore()))
    container.object_store.override(providers.Object(S3ObjectStore()))
    workflow = StepFunctionsWorkflow(
        StepFunctionsSettings(
            step_target_arn=queue,
            role_arn=make_state_machine_role(),
            step_target_kind=StepTargetKind.SQS_CALLBACK,
        )
    )
    container.workflow.override(providers.Object(workflow))
    container.provisioning().apply("acme", "batch-manager")
    yield container, queue
    container.document_store().drop_database(container.batches().store.database("acme"))


def play_the_lambda(container: Container, queue: str, execution_id: str) -> list[dict[str, Any]]:
    """Answer every call the execution sends, as the step Lambda would, until it ends."""
    sqs, sfn = boto3.client("sqs"), boto3.client("stepfunctions")
    handlers, events = LambdaHandlers(container), []
    workflow = container.workflow()
    deadline = time.monotonic() + WAIT_SECONDS
    while not (state := workflow.describe(execution_id)) or not state.status.finished:
        assert time.monotonic() < deadline, "the execution never ended"
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in received.get("Messages", []):
            event = json.loads(message["Body"])
            token = event.pop("task_token")
            events.append(event)
            try:
                result = handlers.pipeline_step(event)
            except Exception as exc:  # what Lambda reports for a function that raised
                sfn.send_task_failure(taskToken=token, error=type(exc).__name__, cause=str(exc))
            else:
                sfn.send_task_success(taskToken=token, output=json.dumps(result))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return events


def body(items: list[str], size: int) -> dict[str, Any]:
    return {
        "batchId": "sfn-1",
        "totalItems": len(items),
        "batchSize": size,
        "currentBatch": 0,
        "itemIds": items,
    }


def test_a_batch_runs_end_to_end_on_step_functions_and_settles_its_records(
    aws: tuple[Container, str],
) -> None:
    container, queue = aws
    batches = container.batches()
    started = batches.start("acme", "batch-manager", body(["a", "b", "fail-c", "d", "e"], 2))
    execution_id = started.batch.attempts[0].execution_id
    assert execution_id is not None
    assert execution_id.startswith("arn:aws:states:")
    events = play_the_lambda(container, queue, execution_id)
    steps = [(e["step"], e["chunk"]) for e in events if "step" in e]
    assert sorted(steps) == sorted(
        (step, chunk) for chunk in range(3) for step in ("process-task-1", "process-task-2")
    )
    assert all("items" not in e and e["batch_id"] == "sfn-1" for e in events)
    assert events[-1]["action"] == "finish"
    batch = batches.get("acme", "sfn-1")
    assert batch.status is BatchStatus.PARTIALLY_FAILED
    found = {r.item_id: r for r in batches.show("acme", "sfn-1").requests}
    assert (found["fail-c"].status, found["fail-c"].step) == (
        RequestStatus.FAILED,
        "process-task-2",
    )
    # Step Functions delivers a step twice: the repeat finds its items done and runs nothing.
    again = LambdaHandlers(container).pipeline_step(next(e for e in events if "step" in e))
    assert again["ran"] == 0

    retried = batches.retry("acme", "sfn-1")
    play_the_lambda(container, queue, retried.attempts[-1].execution_id or "")
    assert batches.get("acme", "sfn-1").status is BatchStatus.SUCCEEDED


def test_a_large_batch_runs_as_a_distributed_map_over_its_chunk_list_in_s3(
    aws: tuple[Container, str],
) -> None:
    container, queue = aws
    batches = container.batches()
    items = [f"item-{n:02d}" for n in range(40)]  # 40 chunks of 1: batch-manager's threshold
    started = batches.start("acme", "batch-manager", body(items, 1))
    events = play_the_lambda(container, queue, started.batch.attempts[0].execution_id or "")
    assert len([e for e in events if "step" in e]) == 80
    assert batches.get("acme", "sfn-1").status is BatchStatus.SUCCEEDED
    assert events[-1]["action"] == "finish"
    bucket = f"{container.settings().namespace}-acme-batch-manager"
    assert [o.key for o in S3ObjectStore().list_objects(bucket, "batches/sfn-1/")] == [
        "batches/sfn-1/attempt-0/chunks.json"
    ]
