"""Desired state of each provisioned resource, as ports describe and ensure it.

Provisioning compares what a port describes with what a template asks for, here, in one place:
that keeps ``--plan`` exact (it is the same comparison without the writes) and makes every
adapter's job small: ensure exactly this, describe exactly what is there.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any

from attrs import frozen

from overlord.domain.connectors import ComputeType, JobDefinitionSpec


@frozen
class BucketSpec:
    """A bucket is private; only the listed prefixes (ending in '/') are publicly readable."""

    name: str
    public_read_prefixes: tuple[str, ...] = ()


class ResourceState(enum.StrEnum):
    CREATING = "CREATING"
    VALID = "VALID"
    UPDATING = "UPDATING"
    DELETING = "DELETING"
    INVALID = "INVALID"


@frozen
class ComputeEnvironmentSpec:
    name: str
    type: ComputeType
    max_vcpus: int
    fair_share: bool = False


@frozen
class ComputeEnvironmentState:
    spec: ComputeEnvironmentSpec
    state: ResourceState
    enabled: bool = True


@frozen
class JobQueueSpec:
    name: str
    compute_environment: str
    priority: int
    fair_share: bool = False


@frozen
class JobQueueState:
    spec: JobQueueSpec
    state: ResourceState
    enabled: bool = True


@frozen
class JobDefinitionState:
    """The latest active revision of a job definition and the spec it was registered with."""

    name: str
    revision: int
    spec: JobDefinitionSpec


@frozen
class ScheduleTarget:
    """What a schedule submits: a connector's job type with a payload (canonical JSON text,
    so that equality of two targets includes their payloads)."""

    tenant: str
    connector: str
    job_type: str
    payload_json: str = "{}"

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.payload_json)
        return value


@frozen
class ScheduleDefinition:
    group: str
    name: str
    expression: str
    timezone: str
    target: ScheduleTarget
    enabled: bool = True


@frozen
class DueSchedule:
    """A schedule a local runner must fire, with the moment it fell due: runners that agree on
    that moment derive the same idempotency key, so a firing repeated never submits twice."""

    schedule: ScheduleDefinition
    due_at: datetime


def scheduled_idempotency_key(group: str, name: str, due_at: datetime) -> str:
    """The submission key of one firing, the same for the local runner and EventBridge."""
    return f"schedule {group}/{name} due {due_at.astimezone(UTC).isoformat()}"


@frozen
class ObjectInfo:
    key: str
    size: int
