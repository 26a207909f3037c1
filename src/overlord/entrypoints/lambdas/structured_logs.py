"""JSON log lines in Lambda, through Powertools Logger.

Overlord's modules log with the standard library under the ``overlord`` logger and pass what a
line is about (tenant, connector, job id, attempt) as ``extra``. Powertools' Logger for the
service ``overlord`` owns that logger, so every such line comes out as one JSON object with those
keys, which CloudWatch Logs Insights can filter on. Outside Lambda (tests, ``overlord serve``)
nothing is configured and the standard library's defaults apply.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

SERVICE = "overlord"


@functools.cache
def lambda_logger() -> Logger:
    """The Powertools Logger that formats every ``overlord.*`` record; made once."""
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE)


@contextmanager
def invocation(lambda_context: Any) -> Iterator[None]:
    """Stamp the lines logged during one invocation with its request id."""
    request_id = getattr(lambda_context, "aws_request_id", None)
    if not isinstance(request_id, str):
        yield
        return
    with lambda_logger().append_context_keys(request_id=request_id):
        yield
