"""Recurring job submissions: an in-process scheduler locally, EventBridge Scheduler on AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from overlord.domain.infrastructure import ScheduleDefinition


class Scheduler(Protocol):
    def describe_schedule(self, group: str, name: str) -> ScheduleDefinition | None: ...

    def ensure_schedule(self, schedule: ScheduleDefinition) -> None:
        """Create the schedule (and its group), or update it to match exactly.

        `InvalidInput` (and nothing stored) for an expression or timezone that EventBridge
        Scheduler would refuse; a backend may refuse more (see its adapter)."""

    def set_enabled(self, group: str, name: str, enabled: bool) -> None:
        """`NotFound` if the schedule does not exist."""

    def delete_schedule(self, group: str, name: str) -> None:
        """Idempotent."""

    def list_schedules(self, group: str) -> list[ScheduleDefinition]:
        """Sorted by name; empty when the group does not exist."""

    def delete_group(self, group: str) -> None:
        """Delete the group and every schedule in it; idempotent."""
