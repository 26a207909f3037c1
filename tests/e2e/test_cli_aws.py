"""The CLI on the ``aws`` profile (DynamoDB documents), against moto over HTTP.

Each test works in its own namespace, so every global name (bucket, table, Batch resources,
schedule group) is its own on the shared server. What the CLI made is checked with plain boto3,
as an operator would check it in the console.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from overlord.adapters.aws.batch_events import EVENT_DETAIL_TYPE, EVENT_SOURCE
from overlord.container import Container
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.settings import Settings
from tests.e2e.conftest import Outcome, run_in_process
from tests.integration.aws_network import make_batch_network, make_scheduler_target
from tests.moto_endpoint import LostAnswers

READ_PREFIXES = ("Describe", "List", "Get", "Head")
READ_OPERATIONS = frozenset({"Query", "Scan", "BatchGetItem"})


@pytest.fixture(scope="module")
def account(aws_endpoint: str) -> dict[str, str]:
    """The OVERLORD_* settings an operator sets once per account."""
    network, target = make_batch_network(), make_scheduler_target()
    return {
        "OVERLORD_PROFILE": "aws",
        "OVERLORD_DOCUMENT_STORE": "dynamodb",
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


@pytest.fixture
def namespace(account: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"t{uuid.uuid4().hex[:8]}"
    for key, value in {**account, "OVERLORD_NAMESPACE": name}.items():
        monkeypatch.setenv(key, value)
    return name


def overlord(*args: str) -> Outcome:
    return run_in_process("-o", "json", *args)


def applied(*args: str) -> dict[str, Any]:
    outcome = overlord(*args)
    assert outcome.exit_code == 0, outcome.stderr
    found: dict[str, Any] = json.loads(outcome.stdout)
    return found


def names(report: dict[str, Any], kind: str) -> list[str]:
    return [r["name"] for r in report["resources"] if r["kind"] == kind]


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS operation any client in this process makes from now on."""
    from botocore.client import BaseClient

    calls: list[str] = []
    original = BaseClient._make_api_call

    def record(self: Any, operation: str, params: Any) -> Any:
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return calls


def test_init_makes_a_private_bucket_batch_resources_and_schedules_then_keeps_them(
    namespace: str,
) -> None:
    report = applied("tenants", "init", "acme", "marketplace")

    assert {r["action"] for r in report["resources"]} == {"created"}
    [bucket] = names(report, "bucket")
    s3 = boto3.client("s3")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    batch = boto3.client("batch")
    [environment] = names(report, "compute_environment")
    [queue] = names(report, "job_queue")
    [definition] = names(report, "job_definition")
    described = batch.describe_compute_environments(computeEnvironments=[environment])
    assert described["computeEnvironments"][0]["status"] == "VALID"
    assert batch.describe_job_queues(jobQueues=[queue])["jobQueues"][0]["state"] == "ENABLED"
    revisions = batch.describe_job_definitions(jobDefinitionName=definition)["jobDefinitions"]
    assert [d["revision"] for d in revisions] == [1]
    [schedule] = names(report, "schedule")
    group = schedule.split("/")[0]
    scheduled = boto3.client("scheduler").list_schedules(GroupName=group)["Schedules"]
    assert [s["Name"] for s in scheduled] == ["marketplace-check-feed-status"]
    assert scheduled[0]["State"] == "DISABLED"  # until a submit-feed job switches it on

    again = applied("tenants", "init", "acme", "marketplace")

    assert {r["action"] for r in again["resources"]} == {"unchanged"}
    revisions = batch.describe_job_definitions(jobDefinitionName=definition)["jobDefinitions"]
    assert [d["revision"] for d in revisions] == [1]


def test_plan_calls_no_mutating_api_and_creates_nothing(
    namespace: str, api_calls: list[str]
) -> None:
    report = applied("tenants", "init", "acme", "marketplace", "--plan")

    assert {r["action"] for r in report["resources"]} == {"would-create"}
    assert api_calls
    writes = [c for c in api_calls if not c.startswith(READ_PREFIXES)]
    assert [c for c in writes if c not in READ_OPERATIONS] == []
    [bucket] = names(report, "bucket")
    listed = boto3.client("s3").list_buckets()["Buckets"]
    assert bucket not in {b["Name"] for b in listed}


