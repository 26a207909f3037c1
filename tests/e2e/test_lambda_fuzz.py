"""Whatever the event Lambda hands the scheduled and EventBridge handlers, they answer or refuse
it as bad input, and a refusal writes nothing.

Hypothesis starts from a valid event of each kind (a schedule tick, a maintenance task, a
"Batch Job State Change" for a job the platform submitted, an S3 notification that a dataset
folder's manifest landed) and corrupts it: keys removed, values
replaced by any JSON (wrong types, hostile names, huge or odd numbers), or the whole event
replaced. The tenant's records and the backend's submissions are compared before and after
every example; a state change may only move a job forward.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.adapters.memory.job_runner import MemoryJobRunner
from overlord.container import Container
from overlord.domain.errors import InvalidInput, NotFound
from overlord.domain.jobs import JobStatus
from overlord.domain.manifests import FolderManifest, ManifestFile
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.testing import batch_state_change_event, provisioned_memory_container

TENANT = "acme"
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["../x", "$where", "\u0430cme", "acme\x00", "", "2026-13-45T99:00:00Z"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
Path = tuple[str | int, ...]


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every key and index inside ``value``, outermost first."""
    found: list[Path] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        found.append((*prefix, key))
        found.extend(paths(inner, (*prefix, key)))
    return found


def corrupt(value: Any, path: Path, replacement: Any, *, remove: bool) -> None:
    *parents, last = path
    holder = value
    for key in parents:
        holder = holder[key]
    if remove:
        del holder[last]
    else:
        holder[last] = replacement


@st.composite
def corrupted(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """``valid`` with one to three of its keys removed or values replaced, or any JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    event = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 3))):
        where = paths(event)
        if not where:
            break
        path = draw(st.sampled_from(where))
        corrupt(event, path, draw(JSON), remove=draw(st.booleans()))
    return event


def world() -> tuple[Container, LambdaHandlers, MemoryJobRunner]:
    container = provisioned_memory_container(TENANT, "weather")
    return container, LambdaHandlers(container), container.job_runner()


def snapshot(container: Container, runner: MemoryJobRunner) -> Any:
    store = container.document_store()
    records = {name: store.find(f"overlord-{TENANT}", name) for name in ("jobs", "logs")}
    return records, [request.job_id for request in runner.submitted]


def answered_or_refused(handle: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """The handler's answer, or None when it refused the event as bad input."""
    try:
        return handle()
    except (InvalidInput, NotFound):
        return None


TICK = {
    "tenant": TENANT,
    "connector": "weather",
    "job_type": "ingest",
    "payload": {"stations": ["KSEA"]},
    "scheduled_time": "2026-01-01T00:07:00Z",
    "schedule_arn": "arn:aws:scheduler:eu-west-1:123456789012:schedule/overlord-acme/weather-poll",
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=corrupted(TICK))
def test_a_schedule_tick_submits_one_job_or_is_refused_writing_nothing(event: Any) -> None:
    container, handlers, runner = world()
    before = snapshot(container, runner)

    answer = answered_or_refused(lambda: handlers.schedule(event))

    if answer is None:
        assert snapshot(container, runner) == before
        return
    assert set(answer) == {"job_id", "status", "created"}
    assert answer["created"] is True
    assert len(runner.submitted) == 1
    again = handlers.schedule(event)
    assert (again["job_id"], again["created"]) == (answer["job_id"], False)


MAINTENANCE = {"task": "sweep", "tenant": TENANT}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=corrupted(MAINTENANCE))
def test_a_maintenance_input_runs_its_task_or_is_refused_changing_nothing(event: Any) -> None:
    container, handlers, runner = world()
    container.jobs().submit(TENANT, "weather", "ingest", {"stations": ["KSEA"]})
    container.jobs().refresh(TENANT)  # what a sweep pulls first: not a change it makes
    before = snapshot(container, runner)

    answer = answered_or_refused(lambda: handlers.maintenance(event))

    if answer is None:
        assert snapshot(container, runner) == before
        return
    assert answer["task"] in ("sweep", "reconcile")
    assert answer["repairs"] == 0  # nothing here is stuck or lost
    assert snapshot(container, runner) == before


