"""Compute environments, job queues and job definitions: recorded locally, AWS Batch on AWS."""

from __future__ import annotations

from typing import Protocol

from overlord.domain.connectors import JobDefinitionSpec
from overlord.domain.infrastructure import (
    ComputeEnvironmentSpec,
    ComputeEnvironmentState,
    JobDefinitionState,
    JobQueueSpec,
    JobQueueState,
)


class ComputeProvisioner(Protocol):
    """Every ``delete_*`` is idempotent and performs the backend's required order itself
    (Batch: disable, wait, delete). Every ``describe_*`` returns exactly the spec last ensured
    (or registered), or None when the resource does not exist."""

    def describe_compute_environment(self, name: str) -> ComputeEnvironmentState | None: ...

    def ensure_compute_environment(self, spec: ComputeEnvironmentSpec) -> None:
        """Create it, or update it in place to ``spec``; returns once it is usable (VALID and
        enabled). `Conflict` (and nothing changed) for a new type: Batch cannot change it."""

    def delete_compute_environment(self, name: str) -> None:
        """`Conflict` while a job queue still uses it (Batch's rule): delete the queue first."""

    def count_compute_environments(self) -> int:
        """How many exist in the account/Region: Batch allows 50."""

    def describe_job_queue(self, name: str) -> JobQueueState | None: ...

    def ensure_job_queue(self, spec: JobQueueSpec) -> None:
        """Create or update the queue in place; `Conflict` unless its compute environment
        exists and is usable (VALID and enabled), and for a switch between FIFO and fair-share
        scheduling, which Batch cannot make in place."""

    def delete_job_queue(self, name: str) -> None: ...

    def count_job_queues(self) -> int: ...

    def describe_job_definition(self, name: str) -> JobDefinitionState | None:
        """The latest active revision, or None."""

    def register_job_definition(self, name: str, spec: JobDefinitionSpec) -> JobDefinitionState:
        """Register revision n+1 unconditionally, n counting deregistered revisions too (as
        Batch does); provisioning decides when a new revision is needed."""

    def deregister_job_definition(self, name: str) -> None:
        """Deregister every active revision."""
