"""Reading Batch job descriptions and "Batch Job State Change" events into state changes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.adapters.aws.batch_events import (
    job_state_change_from_description,
    job_state_change_from_event,
    log_group_of,
    log_stream_of,
)
from overlord.domain.errors import InvalidInput
from overlord.domain.jobs import JobStatus
from overlord.testing import batch_state_change_event

JOB_ID = "5f" * 16
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in epoch milliseconds


def detail(**changes: Any) -> dict[str, Any]:
    """The shape of AWS's own sample event detail (trimmed), for an Overlord job."""
    job: dict[str, Any] = {
        "jobName": f"overlord-{JOB_ID}",
        "jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
        "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/overlord-acme-weather",
        "status": "RUNNABLE",
        "attempts": [],
        "createdAt": T0,
        "retryStrategy": {"attempts": 3},
        "dependsOn": [],
        "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/weather:1",
        "parameters": {},
        "container": {
            "image": "python:3.12-slim",
            "command": ["python", "-m", "overlord.samples.weather", "ingest"],
            "environment": [{"name": "OVERLORD_JOB_ID", "value": JOB_ID}],
        },
        "tags": {"overlord:tenant": "acme", "overlord:job-id": JOB_ID},
    }
    job.update(changes)
    return job


def event(**changes: Any) -> dict[str, Any]:
    return batch_state_change_event(detail(**changes))


def tags(tenant: str, job_id: str) -> dict[str, str]:
    return {"overlord:tenant": tenant, "overlord:job-id": job_id}


