"""Account-level AWS resources that Batch and EventBridge Scheduler adapters need, made in moto.

AWS Batch refuses a compute environment whose subnets, security groups and roles do not exist,
and EventBridge Scheduler needs a role to assume and somewhere to send failed deliveries. These
helpers create them with plain boto3, exactly as an operator would before setting
``OVERLORD_BATCH_*`` and ``OVERLORD_SCHEDULER_*``; the contract and integration fixtures call
them. Names are unique, so a shared moto server needs no clean-up.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3

from overlord.adapters.aws.batch_settings import BatchSettings
from overlord.adapters.aws.scheduler import SchedulerTargetSettings


def _trust(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _role(iam: Any, name: str, service: str) -> str:
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(service))["Role"]
    return str(role["Arn"])


def make_batch_network() -> BatchSettings:
    """A VPC, subnet, security group, service/execution/job roles and an instance profile."""
    suffix = uuid.uuid4().hex[:8]
    ec2, iam = boto3.client("ec2"), boto3.client("iam")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName=f"overlord-batch-{suffix}", Description="Overlord Batch jobs", VpcId=vpc
    )["GroupId"]
    profile_name = f"overlord-batch-instance-{suffix}"
    instance_role = _role(iam, profile_name, "ec2.amazonaws.com")
    profile = iam.create_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]
    iam.add_role_to_instance_profile(
        InstanceProfileName=profile_name, RoleName=instance_role.rsplit("/", 1)[-1]
    )
    return BatchSettings(
        subnets=(subnet,),
        security_groups=(group,),
        service_role_arn=_role(iam, f"overlord-batch-service-{suffix}", "batch.amazonaws.com"),
        execution_role_arn=_role(iam, f"overlord-batch-exec-{suffix}", "ecs-tasks.amazonaws.com"),
        instance_role_arn=profile["Arn"],
        job_role_arn=_role(iam, f"overlord-batch-job-{suffix}", "ecs-tasks.amazonaws.com"),
    )


def make_scheduler_target() -> SchedulerTargetSettings:
    """A target queue, a dead-letter queue and a role EventBridge Scheduler can assume.

    (On AWS the target is the schedule Lambda; moto does not invoke targets, so a queue serves.)
    """
    suffix = uuid.uuid4().hex[:8]
    sqs, iam = boto3.client("sqs"), boto3.client("iam")

    def queue_arn(name: str) -> str:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    return SchedulerTargetSettings(
        target_arn=queue_arn(f"overlord-schedule-target-{suffix}"),
        role_arn=_role(iam, f"overlord-scheduler-{suffix}", "scheduler.amazonaws.com"),
        dead_letter_arn=queue_arn(f"overlord-schedule-dlq-{suffix}"),
        maximum_retry_attempts=4,
        maximum_event_age_seconds=900,
    )


@contextlib.contextmanager
def moto_applies_compute_resource_updates() -> Iterator[None]:
    """Make moto's UpdateComputeEnvironment apply ``computeResources`` as Batch does.

    moto 5.2.5 accepts the argument and ignores it (a "TODO" in its code), so an in-place
    ``maxvCpus`` change could never be read back. The server runs in this process, so the fake
    is completed here, for the block's duration, rather than weakening the contract.
    """
    from moto.batch.models import BatchBackend

    original = BatchBackend.update_compute_environment

    def update(
        self: Any,
        compute_environment_name: str,
        state: Any,
        compute_resources: Any,
        service_role: Any,
    ) -> Any:
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


def make_batch_queue(network: BatchSettings) -> tuple[str, str]:
    """A Fargate environment, a queue on it and a job definition: (queue, definition) names."""
    suffix = uuid.uuid4().hex[:8]
    batch = boto3.client("batch")
    environment = batch.create_compute_environment(
        computeEnvironmentName=f"overlord-jobs-{suffix}",
        type="MANAGED",
        state="ENABLED",
        computeResources={
            "type": "FARGATE",
            "maxvCpus": 4,
            "subnets": list(network.subnets),
            "securityGroupIds": list(network.security_groups),
        },
        serviceRole=network.service_role_arn or "",
    )["computeEnvironmentArn"]
    queue = f"overlord-jobs-{suffix}"
    batch.create_job_queue(
        jobQueueName=queue,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )
    definition = f"overlord-jobs-{suffix}"
    batch.register_job_definition(
        jobDefinitionName=definition,
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "public.ecr.aws/docker/library/python:3.12-slim",
            "command": ["python", "--version"],
            "executionRoleArn": network.execution_role_arn or "",
            "resourceRequirements": [
                {"type": "VCPU", "value": "0.25"},
                {"type": "MEMORY", "value": "512"},
            ],
        },
    )
    return queue, definition


def make_state_machine_role() -> str:
    """A role Step Functions can assume (what ``OVERLORD_PIPELINE_ROLE_ARN`` names)."""
    name = f"overlord-pipelines-{uuid.uuid4().hex[:8]}"
    return _role(boto3.client("iam"), name, "states.amazonaws.com")
