"""The one place where a failure becomes an HTTP status and a ``{"error": ...}`` body.

Callers branch on the status and the stable ``code``; people read the message. Bad input of any
kind is a 4xx: a 5xx means a backend failed (502, 503), the deployment is misconfigured (500
``configuration``, logged at error level with the setting to fix, for the operator) or Overlord
has a bug (500), and only a bug is logged with its traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus

from attrs import field, frozen

from overlord.domain.errors import (
    BackendError,
    ConfigurationError,
    Conflict,
    Contended,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    OverlordError,
    PayloadTooLarge,
    Throttled,
)

__all__ = ["MalformedRequest"]  # raised by the event checks, defined with the other errors

JSON = "application/json"

# Most specific first: PayloadTooLarge is an InvalidInput, Throttled a BackendError.
_STATUSES: tuple[tuple[type[OverlordError], HTTPStatus], ...] = (
    (PayloadTooLarge, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    (InvalidInput, HTTPStatus.BAD_REQUEST),
    (NotFound, HTTPStatus.NOT_FOUND),
    (Forbidden, HTTPStatus.FORBIDDEN),
    (Conflict, HTTPStatus.CONFLICT),
    # A throttled backend is our capacity, not the caller's request rate: retry later.
    (Throttled, HTTPStatus.SERVICE_UNAVAILABLE),
    (Contended, HTTPStatus.SERVICE_UNAVAILABLE),
    (BackendError, HTTPStatus.BAD_GATEWAY),
    # The operator's fault, not the caller's: nothing the caller sends can fix it.
    (ConfigurationError, HTTPStatus.INTERNAL_SERVER_ERROR),
)
RETRY_AFTER_SECONDS = "1"

_log = logging.getLogger(__name__)


class MethodNotAllowed(OverlordError):
    code = "method_not_allowed"

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


@frozen
class Reply:
    """A response before it is shaped for API Gateway: status, JSON body, extra headers."""

    status: int
    body: object
    headers: Mapping[str, str] = field(factory=dict)

    def text(self) -> str:
        # ASCII escapes: a lone surrogate from a hostile name cannot break the encoding;
        # default=str: a TOML template in a configuration document may hold dates.
        return json.dumps(self.body, ensure_ascii=True, separators=(",", ":"), default=str)


def error_reply(status: int, code: str, message: str, **headers: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}}, headers)


def status_for(exc: OverlordError) -> int:
    if isinstance(exc, MethodNotAllowed):
        return HTTPStatus.METHOD_NOT_ALLOWED
    for kind, status in _STATUSES:
        if isinstance(exc, kind):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def reply_for(exc: OverlordError) -> Reply:
    headers: dict[str, str] = {}
    if isinstance(exc, MethodNotAllowed):
        headers["Allow"] = ", ".join(exc.allowed)
    if isinstance(exc, Throttled | Contended):
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    return error_reply(status_for(exc), exc.code, exc.message, **headers)


def log_refusal(exc: OverlordError, reply: Reply) -> None:
    """Log a domain error the API answered: a misconfiguration as an error naming the setting
    (the operator must act), other 5xx as warnings, refused requests as information."""
    if isinstance(exc, ConfigurationError):
        _log.error(
            "misconfigured: %s",
            exc.message,
            extra={"code": exc.code, "setting": exc.setting},
        )
        return
    level = logging.WARNING if reply.status >= 500 else logging.INFO
    _log.log(level, "refused: %s", exc.message, extra={"code": exc.code})


def internal_error_reply() -> Reply:
    """What a bug looks like from outside: no exception text, which may hold internals."""
    return error_reply(
        HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "internal error: see the logs"
    )


def route_not_found_reply(method: str, path: str) -> Reply:
    shown = path if len(path) <= 80 else path[:80] + "…"
    return error_reply(HTTPStatus.NOT_FOUND, "route_not_found", f"no route {method} {shown!r}")
