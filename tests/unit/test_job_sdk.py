"""The job-side SDK (`overlord.job`) over both ways a payload travels, on the memory profile,
and the protocol it shares with the runners: the attempt, progress lines, "not done yet"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from overlord import job
from overlord.adapters.aws.batch_events import job_state_change_from_description
from overlord.adapters.aws.job_runner import submit_job_request
from overlord.adapters.local.object_store import LocalObjectStore
from overlord.adapters.memory.object_store import MemoryObjectStore
from overlord.container import Container
from overlord.domain.errors import InvalidInput, NotFound
from overlord.domain.infrastructure import BucketSpec
from overlord.domain.job_events import SubmitRequest
from overlord.domain.jobs import JobStatus
from overlord.samples import marketplace, weather

BIG = {"stations": [f"K{i:04d}" for i in range(3500)], "note": "x" * 2000}  # about 30 KB


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A working directory of each test's own: a job reads no stray overlord.toml."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def provisioned(container: Container) -> Container:
    container.provisioning().apply("acme", "weather")
    return container


def environment_of_submitted(container: Container, payload: dict[str, Any]) -> dict[str, str]:
    """The environment the backend was asked to start the job with."""
    container.jobs().submit("acme", "weather", "ingest", payload)
    request: SubmitRequest = container.job_runner().submitted[-1]
    return dict(request.environment)


def test_a_payload_over_the_inline_limit_reaches_the_job_through_the_tenants_bucket(
    provisioned: Container,
) -> None:
    assert len(json.dumps(BIG)) > 24 * 1024
    environ = environment_of_submitted(provisioned, BIG)

    context = job.current(environ, objects=provisioned.object_store())

    assert "OVERLORD_PAYLOAD" not in environ
    assert context.payload == BIG
    assert context.payload_ref == f"overlord-acme-weather/jobs/{context.job_id}/payload.json"


def test_an_inline_payload_reaches_the_job_with_who_it_runs_for(provisioned: Container) -> None:
    environ = environment_of_submitted(provisioned, {"stations": ["KSEA"]})
    [recorded] = provisioned.jobs().list("acme")

    context = job.current(environ, objects=MemoryObjectStore())  # no store is needed

    assert context.payload == {"stations": ["KSEA"]}
    assert context.payload_ref is None
    assert (context.tenant, context.connector, context.job_type) == ("acme", "weather", "ingest")
    assert (context.job_id, context.attempt) == (recorded.id.value, 1)


def test_a_command_run_by_hand_needs_only_its_payload() -> None:
    context = job.current({})

    assert (context.tenant, context.job_id, context.attempt, context.payload) == (None, None, 1, {})


def test_the_attempt_is_the_runners_number_else_batchs() -> None:
    assert job.current({"AWS_BATCH_JOB_ATTEMPT": "3"}).attempt == 3
    assert job.current({"OVERLORD_JOB_ATTEMPT": "2", "AWS_BATCH_JOB_ATTEMPT": "1"}).attempt == 2
    with pytest.raises(InvalidInput, match="attempt number"):
        job.current({"OVERLORD_JOB_ATTEMPT": "0"})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OVERLORD_PAYLOAD": "{not json"}, "OVERLORD_PAYLOAD is not JSON"),
        ({"OVERLORD_PAYLOAD": "[1, 2]"}, "must be a JSON object"),
        ({"OVERLORD_PAYLOAD_REF": "no-key-here"}, "is not bucket/key"),
        ({"OVERLORD_PAYLOAD_REF": "bucket/"}, "is not bucket/key"),
    ],
)
def test_a_payload_the_job_cannot_read_is_invalid_input_saying_why(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        job.current(environ, objects=MemoryObjectStore())


def test_a_stored_payload_that_is_gone_or_not_text_names_its_reference() -> None:
    store = MemoryObjectStore()
    store.ensure_bucket(BucketSpec("overlord-acme-weather"))
    store.put_object("overlord-acme-weather", "jobs/x/payload.json", b"\xff\xfe")

    with pytest.raises(NotFound, match="OVERLORD_PAYLOAD_REF='overlord-acme-weather/jobs/y"):
        job.current(
            {"OVERLORD_PAYLOAD_REF": "overlord-acme-weather/jobs/y/payload.json"}, objects=store
        )
    with pytest.raises(InvalidInput, match="not UTF-8"):
        job.current(
            {"OVERLORD_PAYLOAD_REF": "overlord-acme-weather/jobs/x/payload.json"}, objects=store
        )


def test_each_progress_call_is_one_line_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    context = job.current({})

    context.progress("fetched 3 of 10 stations")
    context.progress("two\nlines")

    assert capsys.readouterr().out == "fetched 3 of 10 stations\ntwo lines\n"


def test_not_done_yet_says_why_and_ends_the_job_past_except_exception(
    capsys: pytest.CaptureFixture[str],
) -> None:
    context = job.current({})

    def job_code() -> None:
        try:
            context.not_done_yet("feed still processing")
        except Exception:  # job code's own handler must not turn it into a failure
            pytest.fail("NotDoneYet was caught as an Exception")

    with pytest.raises(job.NotDoneYet) as raised:
        job_code()

    assert isinstance(raised.value, SystemExit)
    assert raised.value.code == 75
    assert raised.value.reason == "feed still processing"
    assert capsys.readouterr().out == "not done yet: feed still processing\n"


def test_the_marketplace_check_of_a_feed_still_processing_is_not_done_yet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed = {"feed_id": "feed-0123456789abcdef0123", "processing": True}

    with pytest.raises(job.NotDoneYet):
        marketplace.main(["check-feed-status"], {"OVERLORD_PAYLOAD": json.dumps(feed)})
    done = marketplace.main(
        ["check-feed-status"], {"OVERLORD_PAYLOAD": json.dumps(feed | {"processing": False})}
    )

    assert done == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "checking feed feed-0123456789abcdef0123",
        "not done yet: feed feed-0123456789abcdef0123 is still processing",
    ]
    assert json.loads(lines[-1]) == {"feed_id": "feed-0123456789abcdef0123", "status": "DONE"}


def test_a_sample_reads_a_stored_payload_through_its_profiles_object_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    store = LocalObjectStore(home / "objects")
    store.ensure_bucket(BucketSpec("overlord-acme-weather"))
    store.put_object("overlord-acme-weather", "jobs/j/payload.json", json.dumps(BIG).encode())
    environ = {
        "OVERLORD_PROFILE": "local",
        "OVERLORD_HOME": str(home),
        "OVERLORD_PAYLOAD_REF": "overlord-acme-weather/jobs/j/payload.json",
        "OVERLORD_TENANT": "acme",
    }

    assert weather.main(["ingest"], environ) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tenant acme: ingesting 3500 station(s)")
    assert json.loads(lines[-2])["station_id"] == "K3499"


def test_a_sample_whose_stored_payload_is_missing_exits_2_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {
        "OVERLORD_PROFILE": "local",
        "OVERLORD_HOME": str(tmp_path),
        "OVERLORD_PAYLOAD_REF": "overlord-acme-weather/jobs/gone/payload.json",
    }

    assert weather.main(["ingest"], environ) == 2
    assert "OVERLORD_PAYLOAD_REF='overlord-acme-weather/jobs/gone" in capsys.readouterr().err


def test_batch_tells_the_job_its_profile_and_does_not_retry_not_done_yet() -> None:
    request = SubmitRequest(
        job_id="a" * 32,
        job_name="overlord-a",
        queue="q",
        definition="d",
        command=("python",),
        environment=(("OVERLORD_PAYLOAD_REF", "b/k"),),
        timeout_seconds=60,
        attempts=3,
        tags=(),
    )

    submitted = submit_job_request(request)

    environment = {e["name"]: e["value"] for e in submitted["containerOverrides"]["environment"]}
    assert environment == {"OVERLORD_PAYLOAD_REF": "b/k", "OVERLORD_PROFILE": "aws"}
    assert submitted["retryStrategy"] == {
        "attempts": 3,
        "evaluateOnExit": [{"onExitCode": "75", "action": "EXIT"}],
    }


def test_a_batch_job_that_exited_not_done_yet_says_so_in_its_reason() -> None:
    description = {
        "jobId": "b-1",
        "jobName": "overlord-x",
        "status": "FAILED",
        "statusReason": "Essential container in task exited",
        "createdAt": 1767225600000,
        "attempts": [{"startedAt": 1767225601000, "stoppedAt": 1767225602000,
                      "container": {"exitCode": 75}}],
        "tags": {"overlord:tenant": "acme", "overlord:job-id": "0" * 32},
    }  # fmt: skip

    change = job_state_change_from_description(description)

    assert (change.status, change.status_reason) == (
        JobStatus.FAILED,
        "not done yet (exit code 75)",
    )
