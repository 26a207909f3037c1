"""EventBridge Scheduler behind the Scheduler port.

EventBridge *Scheduler* (not legacy EventBridge rules) because it has what the port needs:
schedule groups (one per tenant, deleted with everything in them), a timezone per schedule, and
per-target retry policy and dead-letter queue. Every schedule targets the one job-submission
path (the schedule Lambda); what to submit travels in the target's ``Input`` as JSON, which is
also how a described schedule is turned back into its ``ScheduleTarget``.

Building the adapter makes no client and checks no setting: the job services hold a scheduler
for the follow-ups a few jobs switch, and a read must not need ``OVERLORD_SCHEDULER_*``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from attrs import frozen

from overlord.adapters.aws.clients import AwsClients, backend_error, error_code
from overlord.domain.errors import (
    BackendError,
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    OverlordError,
    QuotaExceeded,
)
from overlord.domain.expressions import validate_schedule_expression, validate_timezone
from overlord.domain.infrastructure import ScheduleDefinition, ScheduleTarget
from overlord.domain.jobs import canonical_json
from overlord.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_scheduler.type_defs import (
        CreateScheduleInputTypeDef,
        GetScheduleOutputTypeDef,
        TargetTypeDef,
    )

_ERRORS: dict[str, type[OverlordError]] = {
    "ResourceNotFoundException": NotFound,
    "ConflictException": Conflict,
    "ServiceQuotaExceededException": QuotaExceeded,
    "ValidationException": InvalidInput,
}
# GetSchedule answers with these; UpdateSchedule accepts them back unchanged.
_UPDATABLE = (
    "ActionAfterCompletion",
    "Description",
    "EndDate",
    "FlexibleTimeWindow",
    "KmsKeyArn",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "Target",
)


@frozen(kw_only=True)
class SchedulerTargetSettings:
    """Where every schedule sends its job request, and what happens when delivery fails."""

    target_arn: str
    role_arn: str
    dead_letter_arn: str | None = None
    maximum_retry_attempts: int = 3
    maximum_event_age_seconds: int = 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> SchedulerTargetSettings:
        """`ConfigurationError` naming the first of the two required settings left unset."""
        target_arn, role_arn = settings.scheduler_target_arn, settings.scheduler_role_arn
        if not target_arn or not role_arn:
            named = {
                "OVERLORD_SCHEDULER_TARGET_ARN": target_arn,
                "OVERLORD_SCHEDULER_ROLE_ARN": role_arn,
            }
            missing = [name for name, value in named.items() if not value]
            raise ConfigurationError(
                "EventBridge schedules need OVERLORD_SCHEDULER_TARGET_ARN (the schedule "
                "Lambda) and OVERLORD_SCHEDULER_ROLE_ARN (a role Scheduler may assume); "
                f"not set: {', '.join(missing)}",
                setting=missing[0],
            )
        return cls(
            target_arn=target_arn,
            role_arn=role_arn,
            dead_letter_arn=settings.scheduler_dead_letter_arn,
        )


@contextmanager
def _boundary(what: str, *, missing_ok: bool = False) -> Iterator[None]:
    """Translate botocore errors; with ``missing_ok`` a ResourceNotFound is swallowed."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = error_code(exc) or ""
        if missing_ok and code == "ResourceNotFoundException":
            return
        kind = _ERRORS.get(code)
        if kind is None:
            raise backend_error(exc, what) from exc
        raise kind(f"{what}: {exc.response.get('Error', {}).get('Message', '')}") from exc
    except BotoCoreError as exc:
        raise backend_error(exc, what) from exc


def target_input(target: ScheduleTarget) -> str:
    """The JSON document the schedule Lambda receives.

    Scheduler fills in the two context attributes on every delivery, which is what lets the
    Lambda give each tick its own idempotency key (see ``entrypoints.lambdas.schedule_ticks``).
    """
    return canonical_json(
        {
            "tenant": target.tenant,
            "connector": target.connector,
            "job_type": target.job_type,
            "payload": target.payload,
            "scheduled_time": "<aws.scheduler.scheduled-time>",
            "schedule_arn": "<aws.scheduler.schedule-arn>",
        }
    )


def target_from_input(text: str) -> ScheduleTarget | None:
    """Parse a target ``Input`` back; None when the schedule was not made by Overlord."""
    try:
        document = json.loads(text)
        return ScheduleTarget(
            tenant=document["tenant"],
            connector=document["connector"],
            job_type=document["job_type"],
            payload_json=canonical_json(document.get("payload", {})),
        )
    except (ValueError, TypeError, KeyError):
        return None


