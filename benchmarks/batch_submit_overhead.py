"""What `JobService.submit` on the aws profile costs over the two calls any submission needs.

Why: on AWS a submission must at least record the job and call Batch's SubmitJob. Overlord does
more — it reads the tenant's connector configuration, inserts the job record conditionally
(SubmitJob has no idempotency token, so the record is the ledger), submits, then records the
backend id with a compare-and-set. This measures that overhead against a moto server over HTTP
on 127.0.0.1, with the tenant provisioned for the weather connector through the provisioning
service (DynamoDB documents, S3, Batch compute environment, queue and job definition,
EventBridge schedules), and counts the AWS requests each way makes.

Baseline: per job, a raw boto3 ``batch.submit_job`` to the same queue and job definition plus
one raw ``dynamodb.put_item`` of the job document into the tenant's table — no configuration
read, no condition, no follow-up write. Both run the same number of jobs, in alternating blocks
so that moto's own background work on earlier jobs weighs on both alike. moto spends
milliseconds of CPU per request, so read the request counts first and the ratio second.

    python benchmarks/batch_submit_overhead.py             # 500 jobs each way
    python benchmarks/batch_submit_overhead.py --quick     # 20 jobs each way
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore import handlers
from moto_process import start_moto

from overlord.container import Container
from overlord.domain.jobs import Job, canonical_json
from overlord.domain.names import ConnectorName, Namespace, TenantName, tenant_database
from overlord.services.job_records import job_to_document
from overlord.settings import Settings

TENANT, CONNECTOR, JOB_TYPE = "acme", "weather", "ingest"
BLOCK = 25
WARM_UP = 3


def _role(iam: Any, name: str, service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy)["Role"]["Arn"])


def aws_settings() -> Settings:
    """The aws profile's settings over account resources made in moto, as an operator would
    make them before setting ``OVERLORD_BATCH_*`` and ``OVERLORD_SCHEDULER_*``."""
    suffix = uuid.uuid4().hex[:8]
    ec2, iam, sqs = boto3.client("ec2"), boto3.client("iam"), boto3.client("sqs")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName=f"bench-{suffix}", Description="benchmark", VpcId=vpc
    )["GroupId"]
    queue = sqs.create_queue(QueueName=f"bench-schedule-target-{suffix}")["QueueUrl"]
    target = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    return Settings(
        profile="aws",
        batch_subnets=(subnet,),
        batch_security_groups=(group,),
        batch_service_role_arn=_role(iam, f"bench-service-{suffix}", "batch.amazonaws.com"),
        batch_execution_role_arn=_role(iam, f"bench-exec-{suffix}", "ecs-tasks.amazonaws.com"),
        batch_job_role_arn=_role(iam, f"bench-job-{suffix}", "ecs-tasks.amazonaws.com"),
        scheduler_target_arn=target["Attributes"]["QueueArn"],
        scheduler_role_arn=_role(iam, f"bench-scheduler-{suffix}", "scheduler.amazonaws.com"),
    )


def count_requests() -> Counter[str]:
    """Every AWS API call made by clients created from now on, as ``service.Operation``."""
    calls: Counter[str] = Counter()

    def record(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}.{model.name}"] += 1

    handlers.BUILTIN_HANDLERS.append(("before-call", record))
    return calls


class RawSubmitter:
    """The baseline: one SubmitJob and one PutItem per job, with plain boto3 clients."""

    def __init__(self, settings: Settings, names: dict[str, Any]) -> None:
        session = boto3.session.Session()
        self._batch = session.client("batch")
        self._dynamodb = session.client("dynamodb")
        database = tenant_database(Namespace(settings.namespace), TenantName(TENANT))
        self._table = f"overlord.{database}"
        self._queue, self._definition = names["job_queue"], names["job_definition"]

    def submit(self, payload: dict[str, Any]) -> None:
        job = Job.request(
            tenant=TenantName(TENANT),
            connector=ConnectorName(CONNECTOR),
            job_type=JOB_TYPE,
            payload=payload,
            at=datetime.now(UTC),
        )
        self._batch.submit_job(
            jobName=f"raw-{job.id}",
            jobQueue=self._queue,
            jobDefinition=self._definition,
            containerOverrides={
                "environment": [{"name": "OVERLORD_PAYLOAD", "value": canonical_json(payload)}]
            },
            tags={"overlord:job-id": job.id.value},
        )
        self._dynamodb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": "jobs"},
                "sk": {"S": job.id.value},
                "doc": {"S": json.dumps(job_to_document(job), sort_keys=True)},
                "v": {"N": "1"},
            },
        )


def payload(n: int, who: str) -> dict[str, Any]:
    return {"stations": ["KSEA"], "run": who, "n": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500, help="jobs submitted each way")
    parser.add_argument("--quick", action="store_true", help="20 jobs each way, for a smoke run")
    args = parser.parse_args()
    count = 20 if args.quick else args.jobs
    server = start_moto({"batch": {"use_docker": False}})
    try:
        calls = count_requests()
        settings = aws_settings()
        container = Container.from_settings(settings)
        container.provisioning().apply(TENANT, CONNECTOR)
        jobs = container.jobs()
        raw = RawSubmitter(settings, dict(jobs.target(TENANT, CONNECTOR).names))

        def overlord(n: int) -> None:
            if not jobs.submit(TENANT, CONNECTOR, JOB_TYPE, payload(n, "overlord")).created:
                raise SystemExit(f"job {n} was already submitted")

        ways = {
            "raw SubmitJob + PutItem": lambda n: raw.submit(payload(n, "raw")),
            "JobService.submit (aws)": overlord,
        }
        for submit in ways.values():
            for n in range(-WARM_UP, 0):
                submit(n)
        seconds = dict.fromkeys(ways, 0.0)
        requests: dict[str, Counter[str]] = {name: Counter() for name in ways}
        for start in range(0, count, BLOCK):
            for name, submit in ways.items():
                before = Counter(calls)
                started = time.perf_counter()
                for n in range(start, min(start + BLOCK, count)):
                    submit(n)
                seconds[name] += time.perf_counter() - started
                requests[name] += Counter(calls) - before
        recorded = [
            job
            for job in jobs.list(TENANT, connector=CONNECTOR)
            if job.payload.get("run") == "overlord" and job.payload["n"] >= 0
        ]
        submitted = sum(job.backend_job_id is not None for job in recorded)
    finally:
        server.terminate()
        server.join(timeout=10)
    baseline = count / seconds["raw SubmitJob + PutItem"]
    print(f"{count} jobs each way against moto over HTTP on 127.0.0.1 (its own process)")
    print(f"{'way':<26}{'seconds':>9}{'jobs/s':>9}{'ms/job':>8}{'requests/job':>14}{'vs raw':>9}")
    for name, elapsed in seconds.items():
        rate = count / elapsed
        per_job = sum(requests[name].values()) / count
        print(
            f"{name:<26}{elapsed:>9.2f}{rate:>9.0f}{elapsed / count * 1e3:>8.1f}"
            f"{per_job:>14.1f}{rate / baseline:>8.2f}x"
        )
    for name, made in requests.items():
        mix = ", ".join(f"{op} {n / count:g}" for op, n in sorted(made.items()))
        print(f"  {name}: {mix} per job")
    print(f"JobService records with a Batch job id: {submitted} of {count}")
    print(json.dumps({name: round(elapsed, 3) for name, elapsed in seconds.items()}))
    print("baseline: raw boto3 batch.submit_job + dynamodb.put_item per job; ratio is jobs/s")
    if submitted != count:
        raise SystemExit("FAIL: not every JobService submission reached Batch")


if __name__ == "__main__":
    main()