def attempt(started: int, stopped: int | None, exit_code: int | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"logStreamName": f"weather/default/{started}"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    found: dict[str, Any] = {"container": container, "startedAt": T0 + started}
    if stopped is not None:
        found["stoppedAt"] = T0 + stopped
        found["statusReason"] = "Essential container in task exited"
    return found


def test_an_event_names_the_job_its_tenant_and_when_it_was_seen() -> None:
    change = job_state_change_from_event(event())

    assert change.tenant == "acme"
    assert change.job_id == JOB_ID
    assert change.backend_job_id == "4c7599ae-0a82-49aa-ba5a-4727fcce14a8"
    assert change.job_name == f"overlord-{JOB_ID}"
    assert (change.status, change.attempt) == (JobStatus.RUNNABLE, 1)
    assert change.at == datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert change.attempts == ()


def test_a_job_runnable_again_after_a_failed_attempt_waits_for_the_next() -> None:
    change = job_state_change_from_description(
        detail(status="RUNNABLE", attempts=[attempt(1_000, 9_000, exit_code=1)])
    )

    assert change.attempt == 2
    assert change.attempts[0].exit_code == 1
    assert change.attempts[0].stopped_at == datetime(2026, 1, 1, 0, 0, 9, tzinfo=UTC)


def test_a_running_attempt_is_the_last_listed_one_while_it_has_not_stopped() -> None:
    listed = detail(status="RUNNING", attempts=[attempt(1_000, 2_000, 1), attempt(3_000, None)])
    unlisted = detail(status="RUNNING", attempts=[attempt(1_000, 2_000, 1)])

    assert job_state_change_from_description(listed).attempt == 2
    assert job_state_change_from_description(unlisted).attempt == 2


def test_a_finished_job_belongs_to_its_last_attempt_with_every_exit_code() -> None:
    change = job_state_change_from_description(
        detail(
            status="FAILED",
            statusReason="Essential container in task exited",
            stoppedAt=T0 + 9_000,
            attempts=[attempt(1_000, 2_000, 1), attempt(3_000, 4_000, 1), attempt(5_000, 9_000, 2)],
        )
    )

    assert (change.status, change.attempt) == (JobStatus.FAILED, 3)
    assert [a.exit_code for a in change.attempts] == [1, 1, 2]
    assert change.status_reason == "Essential container in task exited"
    assert change.at == datetime(2026, 1, 1, 0, 0, 9, tzinfo=UTC)  # the latest time it carries


def test_tenant_and_job_id_come_from_the_environment_when_tags_did_not_propagate() -> None:
    job = detail(tags={})
    job["container"]["environment"].append({"name": "OVERLORD_TENANT", "value": "globex"})

    change = job_state_change_from_description(job)

    assert (change.tenant, change.job_id) == ("globex", JOB_ID)


def test_environment_entries_that_are_not_name_value_pairs_are_passed_over() -> None:
    job = detail(tags={})
    job["container"]["environment"][:0] = [{"name": ["OVERLORD_TENANT"]}, {"name": {}}, "x", None]
    job["container"]["environment"].append({"name": "OVERLORD_TENANT", "value": "globex"})

    change = job_state_change_from_description(job)

    assert (change.tenant, change.job_id) == ("globex", JOB_ID)


def test_log_streams_are_found_per_attempt_and_for_the_running_one() -> None:
    running = detail(status="RUNNING", attempts=[attempt(1_000, 2_000, 1)])
    running["container"]["logStreamName"] = "weather/default/current"

    assert log_stream_of(running, 1) == "weather/default/1000"
    assert log_stream_of(running, 2) == "weather/default/current"
    assert log_stream_of(running, 3) is None


def test_the_log_group_is_the_definitions_own_when_it_names_one() -> None:
    job = detail()
    assert log_group_of(job, "/aws/batch/job") == "/aws/batch/job"

    job["container"]["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/overlord/acme"},
    }
    assert log_group_of(job, "/aws/batch/job") == "/overlord/acme"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "JSON object"),
        ({**event(), "source": "aws.ecs"}, "not a 'Batch Job State Change' event"),
        ({**event(), "detail-type": "ECS Task State Change"}, "not a 'Batch Job State Change'"),
        ({**event(), "detail": "RUNNABLE"}, "no 'detail' object"),
        ({**event(), "time": "yesterday"}, "not ISO 8601"),
        ({**event(), "time": "2026-01-01T00:00:05"}, "no timezone"),
        (event(status="CANCELLED"), "unknown Batch job status"),
        (event(status="REQUESTED"), "unknown Batch job status"),
        (event(jobId=""), "no valid 'jobId'"),
        (event(tags={}, container={}), "carries no 'overlord:tenant'"),
        (event(tags=tags("../x", JOB_ID)), "not an Overlord"),
        (event(tags=tags("acme", "$where")), "not an Overlord"),
        (event(tags=tags("\uff41cme", JOB_ID)), "not an Overlord"),  # fullwidth a
        (event(attempts={}), "attempts are not a list"),
        (event(attempts=[{"startedAt": "soon"}]), "epoch milliseconds"),
        (event(attempts=[{"startedAt": True}]), "epoch milliseconds"),
        (event(createdAt=-5), "epoch milliseconds"),
    ],
)
def test_a_malformed_event_is_invalid_input_naming_what_is_wrong(bad: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        job_state_change_from_event(bad)


def test_a_description_without_any_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="carries no time"):
        job_state_change_from_description(detail(createdAt=None))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "jobId",
        "jobName",
        "status",
        "attempts",
        "createdAt",
        "startedAt",
        "stoppedAt",
        "tags",
        "container",
        "statusReason",
    ]
)


@given(st.lists(st.tuples(FIELDS, JSON), max_size=4), st.one_of(st.none(), JSON))
def test_any_corruption_of_a_valid_event_is_read_or_refused_as_invalid_input(
    corruptions: list[tuple[str, Any]], time: Any
) -> None:
    bad = copy.deepcopy(event())
    for key, value in corruptions:
        bad["detail"][key] = value
    bad["time"] = time

    try:
        change = job_state_change_from_event(bad)
    except InvalidInput:
        return
    assert change.attempt >= 1
    assert change.at.tzinfo is not None


@given(JSON)
def test_any_json_value_as_an_event_is_refused_as_invalid_input(value: Any) -> None:
    with pytest.raises(InvalidInput):
        job_state_change_from_event(value)
