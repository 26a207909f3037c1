"""Account-level AWS resources the contract suites' AWS adapters need, made once per session.

AWS Batch refuses a compute environment whose subnets, security groups and roles do not exist,
and EventBridge Scheduler needs a role to assume and somewhere to send failed deliveries; so
these fixtures create them in the session's AWS-API endpoint (moto) with plain boto3, exactly as
an operator would before setting ``OVERLORD_BATCH_*`` and ``OVERLORD_SCHEDULER_*``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from overlord.adapters.aws.batch_settings import BatchSettings
from overlord.adapters.aws.scheduler import SchedulerTargetSettings


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def _role(iam: Any, name: str, service: str) -> str:
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(service))["Role"][
        "Arn"
    ]
    return arn


@pytest.fixture(scope="session")
def _moto_updates_compute_resources(aws_endpoint: str) -> Iterator[None]:
    """moto's UpdateComputeEnvironment ignores ``computeResources`` (moto 5.2.5: "TODO");
    real Batch applies ``maxvCpus``. Complete the fake, so the contract checks the real rule."""
    from moto.batch.models import BatchBackend

    original = BatchBackend.update_compute_environment

    def update(self: Any, compute_environment_name: str, state: Any, compute_resources: Any,
               service_role: Any) -> Any:
        result = original(self, compute_environment_name, state, compute_resources, service_role)
        environment = self.get_compute_environment(compute_environment_name)
        if compute_resources and environment is not None:
            for key in ("maxvCpus", "minvCpus", "desiredvCpus"):
                if key in compute_resources:
                    environment.compute_resources[key] = compute_resources[key]
        return result

    BatchBackend.update_compute_environment = update  # type: ignore[method-assign]
    try:
        yield
    finally:
        BatchBackend.update_compute_environment = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def batch_network(aws_endpoint: str, _moto_updates_compute_resources: None) -> BatchSettings:
    """A VPC, subnet, security group and the four Batch roles, as ``BatchSettings``."""
    suffix = uuid.uuid4().hex[:8]
    ec2, iam = boto3.client("ec2"), boto3.client("iam")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName=f"overlord-batch-{suffix}", Description="Overlord Batch jobs", VpcId=vpc
    )["GroupId"]
    instance_role = _role(iam, f"overlord-batch-instance-{suffix}", "ec2.amazonaws.com")
    profile = iam.create_instance_profile(InstanceProfileName=f"overlord-batch-{suffix}")
    iam.add_role_to_instance_profile(
        InstanceProfileName=f"overlord-batch-{suffix}", RoleName=instance_role.rsplit("/", 1)[-1]
    )
    return BatchSettings(
        subnets=(subnet,),
        security_groups=(group,),
        service_role_arn=_role(iam, f"overlord-batch-service-{suffix}", "batch.amazonaws.com"),
        execution_role_arn=_role(
            iam, f"overlord-batch-execution-{suffix}", "ecs-tasks.amazonaws.com"
        ),
        instance_role_arn=profile["InstanceProfile"]["Arn"],
        job_role_arn=_role(iam, f"overlord-batch-job-{suffix}", "ecs-tasks.amazonaws.com"),
    )


@pytest.fixture(scope="session")
def scheduler_target(aws_endpoint: str) -> SchedulerTargetSettings:
    """A target queue, a dead-letter queue and a role EventBridge Scheduler can assume."""
    suffix = uuid.uuid4().hex[:8]
    sqs, iam = boto3.client("sqs"), boto3.client("iam")

    def queue_arn(name: str) -> str:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return arn

    return SchedulerTargetSettings(
        target_arn=queue_arn(f"overlord-schedule-target-{suffix}"),
        role_arn=_role(iam, f"overlord-scheduler-{suffix}", "scheduler.amazonaws.com"),
        dead_letter_arn=queue_arn(f"overlord-schedule-dlq-{suffix}"),
        maximum_retry_attempts=4,
        maximum_event_age_seconds=900,
    )
