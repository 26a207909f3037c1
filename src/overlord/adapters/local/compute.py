"""Compute resources recorded in a JSON file under the local home, with AWS Batch's rules.

Locally, jobs run as subprocesses and need no real environment or queue; recording them anyway
means provisioning, ``--plan`` and the 50-per-Region quota checks behave the same as on AWS, and
survive between CLI invocations and concurrent processes (see `JsonStateFile`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from overlord.adapters.compute_rules import check_scheduling_kept, check_type_kept
from overlord.adapters.local.state_file import JsonStateFile
from overlord.domain.connectors import ComputeType, JobDefinitionSpec
from overlord.domain.errors import Conflict
from overlord.domain.infrastructure import (
    ComputeEnvironmentSpec,
    ComputeEnvironmentState,
    JobDefinitionState,
    JobQueueSpec,
    JobQueueState,
    ResourceState,
)

_ENVIRONMENTS = "compute_environments"
_QUEUES = "job_queues"
_DEFINITIONS = "job_definitions"


class LocalComputeProvisioner:
    """State lives in ``root / "compute.json"``; environments are VALID as soon as ensured."""

    def __init__(self, root: Path) -> None:
        self._file = JsonStateFile(root / "compute.json")

    def describe_compute_environment(self, name: str) -> ComputeEnvironmentState | None:
        record = self._file.read().get(_ENVIRONMENTS, {}).get(name)
        return None if record is None else _environment(name, record)

    def ensure_compute_environment(self, spec: ComputeEnvironmentSpec) -> None:
        with self._file.update() as data:
            environments = data.setdefault(_ENVIRONMENTS, {})
            record = environments.get(spec.name, {"state": ResourceState.VALID, "enabled": True})
            check_type_kept(spec.name, ComputeType(record.get("type", spec.type)), spec.type)
            record.update(type=spec.type, max_vcpus=spec.max_vcpus, fair_share=spec.fair_share)
            environments[spec.name] = record

    def delete_compute_environment(self, name: str) -> None:
        with self._file.update() as data:
            users = sorted(
                queue
                for queue, record in data.get(_QUEUES, {}).items()
                if record["compute_environment"] == name
            )
            if users:
                raise Conflict(
                    f"compute environment {name!r} is still used by job queue {users[0]!r}"
                )
            data.get(_ENVIRONMENTS, {}).pop(name, None)

    def count_compute_environments(self) -> int:
        return len(self._file.read().get(_ENVIRONMENTS, {}))

    def describe_job_queue(self, name: str) -> JobQueueState | None:
        record = self._file.read().get(_QUEUES, {}).get(name)
        return None if record is None else _queue(name, record)

    def ensure_job_queue(self, spec: JobQueueSpec) -> None:
        with self._file.update() as data:
            environment = data.get(_ENVIRONMENTS, {}).get(spec.compute_environment)
            if environment is None or not _usable(
                _environment(spec.compute_environment, environment)
            ):
                raise Conflict(
                    f"job queue {spec.name!r} needs compute environment "
                    f"{spec.compute_environment!r}, which is missing or not usable"
                )
            queues = data.setdefault(_QUEUES, {})
            record = queues.get(spec.name, {"state": ResourceState.VALID, "enabled": True})
            check_scheduling_kept(
                spec.name, record.get("fair_share", spec.fair_share), spec.fair_share
            )
            record.update(
                compute_environment=spec.compute_environment,
                priority=spec.priority,
                fair_share=spec.fair_share,
            )
            queues[spec.name] = record

    def delete_job_queue(self, name: str) -> None:
        with self._file.update() as data:
            data.get(_QUEUES, {}).pop(name, None)

    def count_job_queues(self) -> int:
        return len(self._file.read().get(_QUEUES, {}))

    def describe_job_definition(self, name: str) -> JobDefinitionState | None:
        revisions = self._file.read().get(_DEFINITIONS, {}).get(name, [])
        active = [record for record in revisions if record["active"]]
        return _definition(name, active[-1]) if active else None

    def register_job_definition(self, name: str, spec: JobDefinitionSpec) -> JobDefinitionState:
        with self._file.update() as data:
            revisions = data.setdefault(_DEFINITIONS, {}).setdefault(name, [])
            record = {"revision": len(revisions) + 1, "active": True, "spec": _spec_record(spec)}
            revisions.append(record)
        return _definition(name, record)

    def deregister_job_definition(self, name: str) -> None:
        with self._file.update() as data:
            for record in data.get(_DEFINITIONS, {}).get(name, []):
                record["active"] = False


def _usable(environment: ComputeEnvironmentState) -> bool:
    return environment.state is ResourceState.VALID and environment.enabled


def _environment(name: str, record: dict[str, Any]) -> ComputeEnvironmentState:
    spec = ComputeEnvironmentSpec(
        name=name,
        type=ComputeType(record["type"]),
        max_vcpus=record["max_vcpus"],
        fair_share=record["fair_share"],
    )
    return ComputeEnvironmentState(
        spec=spec, state=ResourceState(record["state"]), enabled=record["enabled"]
    )


def _queue(name: str, record: dict[str, Any]) -> JobQueueState:
    spec = JobQueueSpec(
        name=name,
        compute_environment=record["compute_environment"],
        priority=record["priority"],
        fair_share=record["fair_share"],
    )
    return JobQueueState(spec=spec, state=ResourceState(record["state"]), enabled=record["enabled"])


def _spec_record(spec: JobDefinitionSpec) -> dict[str, Any]:
    return {
        "image": spec.image,
        "command": list(spec.command),
        "vcpus": spec.vcpus,
        "memory_mib": spec.memory_mib,
        "timeout_seconds": spec.timeout_seconds,
        "retry_attempts": spec.retry_attempts,
        "environment": [list(pair) for pair in spec.environment],
    }


def _definition(name: str, record: dict[str, Any]) -> JobDefinitionState:
    spec = record["spec"]
    return JobDefinitionState(
        name=name,
        revision=record["revision"],
        spec=JobDefinitionSpec(
            image=spec["image"],
            command=tuple(spec["command"]),
            vcpus=float(spec["vcpus"]),
            memory_mib=spec["memory_mib"],
            timeout_seconds=spec["timeout_seconds"],
            retry_attempts=spec["retry_attempts"],
            environment=tuple((key, value) for key, value in spec["environment"]),
        ),
    )
