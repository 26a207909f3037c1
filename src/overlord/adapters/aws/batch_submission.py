"""SubmitJob exactly once, although Batch has no idempotency token and answers can be lost.

botocore's retry modes resend a request whose answer never came (a read timeout, a dropped
connection, a 5xx): right for reads, wrong for SubmitJob, where the first request may already
have made the job and the resend makes a second one with the same name. So SubmitJob goes
through a client that never retries by itself, and this loop resends only what Batch surely
did not act on: throttled requests and requests that never reached it. After an answer is
lost, the job is looked up by its name; if it is not there (yet), the submission's outcome is
unknown, and `overlord jobs reconcile` settles it later rather than risk a duplicate now.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from overlord.adapters.aws.batch_calls import boundary
from overlord.adapters.aws.clients import MAX_RETRIES, THROTTLING_CODES, error_code
from overlord.domain.errors import BackendError, OutcomeUnknown, Throttled
from overlord.domain.job_events import JobStateChange, SubmitRequest

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import SubmitJobRequestTypeDef

# The most a throttled submission waits before its next try, as botocore's standard mode.
MAX_BACKOFF_SECONDS = 20.0


class Failure(enum.Enum):
    REFUSED = "refused"  # Batch answered no: resending the same request gets the same answer
    NOT_SENT = "not sent"  # throttled, or the connection failed before the request went out
    LOST = "lost"  # the request may have reached Batch and the answer did not come back


def classify(exc: BaseException) -> Failure:
    """What a failed SubmitJob call says about whether Batch made the job."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        if error_code(exc) in THROTTLING_CODES:
            return Failure.NOT_SENT
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        return Failure.LOST if status >= 500 else Failure.REFUSED
    if isinstance(exc, ConnectionError):  # no connection: the request never left
        return Failure.NOT_SENT
    if isinstance(exc, HTTPClientError):  # read timeout, connection closed mid-answer
        return Failure.LOST
    return Failure.REFUSED


def backoff(attempt: int) -> None:
    """Full-jitter exponential backoff: up to 0.5 s doubling each attempt, at most 20 s."""
    time.sleep(random.random() * min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt))


def submit_once(
    client: BatchClient,
    arguments: SubmitJobRequestTypeDef,
    request: SubmitRequest,
    find: Callable[[str], list[JobStateChange]],
) -> str:
    """The Batch job id for ``request``, made by at most one SubmitJob that Batch acted on.

    ``client`` must not retry on its own (``retries=0``); ``find`` lists Batch jobs by name."""
    doing = f"submitting Batch job {request.job_name!r}"
    for attempt in range(MAX_RETRIES + 1):
        try:
            return client.submit_job(**arguments)["jobId"]
        except Exception as exc:
            failure = classify(exc)
            if failure is Failure.REFUSED:
                with boundary(doing):
                    raise
            if failure is Failure.LOST:
                return _adopt(request, find, doing, exc)
        if attempt < MAX_RETRIES:
            backoff(attempt)
    raise Throttled(
        f"{doing}: AWS kept throttling (or refusing connections) after {MAX_RETRIES} retries"
    )


def _adopt(
    request: SubmitRequest,
    find: Callable[[str], list[JobStateChange]],
    doing: str,
    lost: BaseException,
) -> str:
    """The job Batch made from a request whose answer was lost, if Batch lists it already."""
    reason = f"{doing}: the answer was lost ({type(lost).__name__}: {lost})"
    try:
        found = find(request.job_name)
    except BackendError as exc:
        raise OutcomeUnknown(f"{reason}, and looking the job up failed: {exc.message}") from lost
    if not found:
        raise OutcomeUnknown(f"{reason}, and Batch lists no job by that name yet") from lost
    return found[0].backend_job_id
