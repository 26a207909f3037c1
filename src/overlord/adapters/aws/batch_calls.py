"""How the Batch adapter talks to Batch: error translation, paging and waiting.

Batch reports nearly every client mistake as one ``ClientException`` whose message says what is
wrong, so the translation into domain errors reads the message (throttling and everything else
falls to the shared rules of ``clients.backend_error``); and Batch changes state
asynchronously, so every ordered step needs a bounded wait. Both live here so the adapter reads
as the sequence of steps AWS requires.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from attrs import frozen

from overlord.adapters.aws.clients import backend_error, error_code
from overlord.domain.errors import (
    BackendError,
    Conflict,
    InvalidInput,
    NotFound,
    OverlordError,
    QuotaExceeded,
)

SETTLING = frozenset({"CREATING", "UPDATING", "DELETING"})


def _kind(code: str, message: str) -> type[OverlordError] | None:
    lowered = message.lower()
    # AWS says ClientException; moto's Batch also answers InvalidParameterValue(Exception).
    if code not in ("ClientException", "InvalidParameterValueException", "InvalidParameterValue"):
        return None
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
        message = exc.response.get("Error", {}).get("Message", str(exc))
        kind = _kind(error_code(exc) or "", message)
        if kind is None:
            raise backend_error(exc, what) from exc
        raise kind(f"{what}: {message}") from exc
    except BotoCoreError as exc:
        raise backend_error(exc, what) from exc


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

    def settle(self, what: str, describe: Callable[[], Any], *, must_be_valid: bool = False) -> Any:
        """Wait until ``describe()`` is None or neither CREATING, UPDATING nor DELETING.

        With ``must_be_valid`` the resource must then exist and be VALID: INVALID raises
        ``BackendError`` carrying Batch's ``statusReason``. Returns the last description.
        """
        seen: list[Any] = [None]

        def ready() -> bool:
            seen[0] = found = describe()
            if found is None:
                return True
            if must_be_valid and found.get("status") == "INVALID":
                raise BackendError(f"{what} is INVALID: {found.get('statusReason', '')}")
            return found.get("status") not in SETTLING

        self.until(what, ready)
        if must_be_valid and seen[0] is None:
            raise NotFound(f"{what} disappeared while waiting for it")
        return seen[0]
