"""Contract every ComputeProvisioner passes: the AWS Batch rules provisioning relies on.

Adapters may share one account (an AWS-API server for the whole session), so every test names
its resources uniquely, removes them afterwards, and compares counts before and after rather
than assuming an empty account.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from attrs import evolve

from overlord.adapters.aws.compute import BatchComputeProvisioner
from overlord.adapters.local.compute import LocalComputeProvisioner
from overlord.adapters.memory.compute import MemoryComputeProvisioner
from overlord.domain.connectors import ComputeType, JobDefinitionSpec
from overlord.domain.errors import Conflict, OverlordError
from overlord.domain.infrastructure import (
    ComputeEnvironmentSpec,
    ComputeEnvironmentState,
    JobQueueSpec,
    JobQueueState,
    ResourceState,
)
from overlord.ports.compute import ComputeProvisioner

FACTORIES: dict[str, Callable[[pytest.FixtureRequest], ComputeProvisioner]] = {
    "memory": lambda request: MemoryComputeProvisioner(),
    "local": lambda request: LocalComputeProvisioner(request.getfixturevalue("tmp_path")),
    "batch": lambda request: BatchComputeProvisioner(
        request.getfixturevalue("batch_network"), poll_seconds=0.05, timeout_seconds=30
    ),
}


@pytest.fixture(params=sorted(FACTORIES))
def compute(request: pytest.FixtureRequest) -> ComputeProvisioner:
    return FACTORIES[request.param](request)


class Created:
    """Names this test created, removed in the order Batch requires when the test ends."""

    def __init__(self, compute: ComputeProvisioner) -> None:
        self.compute = compute
        self.environments: list[str] = []
        self.queues: list[str] = []
        self.definitions: list[str] = []

    def environment(self, **changes: Any) -> ComputeEnvironmentSpec:
        spec = evolve(
            ComputeEnvironmentSpec(name=unique("ce"), type=ComputeType.FARGATE, max_vcpus=4),
            **changes,
        )
        self.environments.append(spec.name)
        self.compute.ensure_compute_environment(spec)
        return spec

    def queue(self, environment: str, **changes: Any) -> JobQueueSpec:
        spec = evolve(
            JobQueueSpec(name=unique("jq"), compute_environment=environment, priority=1),
            **changes,
        )
        self.queues.append(spec.name)
        self.compute.ensure_job_queue(spec)
        return spec

    def definition_name(self) -> str:
        name = unique("jd")
        self.definitions.append(name)
        return name

    def remove_all(self) -> None:
        for name in self.queues:
            with contextlib.suppress(OverlordError):
                self.compute.delete_job_queue(name)
        for name in self.environments:
            with contextlib.suppress(OverlordError):
                self.compute.delete_compute_environment(name)
        for name in self.definitions:
            with contextlib.suppress(OverlordError):
                self.compute.deregister_job_definition(name)


@pytest.fixture
def created(compute: ComputeProvisioner) -> Iterator[Created]:
    resources = Created(compute)
    yield resources
    resources.remove_all()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


JOB = JobDefinitionSpec(
    image="python:3.11-slim",
    command=("python", "-m", "connector", "run"),
    vcpus=0.5,
    memory_mib=1024,
    timeout_seconds=900,
    retry_attempts=3,
    environment=(("LOG_LEVEL", "debug"), ("REGION", "eu-west-1")),
)


@pytest.mark.parametrize(
    "changes",
    [{}, {"type": ComputeType.FARGATE_SPOT, "max_vcpus": 8, "fair_share": True}],
    ids=["default", "fair-share-spot"],
)
def test_an_ensured_environment_is_described_exactly_as_given(
    compute: ComputeProvisioner, created: Created, changes: dict[str, Any]
) -> None:
    spec = created.environment(**changes)

    assert compute.describe_compute_environment(spec.name) == ComputeEnvironmentState(
        spec=spec, state=ResourceState.VALID, enabled=True
    )


def test_ensuring_an_environment_again_updates_it_in_place(
    compute: ComputeProvisioner, created: Created
) -> None:
    spec = created.environment(max_vcpus=4)
    before = compute.count_compute_environments()
    wider = ComputeEnvironmentSpec(name=spec.name, type=spec.type, max_vcpus=16, fair_share=True)

    compute.ensure_compute_environment(wider)

    state = compute.describe_compute_environment(spec.name)
    assert state is not None
    assert (state.spec, state.state, state.enabled) == (wider, ResourceState.VALID, True)
    assert compute.count_compute_environments() == before


def test_an_environment_keeps_its_type(compute: ComputeProvisioner, created: Created) -> None:
    spec = created.environment(type=ComputeType.FARGATE)
    spot = ComputeEnvironmentSpec(name=spec.name, type=ComputeType.FARGATE_SPOT, max_vcpus=32)

    with pytest.raises(Conflict):
        compute.ensure_compute_environment(spot)

    state = compute.describe_compute_environment(spec.name)
    assert state is not None
    assert state.spec == spec


def test_a_queue_keeps_its_scheduling_policy(compute: ComputeProvisioner, created: Created) -> None:
    environment = created.environment(fair_share=True)
    spec = created.queue(environment.name, priority=1)
    fair = JobQueueSpec(
        name=spec.name, compute_environment=environment.name, priority=7, fair_share=True
    )

    with pytest.raises(Conflict):
        compute.ensure_job_queue(fair)

    assert compute.describe_job_queue(spec.name) == JobQueueState(
        spec=spec, state=ResourceState.VALID, enabled=True
    )


def test_an_ensured_queue_is_described_exactly_as_given(
    compute: ComputeProvisioner, created: Created
) -> None:
    environment = created.environment(fair_share=True)
    spec = created.queue(environment.name, priority=5, fair_share=True)

    assert compute.describe_job_queue(spec.name) == JobQueueState(
        spec=spec, state=ResourceState.VALID, enabled=True
    )


def test_ensuring_a_queue_again_updates_it_in_place(
    compute: ComputeProvisioner, created: Created
) -> None:
    environment = created.environment()
    spec = created.queue(environment.name, priority=1)
    before = compute.count_job_queues()
    changed = JobQueueSpec(name=spec.name, compute_environment=environment.name, priority=9)

    compute.ensure_job_queue(changed)

    state = compute.describe_job_queue(spec.name)
    assert state is not None
    assert state.spec == changed
    assert compute.count_job_queues() == before


def test_a_queue_needs_an_existing_environment(
    compute: ComputeProvisioner, created: Created
) -> None:
    name = unique("jq")
    created.queues.append(name)

    with pytest.raises(Conflict):
        compute.ensure_job_queue(
            JobQueueSpec(name=name, compute_environment=unique("missing"), priority=1)
        )

    assert compute.describe_job_queue(name) is None


def test_an_environment_used_by_a_queue_cannot_be_deleted(
    compute: ComputeProvisioner, created: Created
) -> None:
    environment = created.environment()
    queue = created.queue(environment.name)

    with pytest.raises(Conflict):
        compute.delete_compute_environment(environment.name)

    assert compute.describe_compute_environment(environment.name) is not None
    compute.delete_job_queue(queue.name)
    compute.delete_compute_environment(environment.name)
    assert compute.describe_compute_environment(environment.name) is None


def test_a_queue_moved_to_another_environment_frees_the_first(
    compute: ComputeProvisioner, created: Created
) -> None:
    first, second = created.environment(), created.environment()
    queue = created.queue(first.name)

    compute.ensure_job_queue(
        JobQueueSpec(name=queue.name, compute_environment=second.name, priority=1)
    )
    compute.delete_compute_environment(first.name)

    assert compute.describe_compute_environment(first.name) is None
    with pytest.raises(Conflict):
        compute.delete_compute_environment(second.name)


def test_deletes_are_idempotent(compute: ComputeProvisioner, created: Created) -> None:
    environment = created.environment()
    queue = created.queue(environment.name)

    for _ in range(2):
        compute.delete_job_queue(queue.name)
        compute.delete_compute_environment(environment.name)
        compute.deregister_job_definition(unique("jd"))

    assert compute.describe_job_queue(queue.name) is None
    assert compute.describe_compute_environment(environment.name) is None


def test_missing_resources_are_described_as_none(compute: ComputeProvisioner) -> None:
    assert compute.describe_compute_environment(unique("ce")) is None
    assert compute.describe_job_queue(unique("jq")) is None
    assert compute.describe_job_definition(unique("jd")) is None


def test_counts_follow_creation_and_deletion(compute: ComputeProvisioner, created: Created) -> None:
    environments, queues = compute.count_compute_environments(), compute.count_job_queues()

    environment = created.environment()
    queue = created.queue(environment.name)
    assert compute.count_compute_environments() == environments + 1
    assert compute.count_job_queues() == queues + 1

    compute.delete_job_queue(queue.name)
    compute.delete_compute_environment(environment.name)
    assert compute.count_compute_environments() == environments
    assert compute.count_job_queues() == queues


def test_a_registered_job_definition_is_described_exactly_as_given(
    compute: ComputeProvisioner, created: Created
) -> None:
    name = created.definition_name()

    registered = compute.register_job_definition(name, JOB)

    assert (registered.name, registered.revision, registered.spec) == (name, 1, JOB)
    assert compute.describe_job_definition(name) == registered


def test_registering_again_makes_a_new_latest_revision(
    compute: ComputeProvisioner, created: Created
) -> None:
    name = created.definition_name()
    compute.register_job_definition(name, JOB)
    newer = JobDefinitionSpec(image="python:3.12-slim", command=("python", "-V"), vcpus=2.0)

    second = compute.register_job_definition(name, newer)

    assert second.revision == 2
    assert compute.describe_job_definition(name) == second


def test_deregistering_deactivates_every_revision(
    compute: ComputeProvisioner, created: Created
) -> None:
    name = created.definition_name()
    compute.register_job_definition(name, JOB)
    compute.register_job_definition(name, JOB)

    compute.deregister_job_definition(name)

    assert compute.describe_job_definition(name) is None


def test_revisions_keep_counting_after_a_deregistration(
    compute: ComputeProvisioner, created: Created
) -> None:
    name = created.definition_name()
    compute.register_job_definition(name, JOB)
    compute.deregister_job_definition(name)

    again = compute.register_job_definition(name, JOB)

    assert again.revision == 2
    assert compute.describe_job_definition(name) == again
