"""`HttpApi`: the route table on Powertools' REST (v1) and HTTP API (v2) resolvers, one way in.

Powertools keeps the event being resolved in a class attribute shared by every resolver, so two
requests resolved at once in one process would read each other's event. `HttpApi.handle`
therefore resolves one request at a time: a Lambda environment runs one invocation at a time
anyway, and ``overlord serve`` is a development server. Errors become responses in
`overlord.entrypoints.api.errors` only: domain errors by their code, anything else as a 500
whose traceback goes to the log and never to the caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from overlord.domain.errors import OverlordError
from overlord.entrypoints.api.auth import require_tenant
from overlord.entrypoints.api.batch_routes import BATCH_ROUTES
from overlord.entrypoints.api.context import ApiCall, ApiContext
from overlord.entrypoints.api.dataset_routes import DATASET_ROUTES
from overlord.entrypoints.api.errors import (
    JSON,
    MethodNotAllowed,
    Reply,
    internal_error_reply,
    log_refusal,
    reply_for,
    route_not_found_reply,
)
from overlord.entrypoints.api.partition_routes import PARTITION_ROUTES
from overlord.entrypoints.api.requests import METHODS, ApiRequest, is_http_api
from overlord.entrypoints.api.routes import ROUTES as _ROUTES
from overlord.entrypoints.api.routes import Route

ROUTES = _ROUTES + BATCH_ROUTES + DATASET_ROUTES + PARTITION_ROUTES

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    from overlord.container import Container

_log = logging.getLogger(__name__)


def plain_response(reply: Reply) -> dict[str, Any]:
    """A proxy response both API Gateway flavours accept, for when there is no usable event
    for Powertools to shape one from."""
    return {
        "statusCode": int(reply.status),
        "headers": {"Content-Type": JSON, **reply.headers},
        "body": reply.text(),
        "isBase64Encoded": False,
    }


class HttpApi:
    """The API over one container.

    >>> from overlord.testing import memory_container
    >>> api = HttpApi(memory_container())
    >>> event = {"version": "2.0", "rawPath": "/tenants/acme/jobs",
    ...          "requestContext": {"http": {"method": "GET"}, "stage": "$default"}}
    >>> api.handle(event)["statusCode"]
    404
    """

    def __init__(self, container: Container) -> None:
        self._context = ApiContext(container)
        self._lock = threading.Lock()
        self._resolvers: dict[bool, ApiGatewayResolver] = {}
        self._request: ApiRequest | None = None

    def handle(self, event: object, lambda_context: Any = None) -> dict[str, Any]:
        """Answer one API Gateway proxy event (v1 or v2) with a proxy response."""
        with self._lock:
            try:
                request = ApiRequest.from_event(event)
                if request.method not in METHODS:
                    raise MethodNotAllowed(
                        f"method {request.method[:20]!r} is not supported",
                        tuple(sorted({route.method for route in ROUTES})),
                    )
            except OverlordError as exc:
                return plain_response(reply_for(exc))
            proxy_event = cast("Mapping[str, Any]", event)  # from_event refused anything else
            self._request = request
            try:
                response: dict[str, Any] = self._resolver(is_http_api(proxy_event)).resolve(
                    proxy_event, lambda_context
                )
                return response
            except Exception:
                _log.exception("request failed outside any route")
                return plain_response(internal_error_reply())
            finally:
                self._request = None

    def _resolver(self, http_api: bool) -> ApiGatewayResolver:
        if http_api not in self._resolvers:
            from aws_lambda_powertools.event_handler import (
                APIGatewayHttpResolver,
                APIGatewayRestResolver,
            )

            resolver = APIGatewayHttpResolver() if http_api else APIGatewayRestResolver()
            self._register(resolver)
            self._resolvers[http_api] = resolver
        return self._resolvers[http_api]

    def _register(self, resolver: ApiGatewayResolver) -> None:
        allowed: dict[str, list[str]] = {}
        for route in ROUTES:
            resolver.route(route.rule, method=route.method)(self._bind(route))
            allowed.setdefault(route.rule, []).append(route.method)
        for rule, methods in allowed.items():
            others = [m for m in METHODS if m not in methods]
            resolver.route(rule, method=others)(_refuse_method(tuple(methods)))
        resolver.exception_handler(OverlordError)(self._domain_error)
        resolver.exception_handler(Exception)(self._bug)
        resolver.not_found(self._no_route)

    def _bind(self, route: Route) -> Callable[..., Response[str]]:
        def call(**parameters: str) -> Response[str]:
            request = self._current()
            values = {name: unquote(value) for name, value in parameters.items()}
            if route.tenant_parameter is not None:  # else the route takes it from the claim
                require_tenant(request.tenant_claim, values[route.tenant_parameter])
            _log.info("%s %s", route.method, route.rule, extra=_log_keys(route, values))
            return _response(route.handler(ApiCall(request, self._context), **values))

        return call

    def _current(self) -> ApiRequest:
        if self._request is None:
            raise RuntimeError("a route ran outside HttpApi.handle")
        return self._request

    def _domain_error(self, exc: OverlordError) -> Response[str]:
        reply = reply_for(exc)
        log_refusal(exc, reply)
        return _response(reply)

    def _bug(self, exc: Exception) -> Response[str]:
        _log.error("request failed", exc_info=exc)
        return _response(internal_error_reply())

    def _no_route(self, _: Exception) -> Response[str]:
        request = self._current()
        return _response(route_not_found_reply(request.method, request.path))


def _log_keys(route: Route, values: Mapping[str, str]) -> dict[str, str]:
    keys = {} if route.tenant_parameter is None else {"tenant": values[route.tenant_parameter]}
    for name in ("connector", "job_id", "job_type", "batch_id", "dataset", "run_id"):
        if name in values:
            keys[name] = values[name]
    return keys


def _refuse_method(allowed: tuple[str, ...]) -> Callable[..., Response[str]]:
    def refuse(**_: str) -> Response[str]:
        raise MethodNotAllowed(f"this path only accepts {', '.join(allowed)}", allowed)

    return refuse


def _response(reply: Reply) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    return Response(
        status_code=int(reply.status),
        content_type=JSON,
        body=reply.text(),
        headers=dict(reply.headers),
    )
