"""The Lambda handlers fed the events AWS sends: EventBridge "Batch Job State Change" events,
EventBridge Scheduler target inputs, and API Gateway events through the module-level handlers
in a fresh interpreter, as a cold Lambda environment runs them.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from dependency_injector import providers

from overlord.adapters.aws.scheduler import target_input
from overlord.adapters.memory.clock import FixedClock
from overlord.container import Container
from overlord.domain.errors import BackendError, InvalidInput, NotFound
from overlord.domain.infrastructure import scheduled_idempotency_key
from overlord.domain.jobs import Job
from overlord.domain.names import Namespace, TenantName, schedule_group
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.settings import Settings
from tests.e2e.api_events import http_event, rest_event
from tests.e2e.conftest import child_env

START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
HEAVY = ("pandas", "pyarrow", "selenium", "sqlalchemy")


@frozen
class FakeLambdaContext:
    """The attributes of Lambda's context object that the handlers read."""

    aws_request_id: str
    function_name: str = "overlord-schedule"


@pytest.fixture
def container() -> Iterator[Container]:
    container = Container.from_settings(Settings(profile="memory"))
    with container.clock.override(providers.Object(FixedClock(START))):
        container.provisioning().apply("acme", "weather")
        yield container


@pytest.fixture
def handlers(container: Container) -> LambdaHandlers:
    return LambdaHandlers(container)


# Batch job state changes

ACCOUNT, REGION = "123456789012", "eu-west-1"


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def at(seconds: int) -> datetime:
    return START + timedelta(seconds=seconds)


def attempt_report(number: int, exit_code: int, started: int, stopped: int) -> dict[str, Any]:
    return {
        "container": {
            "containerInstanceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/c{number}",
            "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/overlord/{number:032x}",
            "exitCode": exit_code,
            "logStreamName": f"overlord/default/{number:032x}",
            "networkInterfaces": [],
        },
        "startedAt": millis(at(started)),
        "stoppedAt": millis(at(stopped)),
        "statusReason": "Essential container in task exited",
    }


