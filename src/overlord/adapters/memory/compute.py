"""Compute resources held in a dict, with AWS Batch's ordering rules, for fast service tests."""

from __future__ import annotations

import threading

from attrs import evolve

from overlord.adapters.compute_rules import check_scheduling_kept, check_type_kept
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


class MemoryComputeProvisioner:
    """Environments become VALID at once; revisions are kept, deregistered ones inactive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._environments: dict[str, ComputeEnvironmentState] = {}
        self._queues: dict[str, JobQueueState] = {}
        self._revisions: dict[str, list[tuple[JobDefinitionState, bool]]] = {}

    def describe_compute_environment(self, name: str) -> ComputeEnvironmentState | None:
        with self._lock:
            return self._environments.get(name)

    def ensure_compute_environment(self, spec: ComputeEnvironmentSpec) -> None:
        with self._lock:
            current = self._environments.get(spec.name)
            if current is None:
                current = ComputeEnvironmentState(spec=spec, state=ResourceState.VALID)
            check_type_kept(spec.name, current.spec.type, spec.type)
            self._environments[spec.name] = evolve(current, spec=spec)

    def delete_compute_environment(self, name: str) -> None:
        with self._lock:
            users = sorted(
                q.spec.name for q in self._queues.values() if q.spec.compute_environment == name
            )
            if users:
                raise Conflict(
                    f"compute environment {name!r} is still used by job queue {users[0]!r}"
                )
            self._environments.pop(name, None)

    def count_compute_environments(self) -> int:
        with self._lock:
            return len(self._environments)

    def describe_job_queue(self, name: str) -> JobQueueState | None:
        with self._lock:
            return self._queues.get(name)

    def ensure_job_queue(self, spec: JobQueueSpec) -> None:
        with self._lock:
            environment = self._environments.get(spec.compute_environment)
            if environment is None or not _usable(environment):
                raise Conflict(
                    f"job queue {spec.name!r} needs compute environment "
                    f"{spec.compute_environment!r}, which is missing or not usable"
                )
            current = self._queues.get(spec.name)
            if current is None:
                current = JobQueueState(spec=spec, state=ResourceState.VALID)
            check_scheduling_kept(spec.name, current.spec.fair_share, spec.fair_share)
            self._queues[spec.name] = evolve(current, spec=spec)

    def delete_job_queue(self, name: str) -> None:
        with self._lock:
            self._queues.pop(name, None)

    def count_job_queues(self) -> int:
        with self._lock:
            return len(self._queues)

    def describe_job_definition(self, name: str) -> JobDefinitionState | None:
        with self._lock:
            active = [state for state, is_active in self._revisions.get(name, []) if is_active]
            return active[-1] if active else None

    def register_job_definition(self, name: str, spec: JobDefinitionSpec) -> JobDefinitionState:
        with self._lock:
            revisions = self._revisions.setdefault(name, [])
            state = JobDefinitionState(name=name, revision=len(revisions) + 1, spec=spec)
            revisions.append((state, True))
            return state

    def deregister_job_definition(self, name: str) -> None:
        with self._lock:
            revisions = self._revisions.get(name, [])
            revisions[:] = [(state, False) for state, _ in revisions]


def _usable(environment: ComputeEnvironmentState) -> bool:
    return environment.state is ResourceState.VALID and environment.enabled
