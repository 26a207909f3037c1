"""An API Gateway proxy event (REST v1 or HTTP v2) checked and read into one `ApiRequest`.

Powertools' event classes trust the event's shape and fail with a KeyError or TypeError on a
malformed one; API Gateway never sends such events, but a test harness, a misconfigured
integration or a hostile direct invoke can. So the shape is checked here first and anything
unreadable is a 400 before any route runs. Routes read the request through `ApiRequest` rather
than through Powertools, which keeps them the same for both event versions.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from overlord.domain.errors import Forbidden, PayloadTooLarge
from overlord.entrypoints.api.auth import authorized_connector, authorized_tenant
from overlord.entrypoints.api.errors import MalformedRequest
from overlord.entrypoints.json_input import idempotency_key, json_object

HTTP_V2 = "2.0"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def is_http_api(event: Mapping[str, Any]) -> bool:
    """HTTP API payload format 2.0; every other proxy event is read as REST v1."""
    return event.get("version") == HTTP_V2


def _string_map(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise MalformedRequest(f"{what} must map strings to strings")
    return dict(value)


def _list_map(value: object, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(i, str) for i in v)
        for k, v in value.items()
    ):
        raise MalformedRequest(f"{what} must map strings to lists of strings")


def _mapping(event: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = event.get(key)
    if not isinstance(value, Mapping):
        raise MalformedRequest(f"the event has no {key} object")
    return value


def _string(container: Mapping[str, Any], key: str, what: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedRequest(f"the event has no {what}")
    return value


@frozen(kw_only=True)
class ApiRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: str | None
    base64_encoded: bool
    tenant_claim: str | None  # the tenant an authorizer restricts this caller to
    connector_claim: str | None = None  # the connector an authorizer names, if any

    @classmethod
    def from_event(cls, event: object) -> ApiRequest:
        """Check the parts of ``event`` that routing and the routes use; MalformedRequest if
        one is missing or of the wrong type, Forbidden if the authorizer context is unusable."""
        if not isinstance(event, Mapping):
            raise MalformedRequest("the event is not a JSON object")
        context = _mapping(event, "requestContext")
        if is_http_api(event):
            http = _mapping(context, "http")
            method = _string(http, "method", "requestContext.http.method")
            path = _string(event, "rawPath", "rawPath")
            # Powertools reads the stage to find the path below it ("$default": none).
            _string(context, "stage", "requestContext.stage")
        else:
            method = _string(event, "httpMethod", "httpMethod")
            path = _string(event, "path", "path")
            _list_map(event.get("multiValueHeaders"), "multiValueHeaders")
            _list_map(event.get("multiValueQueryStringParameters"), "multiValueQueryString")
        if any(c < " " or c == "\x7f" for c in path):
            # No HTTP request line holds one, and a trailing newline would otherwise pass the
            # router's ``$`` anchor: ``/x/weather\n`` must not be served as ``/x/weather``.
            raise MalformedRequest("the path holds control characters")
        headers = _string_map(event.get("headers"), "headers")
        query = _string_map(event.get("queryStringParameters"), "queryStringParameters")
        body = event.get("body")
        if body is not None and not isinstance(body, str):
            raise MalformedRequest("the body must be a string or null")
        encoded = event.get("isBase64Encoded", False)
        if not isinstance(encoded, bool):
            raise MalformedRequest("isBase64Encoded must be a boolean")
        try:
            claim = authorized_tenant(context)
            connector_claim = authorized_connector(context)
        except ValueError as exc:
            raise Forbidden(str(exc)) from None
        return cls(
            method=method.upper(),
            path=path,
            headers={name.lower(): value for name, value in headers.items()},
            query=query,
            body=body,
            base64_encoded=encoded,
            tenant_claim=claim,
            connector_claim=connector_claim,
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def body_bytes(self, limit: int) -> bytes:
        """The body as sent, refused (413) when over ``limit`` bytes, checked before decoding."""
        if not self.body:
            return b""
        if self.base64_encoded:
            if len(self.body) > (limit + 2) // 3 * 4:
                raise _too_large(limit)
            try:
                raw = base64.b64decode(self.body, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedRequest("the body is not valid base64") from None
        else:
            # surrogatepass: only measuring; a lone surrogate is refused when parsed.
            raw = self.body.encode("utf-8", "surrogatepass")
        if len(raw) > limit:
            raise _too_large(limit)
        return raw

    def json_object(self, limit: int) -> dict[str, Any]:
        """The body as a JSON object (`overlord.entrypoints.json_input`); empty is ``{}``."""
        raw = self.body_bytes(limit)
        return json_object(raw, "the body") if raw else {}

    def idempotency_key(self) -> str | None:
        return idempotency_key(self.header("idempotency-key"), "the Idempotency-Key header")


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is over {limit} bytes, the limit (OVERLORD_MAX_PAYLOAD_BYTES)"
    )
