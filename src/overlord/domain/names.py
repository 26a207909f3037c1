"""Validated names and every resource name derived from them.

Names are checked once, here, so that a name that passed can never produce an invalid or
escaping S3 bucket, MongoDB database, DynamoDB table, Batch resource or EventBridge schedule. The
length limits are chosen so the longest derived name (the bucket) still fits S3's 63 characters.
"""

from __future__ import annotations

import re

from attrs import field, frozen

from overlord.domain.errors import InvalidName

_SLUG = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$")


def _check_slug(kind: str, value: object, low: int, high: int) -> str:
    if not isinstance(value, str):
        raise InvalidName(f"{kind} name must be a string, got {type(value).__name__}")
    shown = value if len(value) <= 40 else value[:40] + "…"
    if not low <= len(value) <= high or not _SLUG.fullmatch(value):
        raise InvalidName(
            f"invalid {kind} name {shown!r}: use {low}-{high} lowercase letters, digits and "
            "single hyphens, starting with a letter and ending with a letter or digit"
        )
    return value


def _tenant(_: object, __: object, value: str) -> None:
    _check_slug("tenant", value, 3, 32)


def _connector(_: object, __: object, value: str) -> None:
    _check_slug("connector", value, 3, 18)
    if value.endswith("s3alias"):
        raise InvalidName(f"invalid connector name {value!r}: S3 reserves the suffix 's3alias'")


def _namespace(_: object, __: object, value: str) -> None:
    _check_slug("namespace", value, 2, 10)
    if value.startswith(("xn", "sthree", "amzn")):
        raise InvalidName(f"invalid namespace {value!r}: S3 reserves names starting with it")


def _local_name(_: object, attribute: object, value: str) -> None:
    _check_slug("resource", value, 2, 32)


@frozen
class TenantName:
    """A tenant's slug: 3-32 characters, so every derived name stays valid."""

    value: str = field(validator=_tenant)

    def __str__(self) -> str:
        return self.value


@frozen
class ConnectorName:
    value: str = field(validator=_connector)

    def __str__(self) -> str:
        return self.value


@frozen
class Namespace:
    """Prefix of every global name (S3 buckets are unique across all of AWS)."""

    value: str = field(default="overlord", validator=_namespace)

    def __str__(self) -> str:
        return self.value


@frozen
class LocalName:
    """A name inside a connector: a collection, a schedule, a job type, a pool."""

    value: str = field(validator=_local_name)

    def __str__(self) -> str:
        return self.value


def slug(kind: str, value: object, low: int = 2, high: int = 32) -> str:
    """Validate ``value`` as a slug of a given kind, for names that need no distinct type."""
    return _check_slug(kind, value, low, high)


@frozen
class ResourceNames:
    """Every name derived for one tenant's connector.

    >>> names = ResourceNames(Namespace(), TenantName("acme"), ConnectorName("weather"))
    >>> names.bucket
    'overlord-acme-weather'
    """

    namespace: Namespace
    tenant: TenantName
    connector: ConnectorName

    @property
    def database(self) -> str:
        return tenant_database(self.namespace, self.tenant)

    @property
    def bucket(self) -> str:
        return f"{self.namespace}-{self.tenant}-{self.connector}"

    @property
    def dedicated(self) -> str:
        """Name shared by a dedicated compute environment, job queue and job definition."""
        return f"{self.namespace}-{self.tenant}-{self.connector}"

    def pool(self, pool: str) -> str:
        return f"{self.namespace}-pool-{slug('pool', pool)}"

    @property
    def job_definition(self) -> str:
        return f"{self.namespace}-{self.tenant}-{self.connector}"

    @property
    def share_identifier(self) -> str:
        """Fair-share identifiers allow letters, digits and underscores only."""
        return self.tenant.value.replace("-", "_")

    def collection(self, name: str) -> str:
        return f"{self.connector}_{slug('collection', name)}"

    @property
    def schedule_group(self) -> str:
        return schedule_group(self.namespace, self.tenant)

    def schedule(self, name: str) -> str:
        return f"{self.connector}-{slug('schedule', name)}"


def tenant_database(namespace: Namespace, tenant: TenantName) -> str:
    return f"{namespace}-{tenant}"


def schedule_group(namespace: Namespace, tenant: TenantName) -> str:
    return f"{namespace}-{tenant}"


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def validate_object_key(key: object) -> str:
    """Refuse keys that could escape their bucket folder or mean different things per backend."""
    if not isinstance(key, str) or not key:
        raise InvalidName("object key must be a non-empty string")
    if len(key.encode("utf-8")) > 1024:
        raise InvalidName("object key is longer than 1024 bytes")
    parts = key.split("/")
    if (
        key.startswith("/")
        or "\\" in key
        or any(part in ("", ".", "..") for part in parts)
        or _CONTROL.search(key) is not None
    ):
        raise InvalidName(f"invalid object key {key[:60]!r}: no empty, '.' or '..' segments")
    return key
