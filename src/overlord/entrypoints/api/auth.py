"""Which tenant an API Gateway authorizer restricts the caller to.

API Gateway puts what an authorizer decided into ``requestContext.authorizer``, where a client
cannot write. A Lambda authorizer names the tenant under the context key ``tenant`` (REST:
``authorizer.tenant``; HTTP API: ``authorizer.lambda.tenant``); a JWT or Cognito authorizer
carries it as the claim ``custom:tenant`` (REST: ``authorizer.claims``; HTTP API:
``authorizer.jwt.claims``). No tenant named means no restriction (IAM or no authorizer).
Anything ambiguous fails closed: two different tenants, or a tenant that is not a non-empty
string, refuses every path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from overlord.domain.errors import Forbidden

TENANT_KEY = "tenant"
TENANT_CLAIM = "custom:tenant"
# ``POST /stateMachineInit`` has no tenant or connector in its path: an authorizer may name the
# connector the same way it names the tenant.
CONNECTOR_KEY = "connector"
CONNECTOR_CLAIM = "custom:connector"


def _at(root: object, *keys: str) -> object:
    value = root
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def authorized_tenant(request_context: Mapping[str, Any]) -> str | None:
    """The tenant named by the authorizer, or None; ValueError when it cannot be trusted.

    Every place either flavour uses is read whatever the event's version, so an event of an
    unexpected shape can only restrict more, never less.
    """
    return _authorized(request_context, TENANT_KEY, TENANT_CLAIM, "tenant")


def authorized_connector(request_context: Mapping[str, Any]) -> str | None:
    """The connector named by the authorizer, read as the tenant is; None if none is named."""
    return _authorized(request_context, CONNECTOR_KEY, CONNECTOR_CLAIM, "connector")


def _authorized(request_context: Mapping[str, Any], key: str, claim: str, what: str) -> str | None:
    authorizer = request_context.get("authorizer")
    if authorizer is None:
        return None
    found = (
        _at(authorizer, key),
        _at(authorizer, "claims", claim),
        _at(authorizer, "lambda", key),
        _at(authorizer, "jwt", "claims", claim),
    )
    named = [value for value in found if value is not None]
    if not named:
        return None
    names = [value for value in named if isinstance(value, str) and value]
    if len(names) != len(named):
        raise ValueError(f"the authorizer's {what} is not a name")
    if len(set(names)) > 1:
        raise ValueError(f"the authorizer names more than one {what}")
    return names[0]


def require_tenant(claim: str | None, tenant: str) -> None:
    """Refuse a path of another tenant than the one the caller is restricted to."""
    if claim is not None and claim != tenant:
        raise Forbidden(f"this caller may only use the paths of tenant {claim!r}")
