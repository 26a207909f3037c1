"""API Gateway proxy events as API Gateway sends them, and a small client over a handler.

`rest_event` builds a REST API (payload 1.0) event behind a ``/{proxy+}`` resource on stage
``prod``; `http_event` an HTTP API (payload 2.0) event on the ``$default`` stage. Both carry the
fields AWS fills in (request context, identity, multi-value maps), recorded from real events, so
that the handler is fed what it will meet in production.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from attrs import frozen

REST, HTTP = "rest", "http"
Handler = Callable[[Any, Any], dict[str, Any]]


def rest_authorizer(tenant: str, *, jwt: bool = False) -> dict[str, Any]:
    if jwt:  # a Cognito user pool authorizer
        return {"claims": {"sub": "0d4f8a9e", "custom:tenant": tenant, "token_use": "id"}}
    return {"principalId": "client-1", "tenant": tenant, "integrationLatency": 12}


def http_authorizer(tenant: str, *, jwt: bool = False) -> dict[str, Any]:
    if jwt:
        return {"jwt": {"claims": {"sub": "0d4f8a9e", "custom:tenant": tenant}, "scopes": None}}
    return {"lambda": {"tenant": tenant}}


def rest_event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    authorizer: object = None,
) -> dict[str, Any]:
    sent = {"Host": "abcdef1234.execute-api.eu-west-1.amazonaws.com", **(headers or {})}
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "abcdef1234",
        "domainName": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
        "httpMethod": method,
        "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
        "path": f"/prod{path}",
        "protocol": "HTTP/1.1",
        "requestId": str(uuid.uuid4()),
        "requestTimeEpoch": 1767606600000,
        "resourceId": "x1y2z3",
        "resourcePath": "/{proxy+}",
        "stage": "prod",
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": sent,
        "multiValueHeaders": {name: [value] for name, value in sent.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": (
            {name: [value] for name, value in query.items()} if query else None
        ),
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": False,
    }


def http_event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    authorizer: object = None,
) -> dict[str, Any]:
    sent = {
        "host": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
        "user-agent": "curl/8.5.0",
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "abcdef1234",
        "domainName": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
        "domainPrefix": "abcdef1234",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "curl/8.5.0",
        },
        "requestId": "Ab1Cd2Ef3Gh4=",
        "routeKey": "$default",
        "stage": "$default",
        "time": "05/Jan/2026:09:30:00 +0000",
        "timeEpoch": 1767606600000,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": sent,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if body is not None:
        event["body"] = body
    return event


@frozen
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def error_code(self) -> str:
        code: str = self.body["error"]["code"]
        return code


def answer(response: Mapping[str, Any]) -> Answer:
    """The status, decoded JSON body and headers of a proxy response of either version."""
    headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(values)
    body = response.get("body")
    assert response.get("isBase64Encoded") is False
    assert headers["content-type"] == "application/json"
    return Answer(int(response["statusCode"]), json.loads(body) if body else None, headers)


class Gateway:
    """Sends requests to a handler as one API Gateway flavour would, with an optional
    authorizer result naming a tenant."""

    def __init__(self, handler: Handler, flavour: str, *, jwt: bool = False) -> None:
        self.handler = handler
        self.flavour = flavour
        self.jwt = jwt

    def event(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        tenant = options.pop("as_tenant", None)
        if tenant is not None:
            build = rest_authorizer if self.flavour == REST else http_authorizer
            options["authorizer"] = build(tenant, jwt=self.jwt)
        build_event = rest_event if self.flavour == REST else http_event
        return build_event(method, path, **options)

    def request(self, method: str, path: str, **options: Any) -> Answer:
        payload = options.pop("json", None)
        if payload is not None:
            options["body"] = json.dumps(payload)
        return answer(self.handler(self.event(method, path, **options), None))

    def get(self, path: str, **options: Any) -> Answer:
        return self.request("GET", path, **options)

    def put(self, path: str, **options: Any) -> Answer:
        return self.request("PUT", path, **options)

    def post(self, path: str, **options: Any) -> Answer:
        return self.request("POST", path, **options)

    def delete(self, path: str, **options: Any) -> Answer:
        return self.request("DELETE", path, **options)


def segment(name: str) -> str:
    """A path segment as a client encodes it."""
    return quote(name, safe="")
