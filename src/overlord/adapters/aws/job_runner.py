"""AWS Batch behind the JobRunner port, with logs from CloudWatch Logs.

SubmitJob has no idempotency token: the platform's conditional job record is the guard against
duplicate requests, `batch_submission` the guard against resending one whose answer was lost,
and the job name and the ``overlord:*`` tags carry the job id so that ``find`` (and
so ``overlord jobs reconcile``) can match a Batch job to its record after a crash. Batch pushes
state changes to EventBridge, which the ``job_state_change_handler`` Lambda feeds to tracking;
``describe`` and ``find`` are the pull side, read by the same `batch_events` reader. Its clients
are made on first use: every job service holds a runner, and most reads never call Batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from overlord.adapters.aws.batch_calls import boundary, pages
from overlord.adapters.aws.batch_events import (
    job_state_change_from_description,
    log_group_of,
    log_stream_of,
)
from overlord.adapters.aws.batch_submission import submit_once
from overlord.adapters.aws.clients import AwsClients
from overlord.adapters.aws.cloudwatch_logs import BATCH_LOG_GROUP, LogStreamReader
from overlord.domain.errors import InvalidInput, NotFound
from overlord.domain.job_events import JobStateChange, LogLine, SubmitRequest
from overlord.domain.job_protocol import NOT_DONE_EXIT_CODE, PROFILE

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import SubmitJobRequestTypeDef

# DescribeJobs takes at most 100 ids per call.
DESCRIBE_CHUNK = 100
# Batch refuses attempt timeouts under a minute.
MIN_TIMEOUT_SECONDS = 60
MAX_JOB_ATTEMPTS = 10


def submit_job_request(request: SubmitRequest) -> SubmitJobRequestTypeDef:
    """The ``SubmitJob`` arguments for a request (tags propagate to the ECS task too).

    The job is told its profile, so that the job SDK reads a payload stored by reference from
    S3; an attempt that exits "not done yet" is not retried (its schedule tries again later),
    any other failure is, up to the attempts asked for.
    """
    environment = {**dict(request.environment), PROFILE: "aws"}
    submitted: SubmitJobRequestTypeDef = {
        "jobName": request.job_name,
        "jobQueue": request.queue,
        "jobDefinition": request.definition,
        "containerOverrides": {
            "command": list(request.command),
            "environment": [{"name": k, "value": v} for k, v in environment.items()],
        },
        "retryStrategy": {
            "attempts": min(max(request.attempts, 1), MAX_JOB_ATTEMPTS),
            "evaluateOnExit": [{"onExitCode": str(NOT_DONE_EXIT_CODE), "action": "EXIT"}],
        },
        "timeout": {"attemptDurationSeconds": max(request.timeout_seconds, MIN_TIMEOUT_SECONDS)},
        "tags": dict(request.tags),
        "propagateTags": True,
    }
    if request.share_identifier is not None:
        submitted["shareIdentifier"] = request.share_identifier
    return submitted


class BatchJobRunner:
    """Jobs on AWS Batch.

    >>> runner = BatchJobRunner()  # doctest: +SKIP
    >>> runner.submit(request)  # doctest: +SKIP
    '4c1b0a9e-...'
    """

    # Batch refuses SubmitJob requests over 30 KiB; the rest of the request needs the margin.
    inline_payload_bytes = 24 * 1024

    def __init__(
        self,
        client: BatchClient | None = None,
        logs: LogStreamReader | None = None,
        *,
        submit_client: BatchClient | None = None,
        log_group: str = BATCH_LOG_GROUP,
        clients: AwsClients | None = None,
    ) -> None:
        """``submit_client`` sends SubmitJob and must not retry by itself (one attempt); the
        clients not given come from ``clients`` (one session: the service model is loaded
        once for both Batch clients), each on its first call."""
        self._given_client, self._given_submit_client = client, submit_client
        self._given_logs = logs
        self._log_group = log_group
        self._clients = clients or AwsClients()

    @cached_property
    def _client(self) -> BatchClient:
        given = self._given_client
        built: BatchClient = self._clients.client("batch") if given is None else given
        return built

    @cached_property
    def _submit_client(self) -> BatchClient:
        given = self._given_submit_client
        built: BatchClient = self._clients.client("batch", retries=0) if given is None else given
        return built

    @cached_property
    def _logs(self) -> LogStreamReader:
        given = self._given_logs
        return LogStreamReader(clients=self._clients) if given is None else given

    def submit(self, request: SubmitRequest) -> str:
        return submit_once(self._submit_client, submit_job_request(request), request, self.find)

    def describe(self, backend_job_ids: Sequence[str]) -> list[JobStateChange]:
        changes = []
        for job in self._descriptions(backend_job_ids):
            try:
                changes.append(job_state_change_from_description(job))
            except InvalidInput:
                continue  # not an Overlord job: nothing tracking could use
        return changes

    def find(self, job_name: str) -> list[JobStateChange]:
        ids: list[str] = []
        with boundary(f"finding Batch jobs named {job_name!r}"):
            for queue in pages(self._client.describe_job_queues, "jobQueues"):
                listed = pages(
                    self._client.list_jobs,
                    "jobSummaryList",
                    jobQueue=queue["jobQueueArn"],
                    filters=[{"name": "JOB_NAME", "values": [job_name]}],
                )
                # The filter ignores case and so may list more than this exact name.
                ids.extend(s["jobId"] for s in listed if s.get("jobName") == job_name)
        return [c for c in self.describe(ids) if c.job_name == job_name]

    def cancel(self, backend_job_id: str, reason: str) -> None:
        """Terminate a job that has not finished (TerminateJob also stops one not yet started).

        A finished job is left alone: Batch would overwrite its status reason.
        """
        found = list(self._descriptions([backend_job_id]))
        if not found or found[0].get("status") in ("SUCCEEDED", "FAILED"):
            return
        try:
            with boundary(f"terminating Batch job {backend_job_id!r}"):
                self._client.terminate_job(jobId=backend_job_id, reason=reason or "cancelled")
        except NotFound:
            return

    def logs(self, backend_job_id: str, attempt: int) -> list[LogLine]:
        found = list(self._descriptions([backend_job_id]))
        if not found:
            return []
        stream = log_stream_of(found[0], attempt)
        if stream is None:
            return []
        return self._logs.read(log_group_of(found[0], self._log_group), stream)

    def _descriptions(self, backend_job_ids: Sequence[str]) -> Iterator[Mapping[str, Any]]:
        unique = list(dict.fromkeys(backend_job_ids))
        for start in range(0, len(unique), DESCRIBE_CHUNK):
            chunk = unique[start : start + DESCRIBE_CHUNK]
            with boundary("describing Batch jobs"):
                answer = self._client.describe_jobs(jobs=chunk)
            yield from answer.get("jobs", [])
