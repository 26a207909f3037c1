"""Watching and faking a boto3 client's traffic through botocore's event system.

Some behaviour cannot be observed in moto's state: the order of calls when moto has no state
transitions to enforce it, and throttling, which moto never does. Registering handlers on one
client's events records its calls, or answers them with errors, without touching the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders


def recorded_calls(client: Any) -> list[tuple[str, str | None]]:
    """(operation, ``state`` argument) of every call the client makes from now on."""
    calls: list[tuple[str, str | None]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params.get("state")))

    client.meta.events.register("provide-client-params", record)
    return calls


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self) -> Iterator[bytes]:
        yield self._data


def throttle_first(client: Any, count: int) -> Callable[[], int]:
    """Answer the client's first ``count`` requests with HTTP 429, alternating the two codes
    AWS uses (``ThrottlingException``, ``TooManyRequestsException``); returns a request counter.
    """
    codes = ("ThrottlingException", "TooManyRequestsException")
    sent = [0]

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        sent[0] += 1
        if sent[0] > count:
            return None
        code = codes[sent[0] % 2]
        headers = HTTPHeaders()
        headers["x-amzn-ErrorType"] = code
        headers["Content-Type"] = "application/json"
        body = json.dumps({"__type": code, "message": "Rate exceeded"}).encode()
        return AWSResponse(request.url, 429, headers, _Body(body))

    client.meta.events.register("before-send", answer)
    return lambda: sent[0]
