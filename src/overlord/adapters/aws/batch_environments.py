"""A ComputeEnvironmentSpec to Batch's CreateComputeEnvironment request, and back.

Batch does not know two things the spec holds: the compute type the template asked for (the
settings may override it) and whether the environment serves a pooled, fair-share queue. Both
are written as tags at creation and read back here, so that describing an environment gives
exactly the spec it was ensured with, and provisioning sees "unchanged".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from overlord.adapters.aws.batch_job_definitions import MANAGED_TAGS
from overlord.adapters.aws.batch_settings import FARGATE_TYPES, BatchSettings
from overlord.domain.connectors import ComputeType
from overlord.domain.errors import BackendError, ConfigurationError, Conflict
from overlord.domain.infrastructure import (
    ComputeEnvironmentSpec,
    ComputeEnvironmentState,
    ResourceState,
)

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import (
        ComputeEnvironmentDetailTypeDef,
        ComputeResourceTypeDef,
    )

TYPE_TAG = "overlord:compute-type"
FAIR_SHARE_TAG = "overlord:fair-share"


def environment_tags(spec: ComputeEnvironmentSpec) -> dict[str, str]:
    return {TYPE_TAG: spec.type.value, FAIR_SHARE_TAG: str(spec.fair_share).lower()}


def environment_request(spec: ComputeEnvironmentSpec, settings: BatchSettings) -> dict[str, Any]:
    """CreateComputeEnvironment arguments: MANAGED, in the settings' subnets and groups."""
    kind = settings.effective_type(spec.type)
    resources: ComputeResourceTypeDef = {
        "type": kind.value,
        "maxvCpus": spec.max_vcpus,
        "subnets": list(settings.subnets),
        "securityGroupIds": list(settings.security_groups),
    }
    if kind not in FARGATE_TYPES:
        if not settings.instance_role_arn:
            raise ConfigurationError(
                f"compute environment {spec.name!r} runs on {kind.value} instances: set "
                "OVERLORD_BATCH_INSTANCE_ROLE_ARN to an EC2 instance profile ARN",
                setting="OVERLORD_BATCH_INSTANCE_ROLE_ARN",
            )
        resources["minvCpus"] = 0
        resources["desiredvCpus"] = 0
        resources["instanceTypes"] = ["optimal"]
        resources["instanceRole"] = settings.instance_role_arn
        # Capacity-optimized Spot needs no Spot fleet role; best-fit-progressive suits on-demand.
        resources["allocationStrategy"] = (
            "SPOT_CAPACITY_OPTIMIZED" if kind is ComputeType.SPOT else "BEST_FIT_PROGRESSIVE"
        )
    request: dict[str, Any] = {
        "computeEnvironmentName": spec.name,
        "type": "MANAGED",
        "state": "ENABLED",
        "computeResources": resources,
        "tags": {**MANAGED_TAGS, **environment_tags(spec)},
    }
    if settings.service_role_arn:
        request["serviceRole"] = settings.service_role_arn
    return request


def environment_changes(
    spec: ComputeEnvironmentSpec, current: ComputeEnvironmentDetailTypeDef, settings: BatchSettings
) -> tuple[dict[str, Any], dict[str, str]]:
    """What UpdateComputeEnvironment and TagResource must change (empty when nothing).

    Batch resizes and re-enables an environment in place, but cannot change its type: that is
    a ``Conflict`` the operator resolves by deleting the queue and environment.
    """
    resources: Mapping[str, Any] = current.get("computeResources") or {}
    actual, wanted = resources.get("type"), settings.effective_type(spec.type)
    if actual != wanted.value:
        raise Conflict(
            f"compute environment {spec.name!r} runs on {actual}, not {wanted.value}: Batch "
            "cannot change an environment's type; delete its queue and it, then apply again"
        )
    update: dict[str, Any] = {}
    if resources.get("maxvCpus") != spec.max_vcpus or current.get("state") != "ENABLED":
        update = {"state": "ENABLED", "computeResources": {"maxvCpus": spec.max_vcpus}}
    tags = environment_tags(spec)
    stale = any(current.get("tags", {}).get(key) != value for key, value in tags.items())
    return update, tags if stale else {}


def environment_state(
    found: ComputeEnvironmentDetailTypeDef, settings: BatchSettings
) -> ComputeEnvironmentState:
    """The spec and state of a described environment.

    The requested type comes from the tag only while the settings still map it to the type the
    environment really has; otherwise the real type is reported, so a changed override shows as
    a difference instead of being hidden.
    """
    name = found["computeEnvironmentName"]
    resources = found.get("computeResources")
    if not resources:
        raise BackendError(f"compute environment {name!r} is not a managed one")
    actual = ComputeType(resources["type"])
    tags: Mapping[str, str] = found.get("tags", {})
    requested = tags.get(TYPE_TAG, "")
    kind = actual
    if requested in {t.value for t in ComputeType} and (
        settings.effective_type(ComputeType(requested)) is actual
    ):
        kind = ComputeType(requested)
    spec = ComputeEnvironmentSpec(
        name=name,
        type=kind,
        max_vcpus=resources["maxvCpus"],
        fair_share=tags.get(FAIR_SHARE_TAG) == "true",
    )
    return ComputeEnvironmentState(
        spec=spec,
        state=ResourceState(found.get("status", "VALID")),
        enabled=found.get("state") == "ENABLED",
    )