def test_delete_with_purge_leaves_nothing_behind(namespace: str) -> None:
    report = applied("tenants", "init", "acme", "marketplace")
    [bucket] = names(report, "bucket")
    boto3.client("s3").put_object(Bucket=bucket, Key="feeds/2026-01-01.json", Body=b"{}")

    outcome = overlord("tenants", "delete", "acme", "--purge", "--yes")

    assert outcome.exit_code == 0, outcome.stderr
    assert bucket not in {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}
    batch = boto3.client("batch")
    [environment] = names(report, "compute_environment")
    [queue] = names(report, "job_queue")
    live = [
        e
        for e in batch.describe_compute_environments(computeEnvironments=[environment])[
            "computeEnvironments"
        ]
        if e["status"] != "DELETED"
    ]
    assert live == []
    queues = batch.describe_job_queues(jobQueues=[queue])["jobQueues"]
    assert [q for q in queues if q["status"] != "DELETED"] == []
    [definition] = names(report, "job_definition")
    active = batch.describe_job_definitions(jobDefinitionName=definition, status="ACTIVE")
    assert active["jobDefinitions"] == []
    group = names(report, "schedule")[0].split("/")[0]
    groups = boto3.client("scheduler").list_schedule_groups()["ScheduleGroups"]
    assert group not in {g["Name"] for g in groups}
    tables = boto3.client("dynamodb").list_tables()["TableNames"]
    # the platform's own registry table stays: it lists the tenants left
    assert [t for t in tables if namespace in t and "acme" in t] == []
    assert json.loads(overlord("tenants", "list").stdout) == []


def test_a_job_submitted_once_runs_once_on_batch_and_its_state_changes_drive_the_poll(
    namespace: str,
) -> None:
    applied("tenants", "init", "acme", "marketplace")
    payload = json.dumps({"feed_id": "f-1", "items": [{"sku": "A-1", "price": 10}]})

    first = applied("jobs", "submit", "acme", "marketplace", "submit-feed", "--payload", payload)
    again = applied("jobs", "submit", "acme", "marketplace", "submit-feed", "--payload", payload)

    assert (first["created"], again["created"]) == (True, False)
    assert first["job_id"] == again["job_id"]
    batch = boto3.client("batch")
    queue = next(
        q["jobQueueName"]
        for q in batch.describe_job_queues()["jobQueues"]
        if namespace in q["jobQueueName"]
    )
    listed = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["*"]}])
    [summary] = listed["jobSummaryList"]
    [described] = batch.describe_jobs(jobs=[summary["jobId"]])["jobs"]
    assert described["tags"]["overlord:job-id"] == first["job_id"]
    event = {
        "source": EVENT_SOURCE,
        "detail-type": EVENT_DETAIL_TYPE,
        "time": "2026-12-02T00:00:00Z",
        "detail": described,
    }

    container = Container.from_settings(Settings.load())
    applied_event = LambdaHandlers(container).job_state_change(event)
    shown = applied("jobs", "show", first["job_id"], "--tenant", "acme")

    assert applied_event == {"applied": True, "job_id": first["job_id"], "status": "SUCCEEDED"}
    assert shown["status"] == "SUCCEEDED"
    assert [run["attempt"] for run in shown["runs"]] == [1]
    scheduled = boto3.client("scheduler").list_schedules(GroupName=f"{namespace}-acme")["Schedules"]
    assert [s["State"] for s in scheduled] == ["ENABLED"]  # the follow-up poll is on

    poll = applied("jobs", "submit", "acme", "marketplace", "check-feed-status")
    named = [{"name": "JOB_NAME", "values": [f"{namespace}-{poll['job_id']}"]}]
    [poll_job] = batch.list_jobs(jobQueue=queue, filters=named)["jobSummaryList"]
    [poll_described] = batch.describe_jobs(jobs=[poll_job["jobId"]])["jobs"]
    assert LambdaHandlers(container).job_state_change({**event, "detail": poll_described}) == {
        "applied": True,
        "job_id": poll["job_id"],
        "status": "SUCCEEDED",
    }
    scheduled = boto3.client("scheduler").list_schedules(GroupName=f"{namespace}-acme")["Schedules"]
    assert [s["State"] for s in scheduled] == ["DISABLED"]  # the poll found the work done


