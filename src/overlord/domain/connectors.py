"""Connector templates: what a connector needs, before any tenant is known.

A template is the catalog entry the original system kept as one document per connector. It is
pure data; `overlord.domain.template_parsing` builds it from TOML/JSON with precise errors, and
`TenantConnector` resolves it for one tenant.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from overlord.domain.errors import NotFound
from overlord.domain.indexes import IndexSpec
from overlord.domain.names import ConnectorName
from overlord.domain.pipeline_templates import PipelineTemplate


class Placement(enum.StrEnum):
    """Where a tenant's jobs run.

    AWS Batch allows 50 compute environments and 50 job queues per Region, so ``dedicated``
    (own environment and queue per tenant-connector) stops at 50; ``pooled`` shares one
    environment and fair-share queue among tenants.
    """

    DEDICATED = "dedicated"
    POOLED = "pooled"


class ComputeType(enum.StrEnum):
    FARGATE = "FARGATE"
    FARGATE_SPOT = "FARGATE_SPOT"
    EC2 = "EC2"
    SPOT = "SPOT"


class StuckPolicy(enum.StrEnum):
    """What the sweeper does with a job stuck before RUNNING."""

    WAIT = "wait"
    RESUBMIT = "cancel-and-resubmit"
    FAIL = "fail"


class FollowUpAction(enum.StrEnum):
    ENABLE = "enable"
    DISABLE = "disable"


class FollowUpTrigger(enum.StrEnum):
    SUBMITTED = "submitted"  # once the job is accepted by the backend (start a poll)
    SUCCEEDED = "succeeded"  # once the job has succeeded: the poll found the work done


@frozen
class CollectionSpec:
    """A collection a connector needs; seed documents are inserted once, by their ``_id``."""

    name: str
    indexes: tuple[IndexSpec, ...] = ()
    seed: tuple[Mapping[str, Any], ...] = field(default=(), eq=False, hash=False)


@frozen
class JobDefinitionSpec:
    """The container a connector's jobs run in; a new revision only when this changes."""

    image: str
    command: tuple[str, ...]
    vcpus: float = 1.0
    memory_mib: int = 2048
    timeout_seconds: int = 3600
    retry_attempts: int = 1
    environment: tuple[tuple[str, str], ...] = ()


@frozen
class ComputeSpec:
    type: ComputeType = ComputeType.FARGATE
    max_vcpus: int = 16
    priority: int = 1
    job_definition: JobDefinitionSpec = field(
        factory=lambda: JobDefinitionSpec(image="python:3.11-slim", command=("python",))
    )


@frozen
class FollowUp:
    """A schedule a job type switches on or off: ``submit-feed`` switches the feed-status poll
    on when it is submitted, and a poll that succeeds (the work is done) switches it off."""

    schedule: str
    action: FollowUpAction = FollowUpAction.ENABLE
    when: FollowUpTrigger = FollowUpTrigger.SUBMITTED


@frozen
class JobTypeSpec:
    """What one kind of job runs; ``payload_schema`` (JSON Schema, plain data) is what its
    payload must match, checked at submission so a bad payload never reaches a backend."""

    name: str
    command: tuple[str, ...]
    timeout_seconds: int = 3600
    retry_attempts: int = 1
    follow_up: FollowUp | None = None
    stuck_policy: StuckPolicy = StuckPolicy.WAIT
    stuck_after_seconds: int = 1800
    payload_schema: Mapping[str, Any] | None = field(default=None, eq=False, hash=False)


@frozen
class ScheduleSpec:
    """A recurring submission of a job type; expressions follow EventBridge Scheduler."""

    name: str
    expression: str
    job_type: str
    timezone: str = "UTC"
    payload: Mapping[str, Any] = field(factory=dict, eq=False, hash=False)
    enabled: bool = True

    @property
    def payload_json(self) -> str:
        return json.dumps(self.payload, sort_keys=True, separators=(",", ":"))


@frozen
class StorageSpec:
    """Bucket layout; public read is off unless a prefix opts in explicitly."""

    public_read_prefixes: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()


@frozen
class ConnectorTemplate:
    name: ConnectorName
    version: int
    description: str = ""
    placement: Placement = Placement.DEDICATED
    pool: str = "default"
    collections: tuple[CollectionSpec, ...] = ()
    compute: ComputeSpec = field(factory=ComputeSpec)
    job_types: tuple[JobTypeSpec, ...] = ()
    schedules: tuple[ScheduleSpec, ...] = ()
    storage: StorageSpec = field(factory=StorageSpec)
    datasets: tuple[Mapping[str, Any], ...] = field(default=(), eq=False, hash=False)
    pipelines: tuple[PipelineTemplate, ...] = ()

    def job_type(self, name: str) -> JobTypeSpec:
        for spec in self.job_types:
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.job_types) or "none"
        raise NotFound(f"connector {self.name} has no job type {name!r} (known: {known})")

    def schedule(self, name: str) -> ScheduleSpec:
        for spec in self.schedules:
            if spec.name == name:
                return spec
        raise NotFound(f"connector {self.name} has no schedule {name!r}")
