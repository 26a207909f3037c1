"""EventBridgeScheduler against an EventBridge Scheduler API (moto over HTTP), read with boto3.

The contract suite proves definitions round-trip; these tests look at the schedules themselves:
group, expression, timezone, the target's JSON input, retry policy and dead-letter queue, and
what enabling, disabling and deleting a group do to them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from attrs import evolve
from botocore.exceptions import ClientError

from overlord.adapters.aws.scheduler import EventBridgeScheduler, SchedulerTargetSettings
from overlord.domain.infrastructure import ScheduleDefinition, ScheduleTarget
from tests.integration.aws_network import make_scheduler_target


@pytest.fixture(scope="module")
def target(aws_endpoint: str) -> SchedulerTargetSettings:
    return make_scheduler_target()


@pytest.fixture
def client() -> Any:
    return boto3.client("scheduler")


@pytest.fixture
def group(target: SchedulerTargetSettings) -> Iterator[str]:
    name = f"overlord-{uuid.uuid4().hex[:12]}"
    yield name
    EventBridgeScheduler(target, poll_seconds=0.05).delete_group(name)


def definition(group: str, **changes: Any) -> ScheduleDefinition:
    return evolve(
        ScheduleDefinition(
            group=group,
            name="weather-hourly",
            expression="cron(0 * * * ? *)",
            timezone="Europe/Berlin",
            target=ScheduleTarget(
                tenant="acme",
                connector="weather",
                job_type="fetch",
                payload_json='{"stations":["10382","10384"]}',
            ),
        ),
        **changes,
    )


def test_a_schedule_lives_in_its_tenant_group_and_targets_the_submission_path(
    target: SchedulerTargetSettings, client: Any, group: str
) -> None:
    EventBridgeScheduler(target).ensure_schedule(definition(group))

    assert client.get_schedule_group(Name=group)["State"] == "ACTIVE"
    found = client.get_schedule(GroupName=group, Name="weather-hourly")
    assert found["ScheduleExpression"] == "cron(0 * * * ? *)"
    assert found["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["State"] == "ENABLED"
    sent = found["Target"]
    assert (sent["Arn"], sent["RoleArn"]) == (target.target_arn, target.role_arn)
    assert json.loads(sent["Input"]) == {
        "tenant": "acme",
        "connector": "weather",
        "job_type": "fetch",
        "payload": {"stations": ["10382", "10384"]},
        # filled in by Scheduler on each delivery: each tick gets its own job id
        "scheduled_time": "<aws.scheduler.scheduled-time>",
        "schedule_arn": "<aws.scheduler.schedule-arn>",
    }
    assert sent["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 900}
    assert sent["DeadLetterConfig"] == {"Arn": target.dead_letter_arn}


def test_without_a_dead_letter_queue_none_is_configured(
    target: SchedulerTargetSettings, client: Any, group: str
) -> None:
    EventBridgeScheduler(evolve(target, dead_letter_arn=None)).ensure_schedule(definition(group))

    assert (
        "DeadLetterConfig"
        not in client.get_schedule(GroupName=group, Name="weather-hourly")["Target"]
    )


def test_ensuring_a_second_schedule_keeps_the_first(
    target: SchedulerTargetSettings, client: Any, group: str
) -> None:
    scheduler = EventBridgeScheduler(target)

    scheduler.ensure_schedule(definition(group))
    scheduler.ensure_schedule(definition(group, name="weather-daily", expression="rate(1 day)"))

    names = sorted(s["Name"] for s in client.list_schedules(GroupName=group)["Schedules"])
    assert names == ["weather-daily", "weather-hourly"]


def test_disabling_and_enabling_changes_only_the_state(
    target: SchedulerTargetSettings, client: Any, group: str
) -> None:
    scheduler = EventBridgeScheduler(target)
    scheduler.ensure_schedule(definition(group))
    before = client.get_schedule(GroupName=group, Name="weather-hourly")

    scheduler.set_enabled(group, "weather-hourly", False)
    disabled = client.get_schedule(GroupName=group, Name="weather-hourly")
    scheduler.set_enabled(group, "weather-hourly", True)
    enabled = client.get_schedule(GroupName=group, Name="weather-hourly")

    assert (disabled["State"], enabled["State"]) == ("DISABLED", "ENABLED")
    for after in (disabled, enabled):
        for key in ("ScheduleExpression", "ScheduleExpressionTimezone", "Target"):
            assert after[key] == before[key]


def test_an_update_sends_the_whole_definition(
    target: SchedulerTargetSettings, client: Any, group: str
) -> None:
    scheduler = EventBridgeScheduler(target)
    scheduler.ensure_schedule(definition(group))

    scheduler.ensure_schedule(definition(group, expression="rate(15 minutes)", timezone="UTC"))

    found = client.get_schedule(GroupName=group, Name="weather-hourly")
    assert (found["ScheduleExpression"], found["ScheduleExpressionTimezone"]) == (
        "rate(15 minutes)",
        "UTC",
    )
    assert found["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 4
    assert found["Target"]["DeadLetterConfig"] == {"Arn": target.dead_letter_arn}


def test_deleting_the_group_deletes_it_and_its_schedules(
    target: SchedulerTargetSettings, client: Any, group: str
) -> None:
    scheduler = EventBridgeScheduler(target, poll_seconds=0.05)
    scheduler.ensure_schedule(definition(group))

    scheduler.delete_group(group)

    with pytest.raises(ClientError) as raised:
        client.get_schedule_group(Name=group)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert client.list_schedules(GroupName=group)["Schedules"] == []
