"""A JobDefinitionSpec to Batch's RegisterJobDefinition request, and back from its description.

Provisioning registers a revision only when the spec changed, which it decides by comparing the
template's spec with the one rebuilt from AWS: so the two functions here must round-trip exactly
(``spec_from_description(describe(register(spec))) == spec``), including vCPU spelling and the
order of environment variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from attrs import fields

from overlord.domain.connectors import JobDefinitionSpec
from overlord.domain.errors import BackendError, InvalidInput

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import (
        JobDefinitionTypeDef,
        RegisterJobDefinitionRequestTypeDef,
    )

    from overlord.adapters.aws.batch_settings import BatchSettings

MANAGED_TAGS = {"managed-by": "overlord"}
_DEFAULT_TIMEOUT = int(fields(JobDefinitionSpec).timeout_seconds.default or 0)


def vcpus_text(vcpus: float) -> str:
    """Batch wants a string: ``0.25``, ``0.5``, ``1``, ``2``... (never ``1.0``)."""
    return f"{vcpus:g}"


def registration(
    name: str, spec: JobDefinitionSpec, settings: BatchSettings
) -> RegisterJobDefinitionRequestTypeDef:
    """The RegisterJobDefinition request for ``spec`` on the settings' platform."""
    empty = [key for key, value in spec.environment if value == ""]
    if empty:
        # Batch drops empty variables, so the spec could never be read back unchanged.
        raise InvalidInput(f"job definition {name!r}: environment variable {empty[0]!r} is empty")
    container: dict[str, Any] = {
        "image": spec.image,
        "command": list(spec.command),
        "resourceRequirements": [
            {"type": "VCPU", "value": vcpus_text(spec.vcpus)},
            {"type": "MEMORY", "value": str(spec.memory_mib)},
        ],
        "environment": [{"name": key, "value": value} for key, value in spec.environment],
    }
    if settings.execution_role_arn:
        container["executionRoleArn"] = settings.execution_role_arn
    if settings.job_role_arn:
        container["jobRoleArn"] = settings.job_role_arn
    request: RegisterJobDefinitionRequestTypeDef = {
        "jobDefinitionName": name,
        "type": "container",
        "platformCapabilities": [settings.platform],  # type: ignore[list-item]
        "containerProperties": container,  # type: ignore[typeddict-item]
        "timeout": {"attemptDurationSeconds": spec.timeout_seconds},
        "retryStrategy": {"attempts": spec.retry_attempts},
        "propagateTags": True,
        "tags": dict(MANAGED_TAGS),
    }
    return request


def spec_from_description(description: JobDefinitionTypeDef) -> JobDefinitionSpec:
    """Rebuild the spec a revision was registered with, from DescribeJobDefinitions."""
    name = description.get("jobDefinitionName", "?")
    container: Mapping[str, Any] = description.get("containerProperties") or {}
    if "image" not in container:
        raise BackendError(f"job definition {name!r} is not a container job definition")
    requirements = {r["type"]: r["value"] for r in container.get("resourceRequirements", [])}
    vcpus = requirements.get("VCPU", container.get("vcpus"))
    memory = requirements.get("MEMORY", container.get("memory"))
    if vcpus is None or memory is None:
        raise BackendError(f"job definition {name!r} has no vCPU or memory requirement")
    timeout = description.get("timeout", {}).get("attemptDurationSeconds")
    attempts = description.get("retryStrategy", {}).get("attempts", 1)
    return JobDefinitionSpec(
        image=container["image"],
        command=tuple(container.get("command", ())),
        vcpus=float(vcpus),
        memory_mib=int(memory),
        timeout_seconds=int(timeout) if timeout is not None else _DEFAULT_TIMEOUT,
        retry_attempts=int(attempts),
        environment=tuple((e["name"], e["value"]) for e in container.get("environment", ())),
    )
