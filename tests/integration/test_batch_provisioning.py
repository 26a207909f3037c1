"""BatchComputeProvisioner against an AWS Batch API (moto over HTTP), checked with plain boto3.

The contract suite proves the adapter round-trips its own specs; these tests look at what Batch
was really asked to create: the compute resources per type, the fair-share policy of a pooled
queue, the job definition's container, the order of deletion, and throttling absorbed by the
standard retry mode.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from attrs import evolve
from botocore.config import Config

from overlord.adapters.aws.batch_settings import BatchSettings
from overlord.adapters.aws.clients import client as overlord_client
from overlord.adapters.aws.compute import BatchComputeProvisioner
from overlord.domain.connectors import ComputeType, JobDefinitionSpec
from overlord.domain.errors import ConfigurationError, Conflict, InvalidInput, Throttled
from overlord.domain.infrastructure import ComputeEnvironmentSpec, JobQueueSpec
from tests.integration.aws_network import (
    make_batch_network,
    moto_applies_compute_resource_updates,
)
from tests.integration.botocore_events import recorded_calls, throttle_first
from tests.moto_endpoint import LostAnswers

JOB = JobDefinitionSpec(
    image="public.ecr.aws/docker/library/python:3.11-slim",
    command=("python", "-m", "connector", "run"),
    vcpus=0.25,
    memory_mib=512,
    timeout_seconds=1200,
    retry_attempts=2,
    environment=(("TENANT", "acme"), ("A_LATER_KEY", "1")),
)


@pytest.fixture(scope="module")
def network(aws_endpoint: str) -> Iterator[BatchSettings]:
    with moto_applies_compute_resource_updates():
        yield make_batch_network()


@pytest.fixture
def batch() -> Any:
    return boto3.client("batch")


def provisioner(settings: BatchSettings, client: Any = None) -> BatchComputeProvisioner:
    return BatchComputeProvisioner(settings, client, poll_seconds=0.05, timeout_seconds=30)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def environments(batch: Any, name: str) -> list[dict[str, Any]]:
    found = batch.describe_compute_environments(computeEnvironments=[name])
    return list(found["computeEnvironments"])


def environment(batch: Any, name: str) -> dict[str, Any]:
    (found,) = environments(batch, name)
    return found


def latest_definition(batch: Any, name: str) -> dict[str, Any]:
    found = batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"]
    return dict(max(found, key=lambda d: d["revision"]))


def environment_spec(**changes: Any) -> ComputeEnvironmentSpec:
    spec = ComputeEnvironmentSpec(name=unique("ce"), type=ComputeType.FARGATE, max_vcpus=4)
    return evolve(spec, **changes)


def queues(batch: Any, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
    return found


def test_a_fargate_environment_gets_network_and_size_but_no_instances(
    network: BatchSettings, batch: Any
) -> None:
    spec = environment_spec(type=ComputeType.FARGATE_SPOT, max_vcpus=8)

    provisioner(network).ensure_compute_environment(spec)

    found = environment(batch, spec.name)
    assert (found["type"], found["state"], found["status"]) == ("MANAGED", "ENABLED", "VALID")
    assert found["serviceRole"] == network.service_role_arn
    assert found["computeResources"] == {
        "type": "FARGATE_SPOT",
        "maxvCpus": 8,
        "subnets": list(network.subnets),
        "securityGroupIds": list(network.security_groups),
    }


@pytest.mark.parametrize(
    ("kind", "strategy"),
    [(ComputeType.EC2, "BEST_FIT_PROGRESSIVE"), (ComputeType.SPOT, "SPOT_CAPACITY_OPTIMIZED")],
)
def test_an_ec2_environment_gets_the_instance_profile_and_optimal_types(
    network: BatchSettings, batch: Any, kind: ComputeType, strategy: str
) -> None:
    spec = environment_spec(type=kind, max_vcpus=32)

    provisioner(network).ensure_compute_environment(spec)

    resources = environment(batch, spec.name)["computeResources"]
    assert resources["type"] == kind.value
    assert resources["instanceRole"] == network.instance_role_arn
    assert resources["instanceTypes"] == ["optimal"]
    assert (resources["minvCpus"], resources["maxvCpus"]) == (0, 32)
    assert resources["allocationStrategy"] == strategy


def test_an_ec2_environment_without_an_instance_profile_is_refused_before_any_call(
    network: BatchSettings, batch: Any
) -> None:
    name = unique("ce")
    settings = evolve(network, instance_role_arn=None)

    with pytest.raises(ConfigurationError, match="INSTANCE_ROLE_ARN"):
        provisioner(settings).ensure_compute_environment(
            ComputeEnvironmentSpec(name=name, type=ComputeType.EC2, max_vcpus=4)
        )

    assert environments(batch, name) == []


def test_a_compute_type_override_wins_and_still_round_trips(
    network: BatchSettings, batch: Any
) -> None:
    settings = evolve(network, compute_type=ComputeType.EC2)
    compute = provisioner(settings)
    spec = environment_spec()
    name = unique("jd")

    compute.ensure_compute_environment(spec)
    compute.register_job_definition(name, JOB)

    assert environment(batch, spec.name)["computeResources"]["type"] == "EC2"
    described = compute.describe_compute_environment(spec.name)
    assert described is not None
    assert described.spec == spec
    definition = latest_definition(batch, name)
    assert definition["platformCapabilities"] == ["EC2"]


def test_resizing_an_environment_updates_it_in_place(network: BatchSettings, batch: Any) -> None:
    compute = provisioner(network)
    spec = environment_spec()
    compute.ensure_compute_environment(spec)
    arn = environment(batch, spec.name)["computeEnvironmentArn"]

    compute.ensure_compute_environment(evolve(spec, max_vcpus=64))

    found = environment(batch, spec.name)
    assert (found["computeEnvironmentArn"], found["computeResources"]["maxvCpus"]) == (arn, 64)


def test_a_pooled_queue_gets_a_fair_share_policy_named_after_it(
    network: BatchSettings, batch: Any
) -> None:
    compute = provisioner(network)
    pool = environment_spec(max_vcpus=16, fair_share=True)
    compute.ensure_compute_environment(pool)
    pooled = JobQueueSpec(
        name=unique("jq"), compute_environment=pool.name, priority=10, fair_share=True
    )
    dedicated = JobQueueSpec(name=unique("jq"), compute_environment=pool.name, priority=1)

    compute.ensure_job_queue(pooled)
    compute.ensure_job_queue(dedicated)

    queue = queues(batch, pooled.name)[0]
    policies = batch.describe_scheduling_policies(arns=[queue["schedulingPolicyArn"]])
    policy = policies["schedulingPolicies"][0]
    assert policy["name"] == pooled.name
    assert policy["fairsharePolicy"]["shareDecaySeconds"] == 3600
    assert queue["priority"] == 10
    assert queue["computeEnvironmentOrder"] == [
        {"order": 1, "computeEnvironment": environment(batch, pool.name)["computeEnvironmentArn"]}
    ]
    assert not queues(batch, dedicated.name)[0].get("schedulingPolicyArn")
    with pytest.raises(Conflict, match="fair-share"):
        compute.ensure_job_queue(evolve(dedicated, fair_share=True))

    compute.delete_job_queue(pooled.name)
    assert queue["schedulingPolicyArn"] not in [
        p["arn"] for p in batch.list_scheduling_policies()["schedulingPolicies"]
    ]


def test_a_queue_waits_for_an_enabled_environment(network: BatchSettings, batch: Any) -> None:
    compute = provisioner(network)
    spec = environment_spec()
    compute.ensure_compute_environment(spec)
    batch.update_compute_environment(computeEnvironment=spec.name, state="DISABLED")
    queue = JobQueueSpec(name=unique("jq"), compute_environment=spec.name, priority=1)

    with pytest.raises(Conflict, match="ENABLED"):
        compute.ensure_job_queue(queue)

    assert queues(batch, queue.name) == []


def test_a_job_definition_is_registered_as_batch_expects_it(
    network: BatchSettings, batch: Any
) -> None:
    name = unique("jd")

    provisioner(network).register_job_definition(name, JOB)

    definition = latest_definition(batch, name)
    container = definition["containerProperties"]
    assert (definition["type"], definition["platformCapabilities"]) == ("container", ["FARGATE"])
    assert container["image"] == JOB.image
    assert container["command"] == list(JOB.command)
    assert container["resourceRequirements"] == [
        {"type": "VCPU", "value": "0.25"},
        {"type": "MEMORY", "value": "512"},
    ]
    assert container["environment"] == [
        {"name": "TENANT", "value": "acme"},
        {"name": "A_LATER_KEY", "value": "1"},
    ]
    assert container["executionRoleArn"] == network.execution_role_arn
    assert container["jobRoleArn"] == network.job_role_arn
    assert definition["timeout"] == {"attemptDurationSeconds": 1200}
    assert definition["retryStrategy"] == {"attempts": 2}
    assert definition["tags"] == {"managed-by": "overlord"}


def test_an_unchanged_spec_needs_no_new_revision_and_a_changed_one_gets_the_next(
    network: BatchSettings, batch: Any
) -> None:
    compute = provisioner(network)
    name = unique("jd")
    compute.register_job_definition(name, JOB)

    described = compute.describe_job_definition(name)
    assert described is not None
    assert described.spec == JOB  # provisioning compares this: equal means "unchanged"

    newer = compute.register_job_definition(name, evolve(JOB, vcpus=1.0, memory_mib=2048))
    revisions = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
    assert newer.revision == described.revision + 1
    assert sorted(d["revision"] for d in revisions["jobDefinitions"]) == [1, 2]
    assert compute.describe_job_definition(name) == newer

    compute.deregister_job_definition(name)
    statuses = batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"]
    assert {d["status"] for d in statuses} == {"INACTIVE"}


def test_an_empty_environment_variable_is_refused_as_batch_would_drop_it(
    network: BatchSettings,
) -> None:
    with pytest.raises(InvalidInput, match="EMPTY"):
        provisioner(network).register_job_definition(
            unique("jd"), evolve(JOB, environment=(("EMPTY", ""),))
        )


def test_deletion_disables_then_deletes_the_queue_before_the_environment(
    network: BatchSettings, batch: Any
) -> None:
    client = boto3.client("batch")
    compute = provisioner(network, client)
    spec = environment_spec()
    compute.ensure_compute_environment(spec)
    queue = JobQueueSpec(name=unique("jq"), compute_environment=spec.name, priority=1)
    compute.ensure_job_queue(queue)
    calls = recorded_calls(client)

    with pytest.raises(Conflict, match=queue.name):
        compute.delete_compute_environment(spec.name)
    assert environment(batch, spec.name)["state"] == "ENABLED"  # refused before any change
    assert len(queues(batch, queue.name)) == 1

    compute.delete_job_queue(queue.name)
    compute.delete_compute_environment(spec.name)

    changes = [call for call in calls if not call[0].startswith(("Describe", "List"))]
    assert changes == [
        ("UpdateJobQueue", "DISABLED"),
        ("DeleteJobQueue", None),
        ("UpdateComputeEnvironment", "DISABLED"),
        ("DeleteComputeEnvironment", None),
    ]
    assert queues(batch, queue.name) == []
    assert environments(batch, spec.name) == []


def test_a_burst_of_throttling_is_absorbed_by_standard_retries(network: BatchSettings) -> None:
    client = overlord_client("batch")
    sent = throttle_first(client, 3)
    compute = provisioner(network, client)
    name = unique("jd")

    registered = compute.register_job_definition(name, JOB)

    assert registered.revision == 1
    assert sent() == 4  # three refusals, then the call that went through


def test_throttling_that_outlasts_the_retries_is_a_throttled_error(
    network: BatchSettings,
) -> None:
    client = boto3.client("batch", config=Config(retries={"mode": "standard", "max_attempts": 2}))
    throttle_first(client, 10)

    with pytest.raises(Throttled):
        provisioner(network, client).count_job_queues()


@pytest.mark.parametrize("fair_share", [False, True], ids=["fifo", "fair-share"])
def test_creates_whose_answers_were_lost_and_resent_by_botocore_are_brought_up_to_date(
    network: BatchSettings, batch: Any, lost_answers: LostAnswers, fair_share: bool
) -> None:
    """Batch made each resource, its answer was lost (HTTP 500), botocore sent the create
    again and Batch said it already exists: the apply goes on with what is there."""
    for path in (
        "/v1/createcomputeenvironment",
        "/v1/createjobqueue",
        "/v1/createschedulingpolicy",
    ):
        lost_answers.lose(path)
    compute = provisioner(network)
    spec = environment_spec()
    queue = JobQueueSpec(
        name=unique("jq"), compute_environment=spec.name, priority=1, fair_share=fair_share
    )

    compute.ensure_compute_environment(spec)
    compute.ensure_job_queue(queue)

    assert environment(batch, spec.name)["status"] == "VALID"
    [made] = batch.describe_job_queues(jobQueues=[queue.name])["jobQueues"]
    assert (made["state"], made["status"]) == ("ENABLED", "VALID")
    assert bool(made.get("schedulingPolicyArn")) is fair_share
    assert lost_answers.lost.get("/v1/createcomputeenvironment") == 1
    assert lost_answers.lost.get("/v1/createjobqueue") == 1
    assert lost_answers.lost.get("/v1/createschedulingpolicy") == (1 if fair_share else None)
