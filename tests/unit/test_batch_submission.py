"""Which SubmitJob failures may be resent: only those Batch surely did not act on."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from overlord.adapters.aws.batch_submission import Failure, classify

URL = "https://batch.us-east-1.amazonaws.com/v1/submitjob"


def answered(status: int, code: str) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "SubmitJob")


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (answered(400, "ClientException"), Failure.REFUSED),
        (answered(403, "AccessDeniedException"), Failure.REFUSED),
        (answered(429, "TooManyRequestsException"), Failure.NOT_SENT),
        (answered(400, "ThrottlingException"), Failure.NOT_SENT),
        (answered(500, "ServerException"), Failure.LOST),
        (answered(503, "ServiceUnavailable"), Failure.LOST),
        (EndpointConnectionError(endpoint_url=URL), Failure.NOT_SENT),
        (ConnectTimeoutError(endpoint_url=URL), Failure.NOT_SENT),
        (ReadTimeoutError(endpoint_url=URL), Failure.LOST),
        (ConnectionClosedError(endpoint_url=URL), Failure.LOST),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_a_failure_is_resent_only_when_batch_cannot_have_acted_on_it(
    failure: Exception, expected: Failure
) -> None:
    assert classify(failure) is expected