def batch_event(
    job: Job,
    status: str,
    when: int,
    *,
    attempts: tuple[dict[str, Any], ...] = (),
    started: int | None = None,
    stopped: int | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """An EventBridge "Batch Job State Change" event whose detail is the job's description,
    as AWS Batch sends it for a job Overlord submitted (its name and tags carry the job id)."""
    backend = job.backend_job_id
    assert backend is not None
    job_arn = f"arn:aws:batch:{REGION}:{ACCOUNT}:job/{backend}"
    detail: dict[str, Any] = {
        "jobArn": job_arn,
        "jobName": f"overlord-{job.id}",
        "jobId": backend,
        "jobQueue": f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/overlord-acme-weather",
        "status": status,
        "attempts": list(attempts),
        "createdAt": millis(START),
        "retryStrategy": {"attempts": 3, "evaluateOnExit": []},
        "dependsOn": [],
        "jobDefinition": f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/overlord-acme-weather:1",
        "parameters": {},
        "container": {
            "image": "public.ecr.aws/docker/library/python:3.11-slim",
            "command": ["python", "-m", "overlord.samples.weather", "ingest"],
            "environment": [
                {"name": "OVERLORD_JOB_ID", "value": job.id.value},
                {"name": "OVERLORD_TENANT", "value": "acme"},
                {"name": "OVERLORD_CONNECTOR", "value": "weather"},
                {"name": "OVERLORD_PAYLOAD", "value": '{"stations":["KSEA"]}'},
            ],
            "resourceRequirements": [
                {"value": "0.25", "type": "VCPU"},
                {"value": "512", "type": "MEMORY"},
            ],
            "networkInterfaces": [],
        },
        "tags": {
            "resourceArn": job_arn,
            "overlord:job-id": job.id.value,
            "overlord:tenant": "acme",
            "overlord:connector": "weather",
            "overlord:job-type": "ingest",
        },
        "propagateTags": True,
        "platformCapabilities": ["FARGATE"],
        "eksAttempts": [],
    }
    if started is not None:
        detail["startedAt"] = millis(at(started))
        detail["container"]["logStreamName"] = f"overlord/default/{len(attempts) + 1:032x}"
    if stopped is not None:
        detail["stoppedAt"] = millis(at(stopped))
    if reason is not None:
        detail["statusReason"] = reason
    return {
        "version": "0",
        "id": f"{when:08d}-76e5-d76a-f980-7011e206042b",
        "detail-type": "Batch Job State Change",
        "source": "aws.batch",
        "account": ACCOUNT,
        "time": at(when).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [job_arn],
        "detail": detail,
    }


def two_attempts(job: Job) -> list[dict[str, Any]]:
    """Every event of a job whose first attempt fails and whose retry succeeds, in order."""
    first = attempt_report(1, 1, 40, 70)
    second = attempt_report(2, 0, 100, 160)
    return [
        batch_event(job, "SUBMITTED", 1),
        batch_event(job, "PENDING", 2),
        batch_event(job, "RUNNABLE", 3),
        batch_event(job, "STARTING", 20),
        batch_event(job, "RUNNING", 40, started=40),
        batch_event(job, "RUNNABLE", 71, attempts=(first,)),
        batch_event(job, "STARTING", 90, attempts=(first,)),
        batch_event(job, "RUNNING", 100, attempts=(first,), started=100),
        batch_event(
            job,
            "SUCCEEDED",
            160,
            attempts=(first, second),
            started=100,
            stopped=160,
            reason="Essential container in task exited",
        ),
    ]


def submitted_job(container: Container) -> Job:
    """A job submitted to the memory backend, whose two attempts have written log lines."""
    result = container.jobs().submit("acme", "weather", "ingest", {"stations": ["KSEA"]})
    job = container.jobs().get("acme", result.job.id.value)
    runner = container.job_runner()
    assert job.backend_job_id is not None
    runner.write_log(job.backend_job_id, 1, "fetching KSEA")
    runner.write_log(job.backend_job_id, 1, "upstream timed out", stream="stderr")
    runner.write_log(job.backend_job_id, 2, "fetching KSEA")
    runner.write_log(job.backend_job_id, 2, "ingested 1 observation(s)")
    return job


def records(container: Container) -> dict[str, list[dict[str, Any]]]:
    """The jobs with their runs, and the stored lines; without the jobs' versions, which say
    only how many saves a job took."""
    store = container.document_store()
    jobs = [
        {k: v for k, v in doc.items() if k != "version"}
        for doc in store.find("overlord-acme", "jobs")
    ]
    return {"jobs": jobs, "logs": store.find("overlord-acme", "logs")}


def test_batch_state_changes_record_the_job_its_runs_and_logs(
    handlers: LambdaHandlers, container: Container
) -> None:
    job = submitted_job(container)

    answers = [handlers.job_state_change(event) for event in two_attempts(job)]

    assert answers[-1] == {"applied": True, "job_id": job.id.value, "status": "SUCCEEDED"}
    done = container.jobs().get("acme", job.id.value)
    assert (done.status.value, done.attempt) == ("SUCCEEDED", 2)
    assert [(r.attempt, r.status.value, r.exit_code) for r in done.runs] == [
        (1, "FAILED", 1),
        (2, "SUCCEEDED", 0),
    ]
    assert done.runs[1].started_at == at(100)
    assert done.runs[1].stopped_at == at(160)
    lines = container.jobs().logs("acme", job.id.value)
    assert [(e.attempt, e.stream, e.message) for e in lines] == [
        (1, "stdout", "fetching KSEA"),
        (1, "stderr", "upstream timed out"),
        (2, "stdout", "fetching KSEA"),
        (2, "stdout", "ingested 1 observation(s)"),
    ]


def test_replayed_and_reordered_events_give_the_same_records() -> None:
    outcomes = []
    for order in ("in order", "replayed", "reversed", "shuffled twice"):
        container = Container.from_settings(Settings(profile="memory"))
        container.clock.override(providers.Object(FixedClock(START)))
        container.provisioning().apply("acme", "weather")
        handlers = LambdaHandlers(container)
        events = two_attempts(submitted_job(container))
        if order == "replayed":
            events = events + events
        elif order == "reversed":
            events = events[::-1]
        elif order == "shuffled twice":
            events = events + events
            random.Random(7).shuffle(events)

        for event in events:
            handlers.job_state_change(event)

        outcomes.append(records(container))

    assert all(outcome == outcomes[0] for outcome in outcomes[1:])
    assert outcomes[0]["jobs"][0]["status"] == "SUCCEEDED"


def test_a_late_event_never_reopens_a_finished_job(
    handlers: LambdaHandlers, container: Container
) -> None:
    job = submitted_job(container)
    events = two_attempts(job)
    handlers.job_state_change(events[-1])
    finished = records(container)

    late = [handlers.job_state_change(event) for event in events[:-1]]

    assert records(container) == finished
    assert {answer["status"] for answer in late} == {"SUCCEEDED"}


def test_an_event_about_no_overlord_job_is_acknowledged_and_changes_nothing(
    handlers: LambdaHandlers, container: Container
) -> None:
    job = submitted_job(container)
    foreign = batch_event(job, "RUNNING", 40, started=40)
    foreign["detail"]["jobName"] = "nightly-report"
    foreign["detail"]["tags"] = {"resourceArn": foreign["detail"]["jobArn"]}
    foreign["detail"]["container"]["environment"] = []
    before = records(container)

    answer = handlers.job_state_change(foreign)

    assert answer["applied"] is False
    assert records(container) == before


def test_an_event_for_a_job_the_records_do_not_hold_changes_nothing(
    handlers: LambdaHandlers, container: Container
) -> None:
    job = submitted_job(container)
    event = batch_event(job, "RUNNING", 40, started=40)
    stranger = "0" * 32
    event["detail"]["jobName"] = f"overlord-{stranger}"
    event["detail"]["tags"]["overlord:job-id"] = stranger
    event["detail"]["container"]["environment"][0]["value"] = stranger
    before = records(container)

    answer = handlers.job_state_change(event)

    assert answer == {"applied": False, "job_id": stranger}
    assert records(container) == before


# schedule ticks


def tick(**changes: Any) -> dict[str, Any]:
    """An EventBridge Scheduler target input as Scheduler delivers it to the Lambda."""
    return {
        "tenant": "acme",
        "connector": "weather",
        "job_type": "ingest",
        "payload": {"stations": ["KSEA", "KJFK"]},
        "scheduled_time": "2026-01-05T09:35:00Z",
        **changes,
    }


def test_a_tick_delivered_twice_submits_once(
    handlers: LambdaHandlers, container: Container
) -> None:
    first = handlers.schedule(tick(), FakeLambdaContext("req-1"))
    again = handlers.schedule(tick(), FakeLambdaContext("req-2"))

    assert (first["created"], again["created"]) == (True, False)
    assert first["job_id"] == again["job_id"]
    assert len(container.job_runner().submitted) == 1
    job = container.jobs().get("acme", first["job_id"])
    assert job.payload == {"stations": ["KSEA", "KJFK"]}
    assert job.idempotency_key == "schedule due 2026-01-05T09:35:00+00:00"


def test_a_tick_naming_its_schedule_gets_the_key_the_local_runner_would_use(
    handlers: LambdaHandlers, container: Container
) -> None:
    arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/overlord-acme/weather-poll"

    first = handlers.schedule(tick(schedule_arn=arn))
    again = handlers.schedule(tick(schedule_arn=arn, scheduled_time="2026-01-05T09:35:00Z"))

    job = container.jobs().get("acme", first["job_id"])
    due = datetime(2026, 1, 5, 9, 35, tzinfo=UTC)
    assert job.idempotency_key == scheduled_idempotency_key("overlord-acme", "weather-poll", due)
    assert (first["created"], again["created"]) == (True, False)


def test_the_input_a_provisioned_schedule_carries_becomes_one_job_per_tick(
    handlers: LambdaHandlers, container: Container
) -> None:
    group = schedule_group(Namespace(), TenantName("acme"))
    [schedule] = [s for s in container.scheduler().list_schedules(group) if "poll" in s.name]
    template = target_input(schedule.target)

    def delivered(due: str) -> dict[str, Any]:
        """What Scheduler sends: the Input with its context attributes filled in."""
        arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{schedule.group}/{schedule.name}"
        text = template.replace("<aws.scheduler.scheduled-time>", due)
        return dict(json.loads(text.replace("<aws.scheduler.schedule-arn>", arn)))

    first = handlers.schedule(delivered("2026-01-05T09:35:00Z"))
    redelivered = handlers.schedule(delivered("2026-01-05T09:35:00Z"))
    next_tick = handlers.schedule(delivered("2026-01-05T09:42:00Z"))

    assert (first["created"], redelivered["created"], next_tick["created"]) == (True, False, True)
    assert first["job_id"] == redelivered["job_id"] != next_tick["job_id"]


def test_the_same_instant_written_differently_is_the_same_tick(
    handlers: LambdaHandlers, container: Container
) -> None:
    first = handlers.schedule(tick(scheduled_time="2026-01-05T09:35:00Z"))
    again = handlers.schedule(tick(scheduled_time="2026-01-05T10:35:00+01:00"))

    assert first["job_id"] == again["job_id"]
    assert len(container.job_runner().submitted) == 1


def test_each_tick_of_a_schedule_submits_its_own_job(
    handlers: LambdaHandlers, container: Container
) -> None:
    ticks = ["2026-01-05T09:35:00Z", "2026-01-05T09:42:00Z", "2026-01-05T09:49:00Z"]

    job_ids = {handlers.schedule(tick(scheduled_time=t))["job_id"] for t in ticks}

    assert len(job_ids) == 3
    assert len(container.jobs().list("acme")) == 3


def test_without_a_scheduled_time_lambdas_own_retry_is_still_recognised(
    handlers: LambdaHandlers, container: Container
) -> None:
    delivery = {k: v for k, v in tick().items() if k != "scheduled_time"}

    first = handlers.schedule(delivery, FakeLambdaContext("req-7"))
    retried = handlers.schedule(delivery, FakeLambdaContext("req-7"))
    next_tick = handlers.schedule(delivery, FakeLambdaContext("req-8"))

    assert (first["created"], retried["created"], next_tick["created"]) == (True, False, True)
    assert len(container.job_runner().submitted) == 2


@pytest.mark.parametrize(
    ("delivery", "message"),
    [
        ({"tenant": "acme"}, "not an Overlord schedule input"),
        (["acme", "weather"], "JSON object"),
        ({k: v for k, v in tick().items() if k != "scheduled_time"}, "needs scheduled_time"),
        (tick(scheduled_time="<aws.scheduler.scheduled-time>"), "not an ISO 8601 time"),
        (tick(scheduled_time="2026-01-05T09:35:00"), "no time zone"),
        (tick(scheduled_time=1767605700), "must be an ISO 8601 time"),
        (tick(tenant="../x"), "invalid tenant name"),
        (tick(payload=["KSEA"]), "must be a JSON object"),
        (tick(schedule_arn="arn:aws:scheduler:eu-west-1:1:schedule/only-group"), "not a sch"),
        (tick(schedule_arn=["overlord-acme", "weather-poll"]), "not a schedule's ARN"),
    ],
)
def test_a_tick_that_cannot_be_read_is_refused_and_submits_nothing(
    handlers: LambdaHandlers, container: Container, delivery: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        handlers.schedule(delivery)

    assert container.job_runner().submitted == []


def test_a_tick_for_a_connector_no_longer_provisioned_is_not_found(
    handlers: LambdaHandlers, container: Container
) -> None:
    with pytest.raises(NotFound):
        handlers.schedule(tick(connector="marketplace"))

    assert container.job_runner().submitted == []


# a cold Lambda environment

COLD_START = """
import json, sys
from pathlib import Path

import overlord.entrypoints.lambdas as lambdas

heavy = {heavy!r}
imported = sorted(name for name in heavy if name in sys.modules)
powertools_at_import = "aws_lambda_powertools.event_handler" in sys.modules


class Context:
    aws_request_id = "9f1c2d3e-cold-start"
    function_name = "overlord-api"


events = json.loads(Path(sys.argv[1]).read_text())
answers = [lambdas.api_handler(event, Context()) for event in events["api"]]
ticks = [lambdas.schedule_handler(event, Context()) for event in events["ticks"]]
objects = [lambdas.object_created_handler(event, Context()) for event in events["objects"]]
Path(sys.argv[2]).write_text(json.dumps({{
    "imported": imported,
    "powertools_at_import": powertools_at_import,
    "heavy_after_calls": sorted(name for name in heavy if name in sys.modules),
    "statuses": [answer["statusCode"] for answer in answers],
    "bodies": [json.loads(answer["body"]) for answer in answers],
    "ticks": ticks,
    "objects": objects,
}}))
"""


# scheduled maintenance


def test_a_scheduled_sweep_fails_a_job_stuck_past_its_threshold_once(
    handlers: LambdaHandlers, container: Container
) -> None:
    job = container.jobs().submit("acme", "weather", "ingest", {"stations": ["KSEA"]}).job
    clock = container.clock()
    assert isinstance(clock, FixedClock)

    early = handlers.maintenance({"task": "sweep"})
    clock.advance(3600)
    late = handlers.maintenance({"task": "sweep", "tenant": "acme"})
    redelivered = handlers.maintenance({"task": "sweep", "tenant": "acme"})

    assert early == {"task": "sweep", "repairs": 0, "actions": {}}
    assert late == {"task": "sweep", "repairs": 1, "actions": {"failed": 1}}
    assert redelivered["repairs"] == 0
    assert container.jobs().get("acme", job.id.value).status.value == "FAILED"


def test_a_scheduled_reconcile_submits_a_job_a_crash_left_requested(
    handlers: LambdaHandlers, container: Container
) -> None:
    # The record a crash between the ledger insert and SubmitJob leaves: REQUESTED, and a
    # backend that never saw the job (a refused submit, with the record's outcome undone).
    runner = container.job_runner()
    runner.fail_next_submits(1, BackendError("refused"))
    job = container.jobs().submit("acme", "weather", "ingest", {"stations": ["KSEA"]}).job
    container.document_store().update(
        "overlord-acme", "jobs", job.id.value, {"status": "REQUESTED", "status_reason": None}
    )
    container.clock().advance(120)

    repaired = handlers.maintenance({"task": "reconcile"})

    assert repaired["actions"] == {"resubmitted": 1}
    assert len(runner.submitted) == 1


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {},
        {"task": "vacuum"},
        {"task": "sweep", "tenant": "../x"},
        {"task": "sweep", "tenant": 7},
    ],
)
def test_a_maintenance_input_that_names_no_task_is_refused_and_runs_nothing(
    handlers: LambdaHandlers, bad: Any
) -> None:
    with pytest.raises(InvalidInput):
        handlers.maintenance(bad)


