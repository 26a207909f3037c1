"""Hand-written Powertools handlers: the baseline of ``lambda_cold_start.py``.

What a developer would write for each of Overlord's Lambda handlers without the platform: a
Powertools ``Logger``, an ``APIGatewayRestResolver`` for the API, and plain boto3 clients making
the same AWS calls as Overlord's handler, in the same item layout. Each handler imports and makes
only what it uses, on its first call, as four separate one-purpose Lambdas would at init; none
checks what Overlord checks (tenant names, payload schemas, forward-only states), so it is a
floor rather than an alternative. The table, queue and definition names come from the
environment (``BASELINE_*``), which the benchmark sets for the child processes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger

logger = Logger(service="baseline")
TABLE = os.environ.get("BASELINE_TABLE", "")
JOBS, RUNS = "jobs", "runs"


@functools.cache
def _client(service: str) -> Any:
    return boto3.session.Session().client(service)  # type: ignore[call-overload]


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _read_job(job_id: str) -> dict[str, Any] | None:
    """The job's item and its runs (a Query of their partition), as Overlord reads a job."""
    dynamodb = _client("dynamodb")
    item = dynamodb.get_item(TableName=TABLE, Key=_key(JOBS, job_id)).get("Item")
    if item is None:
        return None
    runs = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": RUNS}},
    )["Items"]
    job: dict[str, Any] = json.loads(item["doc"]["S"])
    job["runs"] = [json.loads(run["doc"]["S"]) for run in runs]
    job["_v"] = int(item["v"]["N"])
    return job


def _put(collection: str, document: dict[str, Any], version: int | None) -> None:
    """Write a document: new (no item with its key yet) or at ``version`` (compare-and-set)."""
    item = {
        **_key(collection, document["_id"]),
        "doc": {"S": json.dumps(document, sort_keys=True)},
        "v": {"N": str(1 if version is None else version + 1)},
    }
    if version is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        condition = {
            "ConditionExpression": "v = :v",
            "ExpressionAttributeValues": {":v": {"N": str(version)}},
        }
    _client("dynamodb").put_item(TableName=TABLE, Item=item, **condition)


def _submit(tenant: str, connector: str, job_type: str, payload: dict[str, Any], key: str) -> str:
    """Read the connector's configuration, record the job, SubmitJob, record the Batch id."""
    dynamodb = _client("dynamodb")
    dynamodb.get_item(TableName=TABLE, Key=_key("configurations", connector))
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    job_id = hashlib.sha256(f"{tenant}/{connector}/{job_type}/{body}/{key}".encode()).hexdigest()
    job = {
        "_id": job_id[:32],
        "tenant": tenant,
        "connector": connector,
        "job_type": job_type,
        "payload": payload,
        "status": "REQUESTED",
        "created_at": datetime.now(UTC).isoformat(),
    }
    _put(JOBS, job, None)
    answer = _client("batch").submit_job(
        jobName=f"baseline-{job['_id']}",
        jobQueue=os.environ["BASELINE_QUEUE"],
        jobDefinition=os.environ["BASELINE_DEFINITION"],
        containerOverrides={"environment": [{"name": "OVERLORD_PAYLOAD", "value": body}]},
        tags={"overlord:job-id": job["_id"], "overlord:tenant": tenant},
    )
    job |= {"status": "SUBMITTED", "backend_job_id": answer["jobId"]}
    _put(JOBS, job, 1)
    return str(job["_id"])


@functools.cache
def _api() -> Any:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

    app = APIGatewayRestResolver()

    @app.get("/tenants/<tenant>/jobs/<job_id>")
    def get_job(tenant: str, job_id: str) -> Any:
        job = _read_job(job_id)
        if job is None:
            return Response(404, "application/json", json.dumps({"error": "not found"}))
        logger.info("GET job", extra={"tenant": tenant, "job_id": job_id})
        return job

    @app.post("/tenants/<tenant>/connectors/<connector>/jobs/<job_type>")
    def submit_job(tenant: str, connector: str, job_type: str) -> Any:
        payload = app.current_event.json_body or {}
        job_id = _submit(tenant, connector, job_type, payload, uuid.uuid4().hex)
        logger.info("job submitted", extra={"tenant": tenant, "job_id": job_id})
        body = json.dumps({"job_id": job_id, "status": "SUBMITTED", "created": True})
        return Response(202, "application/json", body)

    return app


def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    answer: dict[str, Any] = _api().resolve(event, context)
    return answer


def job_state_change_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The job's record read by its id tag, its status written back (compare-and-set)."""
    from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

    detail = EventBridgeEvent(event).detail
    job = _read_job(detail["tags"]["overlord:job-id"])
    if job is None:
        return {"applied": False}
    version = job.pop("_v")
    job.pop("runs")
    job |= {"status": detail["status"], "backend_job_id": detail["jobId"]}
    _put(JOBS, job, version)
    logger.info("job state recorded", extra={"job_id": job["_id"], "status": job["status"]})
    return {"applied": True, "job_id": job["_id"], "status": job["status"]}


def schedule_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A scheduler tick's target submitted, keyed by its scheduled time."""
    job_id = _submit(
        event["tenant"], event["connector"], event["job_type"], event["payload"],
        event["scheduled_time"],
    )
    logger.info("schedule tick submitted", extra={"job_id": job_id})
    return {"job_id": job_id, "status": "SUBMITTED", "created": True}