def state_change(job_id: str, backend_id: str) -> dict[str, Any]:
    """The "Batch Job State Change" AWS sends when the job's first attempt starts running."""
    return batch_state_change_event(
        {
            "jobName": f"overlord-{job_id}",
            "jobId": backend_id,
            "status": "RUNNING",
            "attempts": [],
            "createdAt": 1_767_225_600_000,
            "startedAt": 1_767_225_603_000,
            "container": {
                "environment": [{"name": "OVERLORD_JOB_ID", "value": job_id}],
                "logStreamName": "overlord/default/1",
            },
            "tags": {"overlord:tenant": TENANT, "overlord:job-id": job_id},
        }
    )


@st.composite
def state_changes(draw: st.DrawFn) -> tuple[Container, LambdaHandlers, MemoryJobRunner, Any]:
    container, handlers, runner = world()
    job = container.jobs().submit(TENANT, "weather", "ingest", {"stations": ["KSEA"]}).job
    assert job.backend_job_id is not None
    event = draw(corrupted(state_change(job.id.value, job.backend_job_id)))
    return container, handlers, runner, event


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=state_changes())
def test_a_state_change_event_is_applied_forward_or_ignored_changing_nothing(
    case: tuple[Container, LambdaHandlers, MemoryJobRunner, Any],
) -> None:
    container, handlers, runner, event = case
    [job_before] = container.jobs().list(TENANT)
    before = snapshot(container, runner)

    answer = handlers.job_state_change(event)  # never raised on: Lambda would retry forever

    [job_after] = container.jobs().list(TENANT)
    if not answer["applied"]:
        assert snapshot(container, runner) == before
        return
    assert answer["job_id"] == job_before.id.value
    assert job_after.status.rank >= job_before.status.rank
    assert job_after.status is not JobStatus.REQUESTED


def folder_world() -> tuple[Container, LambdaHandlers, MemoryJobRunner, FolderManifest, str]:
    """A bank-reports tenant whose bucket holds one complete folder's manifest."""
    container = provisioned_memory_container(TENANT, "bank-reports")
    bucket = container.jobs().target(TENANT, "bank-reports").names["bucket"]
    manifest = FolderManifest(
        dataset="call-reports",
        period="2026-03-31",
        table="call_rc",
        files=(ManifestFile("FFIEC CDR Call Schedule RC 03312026.txt", 1024, "ab" * 32),),
    )
    container.object_store().put_object(bucket, manifest.key, manifest.to_json().encode())
    return container, LambdaHandlers(container), container.job_runner(), manifest, bucket


def object_created(bucket: str, key: str) -> dict[str, Any]:
    """An S3 event notification for the manifest landing, as S3 sends it."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "size": 120, "sequencer": "0062E9"},
        },
    }
    return {"Records": [record, copy.deepcopy(record)]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.data())
def test_an_object_event_submits_the_folders_job_or_ignores_or_refuses_each_record(
    case: st.DataObject,
) -> None:
    container, handlers, runner, manifest, bucket = folder_world()
    event = case.draw(corrupted(object_created(bucket, manifest.key)))
    before = snapshot(container, runner)

    answer = answered_or_refused(lambda: handlers.object_created(event))

    if answer is None:
        assert snapshot(container, runner) == before
        return
    assert set(answer) == {"submitted", "ignored", "refused"}
    assert len(answer["submitted"]) + answer["ignored"] + answer["refused"] == len(
        event["Records"] if isinstance(event, dict) and "Records" in event else []
    )
    jobs = {
        container.jobs().get(TENANT, job_id).payload["checksum"] for job_id in answer["submitted"]
    }
    assert jobs <= {manifest.checksum}  # only the folder that landed, whatever the record said
    assert len(runner.submitted) == len(set(answer["submitted"])) <= 1
