"""Schedules stored under the local home, and the arithmetic that says which are due.

On AWS, EventBridge Scheduler both stores schedules and fires them. Locally the store is a JSON
file (shared safely between the CLI, ``overlord serve`` and any tick loop, see `JsonStateFile`),
and a tick loop asks `LocalScheduler.due` what to submit, then records each firing with
`LocalScheduler.mark_fired`, so a restarted loop neither repeats nor forgets a firing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from overlord.adapters.local.state_file import JsonStateFile
from overlord.adapters.system import SystemClock
from overlord.domain.errors import InvalidInput, NotFound
from overlord.domain.expressions import rate_interval
from overlord.domain.infrastructure import DueSchedule, ScheduleDefinition, ScheduleTarget
from overlord.domain.schedule_times import check_supported, next_fire_time
from overlord.ports.clock import Clock

_GROUPS = "groups"


class LocalScheduler:
    """State lives in ``root / "schedules.json"``.

    Firing follows EventBridge Scheduler without a start date: a ``rate(...)`` schedule fires
    when created and then every interval after its last firing; a ``cron(...)`` schedule fires
    at its first matching time after creation, then after its last firing. Missed firings
    (the loop was down, the schedule disabled) are coalesced into one.
    """

    def __init__(self, root: Path, clock: Clock | None = None) -> None:
        self._file = JsonStateFile(root / "schedules.json")
        self._clock: Clock = clock or SystemClock()

    def describe_schedule(self, group: str, name: str) -> ScheduleDefinition | None:
        record = _groups(self._file.read()).get(group, {}).get(name)
        return None if record is None else _schedule(group, name, record)

    def ensure_schedule(self, schedule: ScheduleDefinition) -> None:
        check_supported(schedule.expression, schedule.timezone)
        created_at = _text(self._clock.now())
        with self._file.update() as data:
            schedules = data.setdefault(_GROUPS, {}).setdefault(schedule.group, {})
            record = schedules.get(schedule.name, {"created_at": created_at, "last_fired_at": None})
            target = schedule.target
            record.update(
                expression=schedule.expression,
                timezone=schedule.timezone,
                enabled=schedule.enabled,
                target={
                    "tenant": target.tenant,
                    "connector": target.connector,
                    "job_type": target.job_type,
                    "payload_json": target.payload_json,
                },
            )
            schedules[schedule.name] = record

    def set_enabled(self, group: str, name: str, enabled: bool) -> None:
        with self._file.update() as data:
            _existing(data, group, name)["enabled"] = enabled

    def delete_schedule(self, group: str, name: str) -> None:
        with self._file.update() as data:
            _groups(data).get(group, {}).pop(name, None)

    def list_schedules(self, group: str) -> list[ScheduleDefinition]:
        schedules = _groups(self._file.read()).get(group, {})
        return [_schedule(group, name, schedules[name]) for name in sorted(schedules)]

    def delete_group(self, group: str) -> None:
        with self._file.update() as data:
            _groups(data).pop(group, None)

    def due(self, now: datetime) -> list[DueSchedule]:
        """Enabled schedules whose next firing is at or before ``now``, by group then name."""
        _require_aware(now)
        found = []
        for group, schedules in sorted(_groups(self._file.read()).items()):
            for name, record in sorted(schedules.items()):
                if not record["enabled"]:
                    continue
                fire_at = _next_fire(record)
                if fire_at is not None and fire_at <= now:
                    found.append(DueSchedule(_schedule(group, name, record), fire_at))
        return found

    def mark_fired(self, group: str, name: str, at: datetime) -> None:
        """Record that the schedule fired at ``at``; its next firing is computed from it."""
        _require_aware(at)
        with self._file.update() as data:
            _existing(data, group, name)["last_fired_at"] = _text(at)


def _next_fire(record: dict[str, Any]) -> datetime | None:
    expression, timezone = record["expression"], record["timezone"]
    last_fired = record["last_fired_at"]
    if last_fired is not None:
        return next_fire_time(expression, timezone, datetime.fromisoformat(last_fired))
    created_at = datetime.fromisoformat(record["created_at"])
    if rate_interval(expression) is not None:
        return created_at
    return next_fire_time(expression, timezone, created_at)


def _groups(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = data.get(_GROUPS, {})
    return groups


def _existing(data: dict[str, Any], group: str, name: str) -> dict[str, Any]:
    record: dict[str, Any] | None = _groups(data).get(group, {}).get(name)
    if record is None:
        raise NotFound(f"schedule {name!r} does not exist in group {group!r}")
    return record


def _require_aware(moment: datetime) -> None:
    if moment.utcoffset() is None:
        raise InvalidInput(f"{moment.isoformat()} has no timezone; schedule times need one")


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _schedule(group: str, name: str, record: dict[str, Any]) -> ScheduleDefinition:
    return ScheduleDefinition(
        group=group,
        name=name,
        expression=record["expression"],
        timezone=record["timezone"],
        target=ScheduleTarget(**record["target"]),
        enabled=record["enabled"],
    )
