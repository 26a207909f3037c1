"""A schedule's tick, read from the EventBridge Scheduler target input, with the idempotency
key that makes a redelivered tick submit nothing new.

EventBridge Scheduler delivers at least once and Lambda retries a failed asynchronous
invocation, so one tick can arrive several times. Its job id must therefore depend on the tick,
not only on the target. Scheduler writes the tick into the input through its context attributes:
``"scheduled_time": "<aws.scheduler.scheduled-time>"`` and ``"schedule_arn":
"<aws.scheduler.schedule-arn>"``. With both, the key is `scheduled_idempotency_key`, the one the
local schedule runner uses; with the time alone, a key of the time. Without a time, the Lambda
request id, which Lambda keeps across its own retries (not across Scheduler's redeliveries).
Without any of them every tick of a schedule would name the same job and only the first would
ever run, so such an input is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from attrs import frozen

from overlord.container import schedule_target_from_input
from overlord.domain.errors import InvalidInput
from overlord.domain.infrastructure import ScheduleTarget, scheduled_idempotency_key

SCHEDULED_TIME = "scheduled_time"
SCHEDULE_ARN = "schedule_arn"


@frozen
class ScheduleTick:
    target: ScheduleTarget
    idempotency_key: str


def _due_at(value: object) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"{SCHEDULED_TIME} must be an ISO 8601 time, not {value!r:.40}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{SCHEDULED_TIME} {value!r:.60} is not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise InvalidInput(f"{SCHEDULED_TIME} {value!r:.60} has no time zone")
    return moment.astimezone(UTC)


def _group_and_name(value: object) -> tuple[str, str]:
    """``arn:aws:scheduler:REGION:ACCOUNT:schedule/GROUP/NAME`` -> (GROUP, NAME)."""
    resource = value.split(":", 5)[-1] if isinstance(value, str) else ""
    kind, _, path = resource.partition("/")
    group, _, name = path.partition("/")
    if kind != "schedule" or not group or not name or "/" in name:
        raise InvalidInput(f"{SCHEDULE_ARN} {value!r:.80} is not a schedule's ARN")
    return group, name


def _key(event: Mapping[str, Any], lambda_context: Any) -> str:
    if SCHEDULED_TIME in event:
        due_at = _due_at(event[SCHEDULED_TIME])
        if SCHEDULE_ARN in event:
            return scheduled_idempotency_key(*_group_and_name(event[SCHEDULE_ARN]), due_at)
        return f"schedule due {due_at.isoformat()}"
    request_id = getattr(lambda_context, "aws_request_id", None)
    if isinstance(request_id, str) and request_id:
        return f"invocation {request_id}"
    raise InvalidInput(
        f"a schedule tick needs {SCHEDULED_TIME} (or a Lambda request id) so that a "
        "redelivered tick is not run twice"
    )


def tick_from_event(event: object, lambda_context: Any = None) -> ScheduleTick:
    """The target and idempotency key of one delivery; InvalidInput if it is not a tick."""
    if not isinstance(event, Mapping):
        raise InvalidInput("a schedule tick is a JSON object")
    try:
        text = json.dumps(event)
    except (TypeError, ValueError):
        raise InvalidInput("a schedule tick is a JSON object") from None
    target = schedule_target_from_input(text)
    if target is None:
        raise InvalidInput(
            "not an Overlord schedule input: expected tenant, connector, job_type and payload"
        )
    return ScheduleTick(target, _key(event, lambda_context))
