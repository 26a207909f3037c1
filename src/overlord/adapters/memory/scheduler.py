"""Schedules held in a dict, for service tests; nothing fires."""

from __future__ import annotations

import threading

from attrs import evolve

from overlord.domain.errors import NotFound
from overlord.domain.expressions import validate_schedule_expression, validate_timezone
from overlord.domain.infrastructure import ScheduleDefinition


class MemoryScheduler:
    """Refuses invalid expressions and timezones, as EventBridge Scheduler does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[str, dict[str, ScheduleDefinition]] = {}

    def describe_schedule(self, group: str, name: str) -> ScheduleDefinition | None:
        with self._lock:
            return self._groups.get(group, {}).get(name)

    def ensure_schedule(self, schedule: ScheduleDefinition) -> None:
        validate_schedule_expression(schedule.expression)
        validate_timezone(schedule.timezone)
        with self._lock:
            self._groups.setdefault(schedule.group, {})[schedule.name] = schedule

    def set_enabled(self, group: str, name: str, enabled: bool) -> None:
        with self._lock:
            schedules = self._groups.get(group, {})
            if name not in schedules:
                raise NotFound(f"schedule {name!r} does not exist in group {group!r}")
            schedules[name] = evolve(schedules[name], enabled=enabled)

    def delete_schedule(self, group: str, name: str) -> None:
        with self._lock:
            self._groups.get(group, {}).pop(name, None)

    def list_schedules(self, group: str) -> list[ScheduleDefinition]:
        with self._lock:
            schedules = self._groups.get(group, {})
            return [schedules[name] for name in sorted(schedules)]

    def delete_group(self, group: str) -> None:
        with self._lock:
            self._groups.pop(group, None)
