"""AWS Batch behind the ComputeProvisioner port.

Batch is asynchronous and strict about order: an environment is usable only once VALID, a queue
may only point at a VALID and ENABLED environment, and nothing can be deleted before it is
disabled and settled. This adapter performs those waits itself so that provisioning can treat
every ``ensure_*``/``delete_*`` as one synchronous, idempotent step.

What cannot be known from Batch alone is recorded in tags on the environment: the compute type
the template asked for (it may differ when ``OVERLORD_BATCH_COMPUTE_TYPE`` overrides it) and
whether it serves a pooled, fair-share queue. That keeps ``describe(ensure(spec)) == spec``.

The Batch client and the ``OVERLORD_BATCH_*`` settings are made on first use, not when the
container builds the provisioner for a service that may never call Batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from overlord.adapters.aws.batch_calls import SETTLING, Waiter, boundary, name_of, pages
from overlord.adapters.aws.batch_environments import (
    environment_changes,
    environment_request,
    environment_state,
)
from overlord.adapters.aws.batch_job_definitions import (
    MANAGED_TAGS,
    registration,
    spec_from_description,
)
from overlord.adapters.aws.batch_settings import BatchSettings
from overlord.adapters.aws.clients import AwsClients
from overlord.domain.connectors import JobDefinitionSpec
from overlord.domain.errors import Conflict
from overlord.domain.infrastructure import (
    ComputeEnvironmentSpec,
    ComputeEnvironmentState,
    JobDefinitionState,
    JobQueueSpec,
    JobQueueState,
    ResourceState,
)

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import (
        ComputeEnvironmentDetailTypeDef,
        ComputeEnvironmentOrderTypeDef,
        CreateJobQueueRequestTypeDef,
        FairsharePolicyTypeDef,
        JobQueueDetailTypeDef,
    )

_Described = TypeVar("_Described", bound=Mapping[str, object])
# Fair share over the last hour of usage; every share identifier weighs the same.
FAIR_SHARE_POLICY: FairsharePolicyTypeDef = {"shareDecaySeconds": 3600, "computeReservation": 0}


def _live(described: Sequence[_Described], key: str, name: str) -> _Described | None:
    """The described resource called ``name``, unless Batch reports it DELETED."""
    return next((d for d in described if d[key] == name and d.get("status") != "DELETED"), None)


class BatchComputeProvisioner:
    """Compute environments, job queues and job definitions in AWS Batch.

    ``settings`` may be a function making them, called when a describe or create first needs
    them (before anything is written).

    >>> batch = BatchComputeProvisioner(BatchSettings.from_settings(settings))  # doctest: +SKIP
    >>> batch.count_compute_environments()  # doctest: +SKIP
    3
    """

    def __init__(
        self,
        settings: BatchSettings | Callable[[], BatchSettings],
        client: BatchClient | None = None,
        *,
        poll_seconds: float = 2.0,
        timeout_seconds: float = 600,
        clients: AwsClients | None = None,
    ) -> None:
        self._settings_source = settings
        self._given_client = client
        self._clients = clients
        self._waiter = Waiter(poll_seconds, timeout_seconds)

    @cached_property
    def _settings(self) -> BatchSettings:
        source = self._settings_source
        return source if isinstance(source, BatchSettings) else source()

    @cached_property
    def _client(self) -> BatchClient:
        if self._given_client is not None:
            return self._given_client
        built: BatchClient = (self._clients or AwsClients()).client("batch")
        return built

    def describe_compute_environment(self, name: str) -> ComputeEnvironmentState | None:
        settings = self._settings  # first: provisioning describes before it writes anything
        found = self._environment(name)
        return None if found is None else environment_state(found, settings)

    def ensure_compute_environment(self, spec: ComputeEnvironmentSpec) -> None:
        what = f"compute environment {spec.name!r}"
        current = self._environment(spec.name)
        if current is not None and current["status"] in SETTLING:
            current = self._waiter.settle(what, lambda: self._environment(spec.name))
        if current is None:
            current = self._create(
                what,
                lambda: self._client.create_compute_environment(
                    **environment_request(spec, self._settings)
                ),
                lambda: self._environment(spec.name),
            )
        if current is not None:
            self._update_environment(spec, current)
        self._waiter.settle(what, lambda: self._environment(spec.name), must_be_valid=True)

    def _create(self, what: str, create: Callable[[], object], describe: Callable[[], Any]) -> Any:
        """Create with ``create``; None when it did. If Batch says the resource already exists
        — another apply made it, or botocore resent this request after its answer was lost —
        its settled description, for the caller to bring up to date instead."""
        try:
            with boundary(what):
                create()
            return None
        except Conflict:
            found = self._waiter.settle(what, describe)
            if found is None:
                raise
            return found

    def delete_compute_environment(self, name: str) -> None:
        what = f"compute environment {name!r}"
        current = self._environment(name)
        if current is None:
            return
        if current.get("status") == "DELETING":  # someone else's delete: see it through
            self._waiter.until(what, lambda: self._environment(name) is None)
            return
        arn = current["computeEnvironmentArn"]
        users = sorted(
            queue["jobQueueName"]
            for queue in self._queues()
            if any(
                order["computeEnvironment"] in (arn, name)
                for order in queue.get("computeEnvironmentOrder", [])
            )
        )
        if users:
            raise Conflict(f"{what} is still used by job queue {users[0]!r}: delete it first")
        if current.get("state") == "ENABLED":
            with boundary(what):
                self._client.update_compute_environment(computeEnvironment=arn, state="DISABLED")
        self._waiter.settle(what, lambda: self._environment(name))
        with boundary(what):
            self._client.delete_compute_environment(computeEnvironment=arn)
        self._waiter.until(what, lambda: self._environment(name) is None)

    def count_compute_environments(self) -> int:
        with boundary("compute environments"):
            found = pages(self._client.describe_compute_environments, "computeEnvironments")
            return sum(env.get("status") != "DELETED" for env in found)

    def describe_job_queue(self, name: str) -> JobQueueState | None:
        found = self._queue(name)
        if found is None:
            return None
        orders = sorted(found.get("computeEnvironmentOrder", []), key=lambda o: o["order"])
        return JobQueueState(
            spec=JobQueueSpec(
                name=name,
                compute_environment=name_of(orders[0]["computeEnvironment"]) if orders else "",
                priority=found["priority"],
                fair_share=bool(found.get("schedulingPolicyArn")),
            ),
            state=ResourceState(found.get("status", "VALID")),
            enabled=found.get("state") == "ENABLED",
        )

    def ensure_job_queue(self, spec: JobQueueSpec) -> None:
        what = f"job queue {spec.name!r}"
        environment = self._environment(spec.compute_environment)
        if (
            environment is None
            or environment.get("status") != "VALID"
            or environment.get("state") != "ENABLED"
        ):
            raise Conflict(
                f"{what} needs compute environment {spec.compute_environment!r}, which is "
                "missing or not VALID and ENABLED"
            )
        order: list[ComputeEnvironmentOrderTypeDef] = [
            {"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}
        ]
        current = self._queue(spec.name)
        if current is not None and current.get("status") in SETTLING:
            current = self._waiter.settle(what, lambda: self._queue(spec.name))
        if current is None:
            request: CreateJobQueueRequestTypeDef = {
                "jobQueueName": spec.name,
                "state": "ENABLED",
                "priority": spec.priority,
                "computeEnvironmentOrder": order,
                "tags": dict(MANAGED_TAGS),
            }
            if spec.fair_share:
                request["schedulingPolicyArn"] = self._scheduling_policy(spec.name)
            current = self._create(
                what,
                lambda: self._client.create_job_queue(**request),
                lambda: self._queue(spec.name),
            )
        if current is not None:
            if bool(current.get("schedulingPolicyArn")) != spec.fair_share:
                raise Conflict(
                    f"{what}: Batch cannot switch a queue between FIFO and fair-share "
                    "scheduling; delete the queue and apply again"
                )
            unchanged = (
                current.get("state") == "ENABLED"
                and current.get("priority") == spec.priority
                and current.get("computeEnvironmentOrder") == order
            )
            if not unchanged:
                with boundary(what):
                    self._client.update_job_queue(
                        jobQueue=spec.name,
                        state="ENABLED",
                        priority=spec.priority,
                        computeEnvironmentOrder=order,
                    )
        self._waiter.settle(what, lambda: self._queue(spec.name), must_be_valid=True)

    def delete_job_queue(self, name: str) -> None:
        what = f"job queue {name!r}"
        current = self._queue(name)
        if current is None:
            return
        if current.get("status") == "DELETING":  # someone else's delete: see it through
            self._waiter.until(what, lambda: self._queue(name) is None)
            return
        if current.get("state") == "ENABLED":
            with boundary(what):
                self._client.update_job_queue(jobQueue=name, state="DISABLED")
        self._waiter.settle(what, lambda: self._queue(name))
        with boundary(what):
            self._client.delete_job_queue(jobQueue=name)
        self._waiter.until(what, lambda: self._queue(name) is None)
        policy = current.get("schedulingPolicyArn")
        if policy and name_of(policy) == name:
            with boundary(f"scheduling policy {name!r}"):
                self._client.delete_scheduling_policy(arn=policy)

    def count_job_queues(self) -> int:
        return len(list(self._queues()))

    def describe_job_definition(self, name: str) -> JobDefinitionState | None:
        active = self._active_revisions(name)
        if not active:
            return None
        latest = max(active, key=lambda d: d["revision"])
        return JobDefinitionState(
            name=name, revision=latest["revision"], spec=spec_from_description(latest)
        )

    def register_job_definition(self, name: str, spec: JobDefinitionSpec) -> JobDefinitionState:
        with boundary(f"job definition {name!r}"):
            answer = self._client.register_job_definition(
                **registration(name, spec, self._settings)
            )
        return JobDefinitionState(name=name, revision=answer["revision"], spec=spec)

    def deregister_job_definition(self, name: str) -> None:
        for definition in self._active_revisions(name):
            with boundary(f"job definition {name!r}"):
                self._client.deregister_job_definition(jobDefinition=definition["jobDefinitionArn"])

    def _update_environment(
        self, spec: ComputeEnvironmentSpec, current: ComputeEnvironmentDetailTypeDef
    ) -> None:
        what, arn = f"compute environment {spec.name!r}", current["computeEnvironmentArn"]
        update, tags = environment_changes(spec, current, self._settings)
        if update:
            with boundary(what):
                self._client.update_compute_environment(computeEnvironment=arn, **update)
        if tags:
            with boundary(what):
                self._client.tag_resource(resourceArn=arn, tags=tags)

    def _environment(self, name: str) -> ComputeEnvironmentDetailTypeDef | None:
        with boundary(f"compute environment {name!r}"):
            found = self._client.describe_compute_environments(computeEnvironments=[name])
        return _live(found.get("computeEnvironments", []), "computeEnvironmentName", name)

    def _queue(self, name: str) -> JobQueueDetailTypeDef | None:
        with boundary(f"job queue {name!r}"):
            found = self._client.describe_job_queues(jobQueues=[name])
        return _live(found.get("jobQueues", []), "jobQueueName", name)

    def _queues(self) -> Iterator[JobQueueDetailTypeDef]:
        with boundary("job queues"):
            for queue in list(pages(self._client.describe_job_queues, "jobQueues")):
                if queue.get("status") != "DELETED":
                    yield queue

    def _active_revisions(self, name: str) -> list[Any]:
        with boundary(f"job definition {name!r}"):
            return [
                d
                for d in pages(
                    self._client.describe_job_definitions,
                    "jobDefinitions",
                    jobDefinitionName=name,
                    status="ACTIVE",
                )
                if d.get("jobDefinitionName") == name and d.get("status") == "ACTIVE"
            ]

    def _scheduling_policy(self, name: str) -> str:
        """The fair-share policy named after the queue (reused if a failed apply left it, or if
        a resent create finds the one its lost answer made)."""
        what = f"scheduling policy {name!r}"
        found = self._policy_arn(what, name)
        if found is not None:
            return found
        try:
            with boundary(what):
                created = self._client.create_scheduling_policy(
                    name=name, fairsharePolicy=FAIR_SHARE_POLICY, tags=dict(MANAGED_TAGS)
                )
            return created["arn"]
        except Conflict:
            found = self._policy_arn(what, name)
            if found is None:
                raise
            return found

    def _policy_arn(self, what: str, name: str) -> str | None:
        with boundary(what):
            for policy in pages(self._client.list_scheduling_policies, "schedulingPolicies"):
                if name_of(policy["arn"]) == name:
                    return str(policy["arn"])
        return None
