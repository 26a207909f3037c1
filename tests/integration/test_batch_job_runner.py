"""BatchJobRunner against AWS Batch and CloudWatch Logs APIs (moto over HTTP).

The contract suite proves the runner behaves like every other backend; these tests look at what
Batch was asked for (name, queue, overrides, retries, timeout, tags), at logs read from the
attempt's CloudWatch stream page by page, at matching by exact name, and at SubmitJob sent
exactly once through throttling, failed connections and lost answers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from overlord.adapters.aws.batch_settings import BatchSettings
from overlord.adapters.aws.clients import MAX_RETRIES
from overlord.adapters.aws.clients import client as overlord_client
from overlord.adapters.aws.cloudwatch_logs import BATCH_LOG_GROUP, LogStreamReader
from overlord.adapters.aws.job_runner import BatchJobRunner
from overlord.domain.errors import BackendError, OutcomeUnknown, OverlordError, Throttled
from overlord.domain.job_events import SubmitRequest
from overlord.domain.jobs import JobStatus
from tests.integration.aws_network import (
    make_batch_network,
    make_batch_queue,
    moto_applies_compute_resource_updates,
)
from tests.integration.botocore_events import (
    recorded_calls,
    refuse_connections_first,
    throttle_first,
    time_out_first,
)
from tests.moto_endpoint import LostAnswers

SUBMIT_PATH = "/v1/submitjob"


@pytest.fixture(scope="module")
def target(aws_endpoint: str) -> Iterator[tuple[str, str]]:
    with moto_applies_compute_resource_updates():
        network: BatchSettings = make_batch_network()
        yield make_batch_queue(network)


@pytest.fixture
def batch() -> Any:
    return boto3.client("batch")


def request(target: tuple[str, str], **changes: Any) -> SubmitRequest:
    job_id = uuid.uuid4().hex
    fields: dict[str, Any] = {
        "job_id": job_id,
        "job_name": f"overlord-{job_id}",
        "queue": target[0],
        "definition": target[1],
        "command": ("python", "-m", "overlord.samples.weather", "ingest"),
        "environment": (("OVERLORD_PAYLOAD", '{"stations":["KSEA"]}'), ("OVERLORD_JOB_ID", job_id)),
        "timeout_seconds": 5,
        "attempts": 3,
        "tags": (("overlord:job-id", job_id), ("overlord:tenant", "acme")),
    }
    fields.update(changes)
    return SubmitRequest(**fields)


def described(batch: Any, backend_id: str) -> dict[str, Any]:
    [job] = batch.describe_jobs(jobs=[backend_id])["jobs"]
    return dict(job)


def test_submit_sends_name_queue_overrides_tags_and_a_timeout_batch_accepts(
    target: tuple[str, str], batch: Any
) -> None:
    sent = request(target)

    backend_id = BatchJobRunner().submit(sent)

    job = described(batch, backend_id)
    assert job["jobName"] == sent.job_name
    assert job["jobQueue"].endswith(f"/{target[0]}")
    assert job["container"]["command"] == list(sent.command)
    environment = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert environment["OVERLORD_PAYLOAD"] == '{"stations":["KSEA"]}'
    assert job["tags"] == {"overlord:job-id": sent.job_id, "overlord:tenant": "acme"}
    assert job["timeout"] == {"attemptDurationSeconds": 60}  # Batch's minimum, not 5


def test_logs_are_read_from_the_attempts_stream_across_pages(
    target: tuple[str, str], batch: Any
) -> None:
    runner = BatchJobRunner(logs=LogStreamReader(page_size=10))
    backend_id = runner.submit(request(target))
    stream = described(batch, backend_id)["attempts"][0]["container"]["logStreamName"]
    logs = boto3.client("logs")
    try:
        logs.create_log_group(logGroupName=BATCH_LOG_GROUP)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.create_log_stream(logGroupName=BATCH_LOG_GROUP, logStreamName=stream)
    start = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=BATCH_LOG_GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": start + i, "message": f"line {i}"} for i in range(25)],
    )

    lines = runner.logs(backend_id, 1)

    assert [line.message for line in lines] == [f"line {i}" for i in range(25)]
    assert [line.at for line in lines] == sorted(line.at for line in lines)
    assert runner.logs(backend_id, 2) == []


def test_logs_of_a_stream_not_yet_created_are_empty(target: tuple[str, str]) -> None:
    runner = BatchJobRunner()
    backend_id = runner.submit(request(target))

    assert runner.logs(backend_id, 1) == []


def test_find_matches_the_exact_name_not_names_differing_in_case(
    target: tuple[str, str],
) -> None:
    runner = BatchJobRunner()
    sent = request(target)
    other = request(target, job_name=sent.job_name.upper())
    mine, theirs = runner.submit(sent), runner.submit(other)

    found = runner.find(sent.job_name)

    assert [c.backend_job_id for c in found] == [mine]
    assert theirs not in {c.backend_job_id for c in found}


def test_describe_reads_the_attempts_and_tags_of_a_finished_job(target: tuple[str, str]) -> None:
    runner = BatchJobRunner()
    sent = request(target)
    backend_id = runner.submit(sent)

    [change] = runner.describe([backend_id])

    assert (change.tenant, change.job_id, change.status) == (
        "acme",
        sent.job_id,
        JobStatus.SUCCEEDED,
    )
    assert change.attempt == 1
    assert [a.attempt for a in change.attempts] == [1]
    assert change.attempts[0].log_stream is not None


def test_describe_asks_for_at_most_a_hundred_ids_per_call(target: tuple[str, str]) -> None:
    client = overlord_client("batch")
    asked: list[int] = []
    client.meta.events.register(
        "provide-client-params.batch.DescribeJobs",
        lambda params, **_: asked.append(len(params["jobs"])),
    )
    runner = BatchJobRunner(client)
    known = [runner.submit(request(target)) for _ in range(3)]
    unknown = [str(uuid.uuid4()) for _ in range(230)]

    changes = runner.describe(unknown + known)

    assert asked == [100, 100, 33]
    assert {c.backend_job_id for c in changes} == set(known)


def test_a_job_without_overlord_tags_is_left_out(target: tuple[str, str], batch: Any) -> None:
    foreign = batch.submit_job(jobName="not-ours", jobQueue=target[0], jobDefinition=target[1])

    assert BatchJobRunner().describe([foreign["jobId"]]) == []


# submitting exactly once


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the retry decisions, without their seconds of sleeping."""
    monkeypatch.setattr("overlord.adapters.aws.batch_submission.backoff", lambda attempt: None)