def test_a_cold_environment_configures_itself_from_overlord_settings_and_logs_json(
    tmp_path: Path,
) -> None:
    events = {
        "api": [
            rest_event("PUT", "/tenants/acme/connectors/weather"),
            http_event("GET", "/tenants/acme/connectors/weather"),
            http_event("POST", "/tenants/acme/connectors/weather/jobs/ingest", body="{}"),
            rest_event("GET", "/tenants/../connectors/weather"),
        ],
        "ticks": [tick(), tick()],
        "objects": [
            {
                "Records": [
                    {
                        "eventName": "ObjectCreated:Put",
                        "s3": {
                            "bucket": {"name": "nobodys-bucket"},
                            "object": {"key": "raw/call-reports/2026-03-31/call_rc/_manifest.json"},
                        },
                    }
                ]
            }
        ],
    }
    (tmp_path / "events.json").write_text(json.dumps(events))

    done = subprocess.run(
        [sys.executable, "-c", COLD_START.format(heavy=HEAVY), "events.json", "out.json"],
        env=child_env(tmp_path / "home", OVERLORD_PROFILE="memory"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    found = json.loads((tmp_path / "out.json").read_text())
    assert found["imported"] == []
    assert found["powertools_at_import"] is False
    assert found["heavy_after_calls"] == []
    # the container was built once: the GET and the POST see what the PUT provisioned
    assert found["statuses"] == [200, 200, 202, 400]
    assert [t["created"] for t in found["ticks"]] == [True, False]
    assert found["objects"] == [{"submitted": [], "ignored": 1, "refused": 0}]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines, done.stderr
    assert {line["service"] for line in lines} == {"overlord"}
    assert {line["request_id"] for line in lines} == {"9f1c2d3e-cold-start"}
    submitted = [line for line in lines if line["message"] == "job submitted"]
    assert len(submitted) == 1
    assert submitted[0]["tenant"] == "acme"
    assert submitted[0]["connector"] == "weather"
    assert submitted[0]["job_id"] == found["bodies"][2]["job_id"]
    ticked = [line for line in lines if line["message"].startswith("schedule tick")]
    assert [line["job_id"] for line in ticked] == [found["ticks"][0]["job_id"]] * 2
    [ignored] = [line for line in lines if line["message"].startswith("object ignored")]
    assert (ignored["bucket"], ignored["record"]) == ("nobodys-bucket", 0)


# a cold Lambda environment on the aws profile, deployed without the scheduler's settings

COLD_API = """
import json, sys
from pathlib import Path

import overlord.entrypoints.lambdas as lambdas


class Context:
    aws_request_id = "5b7e0c1a-misconfigured"
    function_name = "overlord-api"


events = json.loads(Path(sys.argv[1]).read_text())
answers = [lambdas.api_handler(event, Context()) for event in events]
Path(sys.argv[2]).write_text(json.dumps({
    "statuses": [answer["statusCode"] for answer in answers],
    "bodies": [json.loads(answer["body"]) for answer in answers],
}))
"""


def test_a_deployment_without_scheduler_settings_reads_jobs_and_fails_provisioning_as_its_own(
    tmp_path: Path, aws_account: dict[str, str]
) -> None:
    complete = Container.from_settings(Settings.load(aws_account, tmp_path / "absent.toml"))
    complete.provisioning().apply("acme", "weather")
    submitted = complete.jobs().submit("acme", "weather", "ingest", {"stations": ["KSEA"]}).job
    unknown_id = "0" * len(submitted.id.value)
    events = [
        http_event("GET", f"/tenants/acme/jobs/{submitted.id}"),
        rest_event("GET", f"/tenants/acme/jobs/{unknown_id}"),
        http_event("PUT", "/tenants/globex/connectors/weather"),
    ]
    (tmp_path / "events.json").write_text(json.dumps(events))
    deployed = {k: v for k, v in aws_account.items() if k != "OVERLORD_SCHEDULER_TARGET_ARN"}

    done = subprocess.run(
        [sys.executable, "-c", COLD_API, "events.json", "out.json"],
        env=child_env(tmp_path / "home", **deployed),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    found = json.loads((tmp_path / "out.json").read_text())
    assert found["statuses"] == [200, 404, 500], found["bodies"]
    assert found["bodies"][0]["job_id"] == submitted.id.value
    error = found["bodies"][2]["error"]
    assert error["code"] == "configuration"
    assert "OVERLORD_SCHEDULER_TARGET_ARN" in error["message"]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    [logged] = [line for line in lines if line.get("code") == "configuration"]
    assert logged["level"] == "ERROR"
    assert logged["setting"] == "OVERLORD_SCHEDULER_TARGET_ARN"
    assert logged["request_id"] == "5b7e0c1a-misconfigured"
    # the refusal came before the first write: globex has nothing, not even a registry entry
    plan = complete.provisioning().apply("globex", "weather", plan=True)
    assert {r.action.value for r in plan.resources} == {"would-create"}
    assert "globex" not in {t.name for t in complete.tenants().list()}


MISCONFIGURED = """
import json, sys
from pathlib import Path

import overlord.entrypoints.lambdas as lambdas


class Context:
    aws_request_id = "0c4d2e8f-bad-settings"
    function_name = "overlord"


events = json.loads(Path(sys.argv[1]).read_text())
answer = lambdas.api_handler(events["api"], Context())
try:
    lambdas.schedule_handler(events["tick"], Context())
    raised = None
except Exception as exc:
    raised = [type(exc).__name__, getattr(exc, "setting", None)]
Path(sys.argv[2]).write_text(json.dumps({
    "status": answer["statusCode"], "body": json.loads(answer["body"]), "raised": raised,
}))
"""


def test_a_setting_of_the_wrong_kind_fails_every_handler_visibly_as_the_operators_fault(
    tmp_path: Path,
) -> None:
    events = {"api": http_event("GET", "/tenants/acme/jobs"), "tick": tick()}
    (tmp_path / "events.json").write_text(json.dumps(events))

    done = subprocess.run(
        [sys.executable, "-c", MISCONFIGURED, "events.json", "out.json"],
        env=child_env(tmp_path / "home", OVERLORD_PROFILE="prod"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    found = json.loads((tmp_path / "out.json").read_text())
    assert found["status"] == 500
    assert found["body"]["error"]["code"] == "configuration"
    assert found["body"]["error"]["message"].startswith("OVERLORD_PROFILE: must be one of")
    assert found["raised"] == ["ConfigurationError", "OVERLORD_PROFILE"]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    logged = [line for line in lines if line.get("code") == "configuration"]
    assert [(line["level"], line["setting"]) for line in logged] == [
        ("ERROR", "OVERLORD_PROFILE"),
        ("ERROR", "OVERLORD_PROFILE"),
    ]
    assert {line["request_id"] for line in logged} == {"0c4d2e8f-bad-settings"}
