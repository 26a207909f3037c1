"""How the Batch adapter talks to Batch: error translation, paging and waiting.

Batch reports nearly every client mistake as one ``ClientException`` whose message says what is
wrong, so the translation into domain errors reads the message; and Batch changes state
asynchronously, so every ordered step needs a bounded wait. Both live here so the adapter reads
as the sequence of steps AWS requires.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from attrs import frozen

from overlord.domain.errors import (
    BackendError,
    Conflict,
    InvalidInput,
    NotFound,
    OverlordError,
    QuotaExceeded,
    Throttled,
)

_THROTTLING = frozenset({"ThrottlingException", "TooManyRequestsException", "Throttling"})


def _kind(code: str, message: str) -> type[OverlordError]:
    lowered = message.lower()
    if code in _THROTTLING:
        return Throttled
    if code not in ("ClientException", "InvalidParameterValueException"):
        return BackendError
    if "limit" in lowered and "exceed" in lowered:
        return QuotaExceeded
    if "does not exist" in lowered or "not found" in lowered:
        return NotFound
    if "already exists" in lowered or "relationship" in lowered:
        return Conflict
    return InvalidInput


@contextmanager
def boundary(what: str) -> Iterator[None]:
    """Turn botocore errors raised inside into domain errors that name ``what``."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", str(exc))
        raise _kind(code, message)(f"{what}: {message}") from exc
    except BotoCoreError as exc:
        raise BackendError(f"{what}: {exc}") from exc


def name_of(arn: str) -> str:
    """``arn:aws:batch:...:compute-environment/NAME`` -> ``NAME`` (a bare name stays)."""
    return arn.rsplit("/", 1)[-1]


def pages(method: Callable[..., Any], key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item of a Batch ``describe_*``/``list_*`` call, following ``nextToken``."""
    token: str | None = None
    while True:
        page = method(**kwargs, **({"nextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("nextToken")
        if not token:
            return


@frozen
class Waiter:
    """Polls a condition until it holds; ``BackendError`` when the time is up."""

    poll_seconds: float
    timeout_seconds: float

    def until(self, what: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout_seconds
        while not done():
            if time.monotonic() >= deadline:
                raise BackendError(f"{what}: still changing after {self.timeout_seconds:g} seconds")
            time.sleep(self.poll_seconds)
