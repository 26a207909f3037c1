"""Hand-written Powertools handlers: the baseline of ``lambda_cold_start.py``.

What a developer would write for each of Overlord's Lambda handlers without the platform: a
Powertools ``Logger``, an ``APIGatewayRestResolver`` for the API, and plain boto3 clients. Each
makes the same AWS requests as Overlord's handler, in the same order and on the same items
(including the collection record Overlord's DynamoDB store reads with each document), so that
moto's time per request weighs on both ways alike and the ratio is about the code around the
calls. Each handler imports and makes only what it uses, on its first call, as four separate
one-purpose Lambdas would at init. None checks what Overlord checks (names, payload schemas,
forward-only states, duplicate requests), so it is a floor rather than an alternative. The
table, queue and definition names come from ``BASELINE_*`` variables the benchmark sets.
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
JOBS, COLLECTIONS = "jobs", "#collections"


@functools.cache
def _client(service: str) -> Any:
    return boto3.session.Session().client(service)  # type: ignore[call-overload]


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _get(collection: str, document_id: str | None = None) -> dict[str, Any] | None:
    """The collection's record and, given an id, a document with its version ``_v``: one
    BatchGetItem, as Overlord's store reads them."""
    keys = [_key(COLLECTIONS, collection)]
    if document_id is not None:
        keys.append(_key(collection, document_id))
    answer = _client("dynamodb").batch_get_item(
        RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}}
    )
    for item in answer["Responses"][TABLE]:
        if item["pk"]["S"] == collection:
            document: dict[str, Any] = json.loads(item["doc"]["S"])
            return document | {"_v": int(item["v"]["N"])}
    return None


def _put(collection: str, document: dict[str, Any]) -> None:
    """Write a document: new when it has no ``_v``, else a compare-and-set on ``_v``."""
    version = document.pop("_v", None)
    item = {
        **_key(collection, document["_id"]),
        "doc": {"S": json.dumps(document, sort_keys=True, separators=(",", ":"))},
        "v": {"N": str(1 if version is None else version + 1)},
    }
    if version is None:
        put = {"TableName": TABLE, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
    else:
        put = {
            "TableName": TABLE,
            "Item": item,
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "v"},
            "ExpressionAttributeValues": {":v": {"N": str(version)}},
        }
    _client("dynamodb").transact_write_items(TransactItems=[{"Put": put}])


def _read_job(job_id: str) -> dict[str, Any] | None:
    """The job with its runs, which its document holds, as Overlord reads it."""
    return _get(JOBS, job_id)


def _submit(tenant: str, connector: str, job_type: str, payload: dict[str, Any], key: str) -> str:
    """Read the connector's configuration, record the job, SubmitJob, record the Batch id."""
    configuration = _get("connectors", connector)
    if configuration is None:
        raise LookupError(f"no connector {connector}")
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    job_id = hashlib.sha256(f"{tenant}/{connector}/{job_type}/{body}/{key}".encode()).hexdigest()
    _get(JOBS)
    job: dict[str, Any] = {
        "_id": job_id[:32],
        "tenant": tenant,
        "connector": connector,
        "job_type": job_type,
        "payload": payload,
        "status": "REQUESTED",
        "created_at": datetime.now(UTC).isoformat(),
    }
    _put(JOBS, job)
    answer = _client("batch").submit_job(
        jobName=f"baseline-{job['_id']}",
        jobQueue=os.environ["BASELINE_QUEUE"],
        jobDefinition=os.environ["BASELINE_DEFINITION"],
        containerOverrides={"environment": [{"name": "OVERLORD_PAYLOAD", "value": body}]},
        tags={"overlord:job-id": job["_id"], "overlord:tenant": tenant},
    )
    recorded = _get(JOBS, job["_id"])
    if recorded is None:
        raise LookupError(f"job {job['_id']} vanished")
    _get(JOBS)
    _put(JOBS, recorded | {"status": "SUBMITTED", "backend_job_id": answer["jobId"]})
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
    """The job's record, with its runs inside, read once and written with its new status and
    the attempt's run, in one compare-and-set."""
    from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

    detail = EventBridgeEvent(event).detail
    job_id = detail["tags"]["overlord:job-id"]
    job = _get(JOBS, job_id)
    if job is None:
        return {"applied": False}
    run = {"attempt": 1, "status": detail["status"], "backend_job_id": detail["jobId"]}
    _get(JOBS)
    _put(
        JOBS,
        job | {"status": detail["status"], "backend_job_id": detail["jobId"], "runs": [run]},
    )
    logger.info("job state recorded", extra={"job_id": job_id, "status": detail["status"]})
    return {"applied": True, "job_id": job_id, "status": detail["status"]}


def schedule_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A scheduler tick's target submitted, keyed by its scheduled time."""
    job_id = _submit(
        event["tenant"],
        event["connector"],
        event["job_type"],
        event["payload"],
        event["scheduled_time"],
    )
    logger.info("schedule tick submitted", extra={"job_id": job_id})
    return {"job_id": job_id, "status": "SUBMITTED", "created": True}
