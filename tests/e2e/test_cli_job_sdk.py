"""Job commands talk to Overlord through the job SDK, seen from the CLI: a payload too large to
travel inline reaches the job (through the local object store, and through S3 on the aws
profile against moto), and a poll that is not done yet keeps its follow-up schedule on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import Cli, Outcome, run_in_process
from tests.integration.aws_network import make_batch_network, make_scheduler_target

STATIONS = [f"K{i:04d}" for i in range(3700)]  # a 30 KB payload: over the 24 KiB inline limit
FEED = "feed-0123456789abcdef0123"


def data(done: Outcome) -> Any:
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)


def test_a_30_kb_payload_reaches_the_job_whole_and_the_job_succeeds(
    cli: Cli, tmp_path: Path, home: Path
) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"stations": STATIONS}), encoding="utf-8")
    assert big.stat().st_size > 30_000
    assert cli("tenants", "init", "acme", "weather").exit_code == 0

    done = cli(
        "jobs", "submit", "acme", "weather", "ingest", "--payload", f"@{big}", "--wait",
        output="json",
    )  # fmt: skip

    submitted = data(done)
    assert submitted["status"] == "SUCCEEDED"
    stored = home / "objects" / "overlord-acme-weather" / "jobs" / submitted["job_id"]
    assert json.loads((stored / "payload.json").read_text()) == {"stations": STATIONS}
    logs = data(cli("jobs", "logs", submitted["job_id"], "--tenant", "acme", output="json"))
    messages = [line["message"] for line in logs]
    assert messages[0].startswith(f"tenant acme: ingesting {len(STATIONS)} station(s)")
    observed = [json.loads(message)["station_id"] for message in messages[1:-1]]
    assert observed == STATIONS
    assert messages[-1] == f"ingested {len(STATIONS)} observation(s)"


def schedule_enabled(cli: Cli) -> bool:
    listed = data(cli("schedules", "list", "acme", output="json"))
    [poll] = [s for s in listed if s["name"] == "marketplace-check-feed-status"]
    return bool(poll["enabled"])


def test_a_poll_not_done_yet_keeps_its_schedule_on_until_one_finds_the_work_done(
    cli: Cli,
) -> None:
    assert cli("tenants", "init", "acme", "marketplace").exit_code == 0
    items = json.dumps({"items": [{"sku": "A-1", "price": 9.5, "quantity": 3}]})
    assert data(cli("jobs", "submit", "acme", "marketplace", "submit-feed", "--payload", items,
                    "--wait", output="json"))["status"] == "SUCCEEDED"  # fmt: skip
    assert schedule_enabled(cli)
    processing = json.dumps({"feed_id": FEED, "processing": True})

    not_yet = cli(
        "jobs", "submit", "acme", "marketplace", "check-feed-status", "--payload", processing,
        "--wait", output="json",
    )  # fmt: skip

    reason = f"not done yet: feed {FEED} is still processing"
    assert not_yet.exit_code == 1
    assert not_yet.error_lines[-1].endswith(f"ended FAILED: {reason}")
    shown = data(cli("jobs", "show", json.loads(not_yet.stdout)["job_id"], output="json"))
    assert (shown["status"], shown["status_reason"]) == ("FAILED", reason)
    assert [(run["exit_code"], run["status_reason"]) for run in shown["runs"]] == [(75, reason)]
    assert schedule_enabled(cli)  # the next firing checks again

    done = cli(
        "jobs", "submit", "acme", "marketplace", "check-feed-status",
        "--payload", json.dumps({"feed_id": FEED}), "--wait", output="json",
    )  # fmt: skip

    assert data(done)["status"] == "SUCCEEDED"
    assert not schedule_enabled(cli)


@pytest.fixture
def on_aws(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The OVERLORD_* settings of an account on moto, in a namespace of this test's own."""
    network, target = make_batch_network(), make_scheduler_target()
    namespace = f"t{uuid.uuid4().hex[:8]}"
    settings = {
        "OVERLORD_PROFILE": "aws",
        "OVERLORD_DOCUMENT_STORE": "dynamodb",
        "OVERLORD_NAMESPACE": namespace,
        "OVERLORD_BATCH_SUBNETS": ",".join(network.subnets),
        "OVERLORD_BATCH_SECURITY_GROUPS": ",".join(network.security_groups),
        "OVERLORD_BATCH_SERVICE_ROLE_ARN": network.service_role_arn or "",
        "OVERLORD_BATCH_EXECUTION_ROLE_ARN": network.execution_role_arn or "",
        "OVERLORD_BATCH_INSTANCE_ROLE_ARN": network.instance_role_arn or "",
        "OVERLORD_BATCH_JOB_ROLE_ARN": network.job_role_arn or "",
        "OVERLORD_SCHEDULER_TARGET_ARN": target.target_arn,
        "OVERLORD_SCHEDULER_ROLE_ARN": target.role_arn,
        "OVERLORD_SCHEDULER_DEAD_LETTER_ARN": target.dead_letter_arn or "",
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return namespace


def run_as_batch_would(described: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """The Batch job's command in the container's environment, its first attempt; AWS access
    (the job role's, on AWS) comes from the moto endpoint's settings; nothing else from here."""
    container = described["container"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERLORD_")}
    env.update({e["name"]: e["value"] for e in container["environment"]})
    env["AWS_BATCH_JOB_ATTEMPT"] = "1"
    command = container["command"]
    return subprocess.run(
        [sys.executable if command[0] == "python" else command[0], *command[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_payload_over_batchs_request_limit_is_read_from_s3_by_the_batch_job(
    on_aws: str, tmp_path: Path
) -> None:
    report = data(run_in_process("-o", "json", "tenants", "init", "acme", "marketplace"))
    [queue] = [r["name"] for r in report["resources"] if r["kind"] == "job_queue"]
    items = [{"sku": f"SKU-{i:05d}", "price": 1, "quantity": i} for i in range(800)]
    payload = json.dumps({"items": items})
    assert len(payload) > 30 * 1024
    submitted = data(
        run_in_process(
            "-o", "json", "jobs", "submit", "acme", "marketplace", "submit-feed",
            "--payload", payload,
        )
    )  # fmt: skip
    batch = boto3.client("batch")
    named = [{"name": "JOB_NAME", "values": [f"{on_aws}-{submitted['job_id']}"]}]
    [summary] = batch.list_jobs(jobQueue=queue, filters=named)["jobSummaryList"]
    [described] = batch.describe_jobs(jobs=[summary["jobId"]])["jobs"]

    ran = run_as_batch_would(described)

    environment = {e["name"]: e["value"] for e in described["container"]["environment"]}
    assert "OVERLORD_PAYLOAD" not in environment
    assert environment["OVERLORD_PROFILE"] == "aws"
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == "validated 800 item(s)"
    assert json.loads(lines[1])["items"] == 800
