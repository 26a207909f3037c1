"""The platform's own deployment: one stack (CloudFormation on AWS) holding every function,
rule, role and bucket the platform needs before its first tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from overlord.domain.deployments import (
        DeployedStack,
        DeployReport,
        DeployRequest,
        DestroyReport,
        StackChange,
        StackEvent,
    )


class DeployProgress(Protocol):
    """Told what a deploy or destroy is doing while it waits."""

    def step(self, message: str) -> None: ...

    def change_set(self, stack: str, changes: tuple[StackChange, ...]) -> None:
        """The changes about to be made, before they are."""

    def event(self, event: StackEvent) -> None: ...


class PlatformStacks(Protocol):
    def describe(self, stack: str) -> DeployedStack | None:
        """The stack as it stands; None when there is none by that name."""

    def deploy(self, request: DeployRequest, progress: DeployProgress) -> DeployReport:
        """Upload the package, create or update the stack through a change set and wait for
        it. A deploy that changes nothing (same package, template and parameters) makes no
        change. `Conflict` when the stack belongs to another namespace or cannot be updated;
        `BackendError` when the change failed (the stack rolled back)."""

    def buckets(self, stack: str) -> dict[str, int]:
        """The stack's buckets and how many objects each holds."""

    def destroy(self, stack: str, progress: DeployProgress, *, purge: bool) -> DestroyReport:
        """Delete the stack and wait; with ``purge`` empty its buckets first (CloudFormation
        cannot delete a bucket holding objects) and delete what the platform made outside any
        stack that is not a tenant's (its batch pipelines). `Conflict` without ``purge`` when
        a bucket holds objects: nothing is deleted. `NotFound` when there is no such stack."""