class EventBridgeScheduler:
    """Schedules in EventBridge Scheduler, one schedule group per tenant.

    ``target`` may be a function making the settings, called on the first describe or ensure:
    the only calls that need them.

    >>> scheduler = EventBridgeScheduler(partial(SchedulerTargetSettings.from_settings, settings))
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        target: SchedulerTargetSettings | Callable[[], SchedulerTargetSettings],
        client: EventBridgeSchedulerClient | None = None,
        *,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 300,
        clients: AwsClients | None = None,
    ) -> None:
        self._target = target
        self._given_client = client
        self._clients = clients
        self._poll = poll_seconds
        self._timeout = timeout_seconds

    def _settings(self) -> SchedulerTargetSettings:
        """The target settings, made (and so checked) on the first call."""
        if not isinstance(self._target, SchedulerTargetSettings):
            self._target = self._target()
        return self._target

    @cached_property
    def _client(self) -> EventBridgeSchedulerClient:
        if self._given_client is not None:
            return self._given_client
        built: EventBridgeSchedulerClient = (self._clients or AwsClients()).client("scheduler")
        return built

    def describe_schedule(self, group: str, name: str) -> ScheduleDefinition | None:
        # Provisioning describes a schedule on its way to ensuring it, before it writes
        # anything: checking the target settings here is what keeps a misconfigured apply
        # from leaving a tenant half-made.
        self._settings()
        found = self._get(group, name)
        return None if found is None else self._definition(found)

    def ensure_schedule(self, schedule: ScheduleDefinition) -> None:
        validate_schedule_expression(schedule.expression)
        validate_timezone(schedule.timezone)
        request = self._request(schedule)  # checks the target settings before any write
        self._ensure_group(schedule.group)
        what = f"schedule {schedule.group}/{schedule.name}"
        if self._get(schedule.group, schedule.name) is None:
            try:
                with _boundary(what):
                    self._client.create_schedule(**request)
                return
            except Conflict:
                pass  # created meanwhile by a concurrent apply: bring it to this definition
        with _boundary(what):
            self._client.update_schedule(**request)

    def set_enabled(self, group: str, name: str, enabled: bool) -> None:
        what = f"schedule {group}/{name}"
        with _boundary(what):
            found = self._client.get_schedule(GroupName=group, Name=name)
        # UpdateSchedule replaces the whole schedule: send back everything but the state.
        kept: dict[str, Any] = {
            key: value for key, value in found.items() if key in _UPDATABLE and value is not None
        }
        with _boundary(what):
            self._client.update_schedule(
                **kept, GroupName=group, Name=name, State="ENABLED" if enabled else "DISABLED"
            )

    def delete_schedule(self, group: str, name: str) -> None:
        with _boundary(f"schedule {group}/{name}", missing_ok=True):
            self._client.delete_schedule(GroupName=group, Name=name)

    def list_schedules(self, group: str) -> list[ScheduleDefinition]:
        names: list[str] = []
        with _boundary(f"schedule group {group}", missing_ok=True):
            paginator = self._client.get_paginator("list_schedules")
            for page in paginator.paginate(GroupName=group):
                names.extend(s["Name"] for s in page["Schedules"] if s.get("GroupName") == group)
        # Listing omits targets: read each schedule whole.
        found = (self.describe_schedule(group, name) for name in sorted(names))
        return [definition for definition in found if definition is not None]

    def delete_group(self, group: str) -> None:
        """Delete the group; EventBridge then deletes its schedules, which this waits for."""
        what = f"schedule group {group}"
        if not self._group_exists(group):
            return
        with _boundary(what, missing_ok=True):
            self._client.delete_schedule_group(Name=group)
        deadline = time.monotonic() + self._timeout
        while self._group_exists(group):
            if time.monotonic() >= deadline:
                raise BackendError(f"{what}: still deleting after {self._timeout:g} seconds")
            time.sleep(self._poll)

    def _request(self, schedule: ScheduleDefinition) -> CreateScheduleInputTypeDef:
        settings = self._settings()
        target: TargetTypeDef = {
            "Arn": settings.target_arn,
            "RoleArn": settings.role_arn,
            "Input": target_input(schedule.target),
            "RetryPolicy": {
                "MaximumRetryAttempts": settings.maximum_retry_attempts,
                "MaximumEventAgeInSeconds": settings.maximum_event_age_seconds,
            },
        }
        if settings.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": settings.dead_letter_arn}
        return {
            "GroupName": schedule.group,
            "Name": schedule.name,
            "ScheduleExpression": schedule.expression,
            "ScheduleExpressionTimezone": schedule.timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED" if schedule.enabled else "DISABLED",
            "Target": target,
        }

    def _definition(self, found: GetScheduleOutputTypeDef) -> ScheduleDefinition | None:
        target = target_from_input(found.get("Target", {}).get("Input", ""))
        if target is None:
            return None
        return ScheduleDefinition(
            group=found["GroupName"],
            name=found["Name"],
            expression=found["ScheduleExpression"],
            timezone=found.get("ScheduleExpressionTimezone") or "UTC",
            target=target,
            enabled=found.get("State") == "ENABLED",
        )

    def _get(self, group: str, name: str) -> GetScheduleOutputTypeDef | None:
        found: GetScheduleOutputTypeDef | None = None
        with _boundary(f"schedule {group}/{name}", missing_ok=True):
            found = self._client.get_schedule(GroupName=group, Name=name)
        return found

    def _group_exists(self, group: str) -> bool:
        with _boundary(f"schedule group {group}", missing_ok=True):
            self._client.get_schedule_group(Name=group)
            return True
        return False

    def _ensure_group(self, group: str) -> None:
        # Checked first: moto's CreateScheduleGroup silently replaces an existing group.
        if self._group_exists(group):
            return
        try:
            with _boundary(f"schedule group {group}"):
                self._client.create_schedule_group(
                    Name=group, Tags=[{"Key": "managed-by", "Value": "overlord"}]
                )
        except Conflict:
            pass  # created meanwhile by a concurrent apply