def test_a_payload_over_batchs_request_limit_travels_through_the_bucket(namespace: str) -> None:
    report = applied("tenants", "init", "acme", "marketplace")
    [bucket] = names(report, "bucket")
    [queue] = names(report, "job_queue")
    items = [{"sku": f"SKU-{i:05d}", "title": "x" * 40} for i in range(800)]
    payload = json.dumps({"feed_id": "big", "items": items})
    assert len(payload) > 30 * 1024

    submitted = applied(
        "jobs", "submit", "acme", "marketplace", "submit-feed", "--payload", payload
    )

    batch = boto3.client("batch")
    listed = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["*"]}])
    [summary] = listed["jobSummaryList"]
    [described] = batch.describe_jobs(jobs=[summary["jobId"]])["jobs"]
    environment = {e["name"]: e["value"] for e in described["container"]["environment"]}
    assert "OVERLORD_PAYLOAD" not in environment
    ref_bucket, _, key = environment["OVERLORD_PAYLOAD_REF"].partition("/")
    assert ref_bucket == bucket
    assert submitted["job_id"] in key
    stored = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert json.loads(stored) == json.loads(payload)


def test_a_submit_whose_answer_batch_lost_is_recorded_against_the_one_job_it_made(
    namespace: str, lost_answers: LostAnswers
) -> None:
    report = applied("tenants", "init", "acme", "marketplace")
    [queue] = names(report, "job_queue")
    lost_answers.lose("/v1/submitjob")
    payload = json.dumps({"feed_id": "f-lost", "items": []})

    submitted = applied(
        "jobs", "submit", "acme", "marketplace", "submit-feed", "--payload", payload
    )
    shown = applied("jobs", "show", submitted["job_id"], "--tenant", "acme")

    assert lost_answers.lost == {"/v1/submitjob": 1}
    listed = boto3.client("batch").list_jobs(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["*"]}]
    )
    [summary] = listed["jobSummaryList"]  # adopted by name, not made a second time
    assert (submitted["created"], submitted["status"]) == (True, "SUBMITTED")
    assert shown["backend_job_id"] == summary["jobId"]


def test_without_the_scheduler_target_jobs_still_read_and_init_fails_as_misconfigured_unwritten(
    namespace: str, monkeypatch: pytest.MonkeyPatch, api_calls: list[str]
) -> None:
    applied("tenants", "init", "acme", "weather")
    payload = json.dumps({"stations": ["KSEA"]})
    submitted = applied("jobs", "submit", "acme", "weather", "ingest", "--payload", payload)
    monkeypatch.delenv("OVERLORD_SCHEDULER_TARGET_ARN")

    shown = overlord("jobs", "show", submitted["job_id"], "--tenant", "acme")
    api_calls.clear()
    refused = overlord("tenants", "init", "globex", "weather")

    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["job_id"] == submitted["job_id"]
    assert refused.exit_code == 1
    assert refused.error_lines == [
        "error: EventBridge schedules need OVERLORD_SCHEDULER_TARGET_ARN (the schedule Lambda) "
        "and OVERLORD_SCHEDULER_ROLE_ARN (a role Scheduler may assume); "
        "not set: OVERLORD_SCHEDULER_TARGET_ARN"
    ]
    writes = [c for c in api_calls if not c.startswith(READ_PREFIXES)]
    assert [c for c in writes if c not in READ_OPERATIONS] == []
    assert [t["name"] for t in json.loads(overlord("tenants", "list").stdout)] == ["acme"]
