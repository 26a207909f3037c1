"""Contract every Scheduler passes: schedules round-trip exactly and groups stay separate.

Adapters may share one account (an AWS-API server for the whole session), so every test works in
its own uniquely named group and deletes it afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from attrs import evolve

from overlord.adapters.aws.scheduler import EventBridgeScheduler
from overlord.adapters.local.scheduler import LocalScheduler
from overlord.adapters.memory.scheduler import MemoryScheduler
from overlord.domain.errors import InvalidInput, NotFound
from overlord.domain.infrastructure import ScheduleDefinition, ScheduleTarget
from overlord.ports.scheduler import Scheduler

FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Scheduler]] = {
    "memory": lambda request: MemoryScheduler(),
    "local": lambda request: LocalScheduler(request.getfixturevalue("tmp_path")),
    "eventbridge": lambda request: EventBridgeScheduler(
        request.getfixturevalue("scheduler_target"), poll_seconds=0.05, timeout_seconds=30
    ),
}


@pytest.fixture(params=sorted(FACTORIES))
def scheduler(request: pytest.FixtureRequest) -> Scheduler:
    return FACTORIES[request.param](request)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def group(scheduler: Scheduler) -> Iterator[str]:
    name = unique("group")
    yield name
    scheduler.delete_group(name)


def payload(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def schedule(group: str, name: str | None = None, **changes: Any) -> ScheduleDefinition:
    definition = ScheduleDefinition(
        group=group,
        name=name or unique("schedule"),
        expression="rate(5 minutes)",
        timezone="UTC",
        target=ScheduleTarget(
            tenant="acme",
            connector="orders",
            job_type="sync",
            payload_json=payload({"full": True, "since": "2024-01-01", "ids": [1, 2]}),
        ),
    )
    return evolve(definition, **changes)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"expression": "cron(0/15 9-17 ? * MON-FRI *)", "timezone": "Europe/Paris"},
        {"enabled": False},
    ],
    ids=["rate", "cron-in-a-timezone", "disabled"],
)
def test_an_ensured_schedule_is_described_exactly_as_given(
    scheduler: Scheduler, group: str, changes: dict[str, Any]
) -> None:
    definition = schedule(group, **changes)

    scheduler.ensure_schedule(definition)

    described = scheduler.describe_schedule(group, definition.name)
    assert described is not None
    assert described == definition
    assert described.target.payload == {"full": True, "since": "2024-01-01", "ids": [1, 2]}


def test_ensuring_again_updates_the_schedule_to_match(scheduler: Scheduler, group: str) -> None:
    first = schedule(group)
    scheduler.ensure_schedule(first)
    changed = evolve(
        first,
        expression="cron(30 6 * * ? *)",
        timezone="America/New_York",
        target=evolve(first.target, job_type="check-feed", payload_json=payload({"feed": 7})),
        enabled=False,
    )

    scheduler.ensure_schedule(changed)

    assert scheduler.describe_schedule(group, first.name) == changed
    assert scheduler.list_schedules(group) == [changed]


def test_set_enabled_switches_a_schedule_off_and_on(scheduler: Scheduler, group: str) -> None:
    definition = schedule(group)
    scheduler.ensure_schedule(definition)

    scheduler.set_enabled(group, definition.name, False)
    assert scheduler.describe_schedule(group, definition.name) == evolve(definition, enabled=False)

    scheduler.set_enabled(group, definition.name, True)
    assert scheduler.describe_schedule(group, definition.name) == definition


def test_set_enabled_on_a_missing_schedule_is_not_found(scheduler: Scheduler, group: str) -> None:
    scheduler.ensure_schedule(schedule(group))

    with pytest.raises(NotFound):
        scheduler.set_enabled(group, unique("missing"), True)
    with pytest.raises(NotFound):
        scheduler.set_enabled(unique("missing-group"), unique("missing"), False)


def test_a_missing_schedule_is_described_as_none(scheduler: Scheduler, group: str) -> None:
    scheduler.ensure_schedule(schedule(group))

    assert scheduler.describe_schedule(group, unique("missing")) is None
    assert scheduler.describe_schedule(unique("missing-group"), "anything") is None


def test_list_is_sorted_by_name_and_keeps_to_its_group(scheduler: Scheduler, group: str) -> None:
    other = unique("group")
    try:
        for name in ("charlie", "alpha", "bravo"):
            scheduler.ensure_schedule(schedule(group, name))
        scheduler.ensure_schedule(schedule(other, "aardvark"))

        listed = scheduler.list_schedules(group)

        assert [s.name for s in listed] == ["alpha", "bravo", "charlie"]
        assert {s.group for s in listed} == {group}
        assert [s.name for s in scheduler.list_schedules(other)] == ["aardvark"]
    finally:
        scheduler.delete_group(other)


def test_an_unknown_group_lists_nothing(scheduler: Scheduler) -> None:
    assert scheduler.list_schedules(unique("missing-group")) == []


def test_deleting_a_schedule_is_idempotent_and_spares_its_neighbours(
    scheduler: Scheduler, group: str
) -> None:
    kept, deleted = schedule(group, "kept"), schedule(group, "deleted")
    scheduler.ensure_schedule(kept)
    scheduler.ensure_schedule(deleted)

    scheduler.delete_schedule(group, deleted.name)
    scheduler.delete_schedule(group, deleted.name)
    scheduler.delete_schedule(unique("missing-group"), deleted.name)

    assert scheduler.describe_schedule(group, deleted.name) is None
    assert scheduler.list_schedules(group) == [kept]


def test_deleting_a_group_removes_every_schedule_in_it(scheduler: Scheduler, group: str) -> None:
    other = unique("group")
    try:
        for name in ("one", "two", "three"):
            scheduler.ensure_schedule(schedule(group, name))
        survivor = schedule(other, "one")
        scheduler.ensure_schedule(survivor)

        scheduler.delete_group(group)
        scheduler.delete_group(group)

        assert scheduler.list_schedules(group) == []
        assert scheduler.describe_schedule(group, "one") is None
        assert scheduler.describe_schedule(other, "one") == survivor
    finally:
        scheduler.delete_group(other)


@pytest.mark.parametrize(
    "changes",
    [
        {"expression": "every 5 minutes"},
        {"expression": "cron(0 9 * * * *)"},
        {"timezone": "Mars/Olympus_Mons"},
    ],
    ids=["not-an-expression", "cron-without-question-mark", "unknown-timezone"],
)
def test_an_invalid_schedule_is_refused_and_not_stored(
    scheduler: Scheduler, group: str, changes: dict[str, Any]
) -> None:
    definition = schedule(group, **changes)

    with pytest.raises(InvalidInput):
        scheduler.ensure_schedule(definition)

    assert scheduler.describe_schedule(group, definition.name) is None
