"""Watching and faking a boto3 client's traffic through botocore's event system.

Some behaviour cannot be observed in moto's state: the order of calls when moto has no state
transitions to enforce it; throttling, which moto never does; and timeouts. Registering
handlers on one client's events records its calls, or answers them with errors, without
touching the server.
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


def time_out_first(client: Any, count: int, *, delivered: bool) -> Callable[[], int]:
    """Time out reading the answer to the client's first ``count`` requests: after really
    sending each one (``delivered``), or before it went out. Returns a request counter."""
    from botocore.exceptions import ReadTimeoutError
    from botocore.httpsession import URLLib3Session

    sent = [0]

    def answer(request: Any, **_: Any) -> None:
        sent[0] += 1
        if sent[0] > count:
            return
        if delivered:
            URLLib3Session().send(request)
        raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register("before-send", answer)
    return lambda: sent[0]


def refuse_connections_first(client: Any, count: int) -> Callable[[], int]:
    """Fail to connect for the client's first ``count`` requests (nothing is sent)."""
    from botocore.exceptions import EndpointConnectionError

    sent = [0]

    def answer(request: Any, **_: Any) -> None:
        sent[0] += 1
        if sent[0] <= count:
            raise EndpointConnectionError(endpoint_url=request.url)

    client.meta.events.register("before-send", answer)
    return lambda: sent[0]
