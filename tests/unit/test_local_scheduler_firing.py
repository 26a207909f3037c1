"""When the local scheduler says a schedule is due, and how firings are remembered.

The arithmetic itself is tested in ``test_schedule_times``; these tests pin how
`LocalScheduler.due` anchors it (creation time, last firing) and what it skips.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from overlord.adapters.local.scheduler import LocalScheduler
from overlord.adapters.memory.clock import FixedClock
from overlord.domain.errors import InvalidInput, InvalidTemplate, NotFound
from overlord.domain.infrastructure import ScheduleDefinition, ScheduleTarget


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def definition(
    name: str, expression: str, group: str = "tenant-a", enabled: bool = True
) -> ScheduleDefinition:
    target = ScheduleTarget(tenant="acme", connector="orders", job_type="sync")
    return ScheduleDefinition(
        group=group,
        name=name,
        expression=expression,
        timezone="UTC",
        target=target,
        enabled=enabled,
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(at(2024, 5, 1, 10, 7))


@pytest.fixture
def local(tmp_path: Path, clock: FixedClock) -> LocalScheduler:
    return LocalScheduler(tmp_path, clock=clock)


def test_a_rate_schedule_is_due_when_created_then_every_interval(local: LocalScheduler) -> None:
    local.ensure_schedule(definition("poll", "rate(10 minutes)"))
    assert [d.schedule.name for d in local.due(at(2024, 5, 1, 10, 7))] == ["poll"]

    local.mark_fired("tenant-a", "poll", at(2024, 5, 1, 10, 7))

    assert local.due(at(2024, 5, 1, 10, 16, 59)) == []
    assert [d.schedule.name for d in local.due(at(2024, 5, 1, 10, 17))] == ["poll"]


def test_a_cron_schedule_is_due_at_its_first_match_after_creation(local: LocalScheduler) -> None:
    local.ensure_schedule(definition("nightly", "cron(0 2 * * ? *)"))

    assert local.due(at(2024, 5, 2, 1, 59)) == []
    assert [d.schedule.name for d in local.due(at(2024, 5, 2, 2, 0))] == ["nightly"]
    local.mark_fired("tenant-a", "nightly", at(2024, 5, 2, 2, 0, 3))
    assert local.due(at(2024, 5, 3, 1, 59)) == []


def test_disabled_schedules_are_never_due_and_missed_fires_coalesce(local: LocalScheduler) -> None:
    local.ensure_schedule(definition("poll", "rate(1 minute)", enabled=False))
    assert local.due(at(2024, 5, 1, 12, 0)) == []

    local.set_enabled("tenant-a", "poll", True)

    assert [d.schedule.name for d in local.due(at(2024, 5, 1, 12, 0))] == ["poll"]
    local.mark_fired("tenant-a", "poll", at(2024, 5, 1, 12, 0))
    assert local.due(at(2024, 5, 1, 12, 0, 30)) == []


def test_due_schedules_come_in_group_then_name_order(local: LocalScheduler) -> None:
    for group, name in [("tenant-b", "alpha"), ("tenant-a", "zulu"), ("tenant-a", "alpha")]:
        local.ensure_schedule(definition(name, "rate(5 minutes)", group=group))

    due = local.due(at(2024, 5, 1, 10, 8))

    assert [(d.schedule.group, d.schedule.name) for d in due] == [
        ("tenant-a", "alpha"),
        ("tenant-a", "zulu"),
        ("tenant-b", "alpha"),
    ]


def test_firing_state_survives_a_new_scheduler_on_the_same_root(
    local: LocalScheduler, tmp_path: Path
) -> None:
    local.ensure_schedule(definition("poll", "rate(1 hour)"))
    local.mark_fired("tenant-a", "poll", at(2024, 5, 1, 10, 7))

    reopened = LocalScheduler(tmp_path)

    assert reopened.due(at(2024, 5, 1, 11, 6)) == []
    assert [d.schedule.name for d in reopened.due(at(2024, 5, 1, 11, 7))] == ["poll"]


def test_marking_a_missing_schedule_fired_is_not_found(local: LocalScheduler) -> None:
    with pytest.raises(NotFound):
        local.mark_fired("tenant-a", "missing", at(2024, 5, 1))


def test_a_month_end_cron_is_due_on_the_last_day_of_the_month(local: LocalScheduler) -> None:
    local.ensure_schedule(definition("month-end", "cron(0 0 L * ? *)"))

    assert local.due(at(2024, 5, 30, 23, 59)) == []
    assert [d.due_at for d in local.due(at(2024, 5, 31))] == [at(2024, 5, 31)]


def test_a_one_time_schedule_is_due_once(local: LocalScheduler) -> None:
    local.ensure_schedule(definition("backfill", "at(2024-05-02T08:00:00)"))
    assert local.due(at(2024, 5, 2, 7, 59)) == []
    assert [d.schedule.name for d in local.due(at(2024, 5, 2, 8))] == ["backfill"]

    local.mark_fired("tenant-a", "backfill", at(2024, 5, 2, 8))

    assert local.due(at(2030, 1, 1)) == []


def test_the_local_scheduler_refuses_what_eventbridge_would(local: LocalScheduler) -> None:
    with pytest.raises(InvalidTemplate, match="minutes value '99'"):
        local.ensure_schedule(definition("broken", "cron(99 99 * * ? *)"))
    assert local.list_schedules("tenant-a") == []


def test_due_needs_an_aware_time(local: LocalScheduler) -> None:
    with pytest.raises(InvalidInput):
        local.due(datetime(2024, 5, 1))