def single_attempt_client() -> Any:
    return overlord_client("batch", retries=0)


def jobs_named(batch: Any, target: tuple[str, str], name: str) -> list[str]:
    listed = batch.list_jobs(jobQueue=target[0], filters=[{"name": "JOB_NAME", "values": [name]}])
    return [job["jobId"] for job in listed["jobSummaryList"]]


@pytest.mark.usefixtures("no_backoff")
def test_throttling_that_outlasts_the_retries_fails_the_submit_as_throttled(
    target: tuple[str, str], batch: Any
) -> None:
    client = single_attempt_client()
    sent = throttle_first(client, MAX_RETRIES + 1)
    submitted = request(target)

    with pytest.raises(Throttled):
        BatchJobRunner(submit_client=client).submit(submitted)

    assert sent() == MAX_RETRIES + 1
    assert jobs_named(batch, target, submitted.job_name) == []


FAULTS: dict[str, tuple[Callable[[Any], Callable[[], int]], int]] = {
    # fault installed on the SubmitJob client, and the requests it takes to make the job
    "throttled-3-times": (lambda client: throttle_first(client, 3), 4),
    "never-connected-2-times": (lambda client: refuse_connections_first(client, 2), 3),
    "answer-lost-after-batch-made-it": (
        lambda client: time_out_first(client, 1, delivered=True),
        1,
    ),
}


@pytest.mark.usefixtures("no_backoff")
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_submit_resends_only_what_batch_did_not_act_on_and_makes_one_job(
    target: tuple[str, str], batch: Any, fault: str
) -> None:
    install, requests = FAULTS[fault]
    client = single_attempt_client()
    sent = install(client)
    submitted = request(target)

    backend_id = BatchJobRunner(submit_client=client).submit(submitted)

    assert sent() == requests
    assert jobs_named(batch, target, submitted.job_name) == [backend_id]


def test_an_answer_lost_before_batch_lists_the_job_is_an_unknown_outcome_not_a_resend(
    target: tuple[str, str], batch: Any
) -> None:
    client = single_attempt_client()
    sent = time_out_first(client, 1, delivered=False)
    submitted = request(target)

    with pytest.raises(OutcomeUnknown, match="lists no job by that name"):
        BatchJobRunner(submit_client=client).submit(submitted)

    assert sent() == 1
    assert jobs_named(batch, target, submitted.job_name) == []


def test_a_server_error_after_the_job_was_made_is_settled_by_name_over_http(
    target: tuple[str, str], batch: Any, lost_answers: LostAnswers
) -> None:
    """The runner as the container builds it: its SubmitJob client must not resend a 5xx."""
    lost_answers.lose(SUBMIT_PATH)
    submitted = request(target)

    backend_id = BatchJobRunner().submit(submitted)

    assert lost_answers.lost == {SUBMIT_PATH: 1}
    assert jobs_named(batch, target, submitted.job_name) == [backend_id]


def test_a_refused_submit_is_not_resent(target: tuple[str, str], batch: Any) -> None:
    client = single_attempt_client()
    calls = recorded_calls(client)
    submitted = request(target, queue=f"no-such-queue-{uuid.uuid4().hex[:8]}")

    with pytest.raises(OverlordError) as refused:
        BatchJobRunner(submit_client=client).submit(submitted)

    assert not isinstance(refused.value, BackendError)
    assert calls == [("SubmitJob", None)]
