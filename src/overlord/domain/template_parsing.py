"""Build a `ConnectorTemplate` from plain data (TOML or JSON), saying exactly what is wrong.

Errors name the path of the offending value (``compute.job_definition.memory_mib: expected an
integer >= 128``) so that `overlord connectors add` can tell a user which line to fix. The inverse,
`template_to_mapping`, lets the catalog store templates as documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

from overlord.domain.connectors import (
    CollectionSpec,
    ComputeSpec,
    ComputeType,
    ConnectorTemplate,
    FollowUp,
    FollowUpAction,
    IndexSpec,
    JobDefinitionSpec,
    JobTypeSpec,
    Placement,
    ScheduleSpec,
    StorageSpec,
    StuckPolicy,
)
from overlord.domain.errors import InvalidName, InvalidTemplate
from overlord.domain.expressions import validate_schedule_expression, validate_timezone
from overlord.domain.names import ConnectorName, slug

E = TypeVar("E")


class _Reader:
    """Typed access to one mapping, remembering its path for messages."""

    def __init__(self, data: object, path: str, known: set[str]) -> None:
        if not isinstance(data, Mapping):
            raise InvalidTemplate(f"{path or 'template'}: expected a table/object")
        unknown = sorted(set(map(str, data)) - known)
        if unknown:
            raise InvalidTemplate(f"{self._at(path, unknown[0])}: unknown field")
        self.data = data
        self.path = path

    @staticmethod
    def _at(path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def at(self, key: str) -> str:
        return self._at(self.path, key)

    def has(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or (value == "" and default is None):
            raise InvalidTemplate(f"{self.at(key)}: expected a non-empty string")
        return value

    def integer(self, key: str, default: int | None = None, low: int = 0, high: int = 2**31) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidTemplate(f"{self.at(key)}: expected an integer from {low} to {high}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidTemplate(f"{self.at(key)}: expected a number")
        # The range check comes first: math.isfinite overflows on an integer too big for a float.
        if not low <= value <= high or not math.isfinite(value):
            raise InvalidTemplate(f"{self.at(key)}: expected a number from {low} to {high}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise InvalidTemplate(f"{self.at(key)}: expected true or false")
        return value

    def texts(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        value = self.data.get(key, [] if not required else None)
        if (
            not isinstance(value, list)
            or (required and not value)
            or not all(isinstance(v, str) and v for v in value)
        ):
            raise InvalidTemplate(f"{self.at(key)}: expected a list of non-empty strings")
        return tuple(value)

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise InvalidTemplate(f"{self.at(key)}: expected a list")
        return value

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise InvalidTemplate(f"{self.at(key)}: expected a table/object")
        return value

    def choice(self, key: str, enum: type[E], default: E) -> E:
        value = self.data.get(key, default)
        try:
            return enum(value)  # type: ignore[call-arg]
        except ValueError:
            options = ", ".join(str(m.value) for m in enum)  # type: ignore[attr-defined]
            raise InvalidTemplate(f"{self.at(key)}: expected one of {options}") from None

    def slug(self, key: str, kind: str) -> str:
        try:
            return slug(kind, self.data.get(key))
        except InvalidName as exc:
            raise InvalidTemplate(f"{self.at(key)}: {exc.message}") from None


def _index(data: object, path: str) -> IndexSpec:
    r = _Reader(data, path, {"fields", "unique"})
    return IndexSpec(fields=r.texts("fields", required=True), unique=r.flag("unique", False))


def _collection(data: object, path: str) -> CollectionSpec:
    r = _Reader(data, path, {"name", "indexes", "seed"})
    seed = r.items("seed")
    ids: set[str] = set()
    for i, doc in enumerate(seed):
        if not isinstance(doc, Mapping) or not isinstance(doc.get("_id"), str) or not doc["_id"]:
            raise InvalidTemplate(f"{r.at('seed')}[{i}]: a seed document needs a string _id")
        if doc["_id"] in ids:
            raise InvalidTemplate(f"{r.at('seed')}[{i}]: duplicate _id {doc['_id']!r}")
        ids.add(doc["_id"])
    return CollectionSpec(
        name=r.slug("name", "collection"),
        indexes=tuple(
            _index(d, f"{r.at('indexes')}[{i}]") for i, d in enumerate(r.items("indexes"))
        ),
        seed=tuple(dict(d) for d in seed),
    )


def _job_definition(data: object, path: str) -> JobDefinitionSpec:
    r = _Reader(
        data,
        path,
        {
            "image",
            "command",
            "vcpus",
            "memory_mib",
            "timeout_seconds",
            "retry_attempts",
            "environment",
        },
    )
    env = r.mapping("environment")
    for name, value in env.items():
        if not isinstance(value, str):
            raise InvalidTemplate(f"{r.at('environment')}.{name}: expected a string")
    return JobDefinitionSpec(
        image=r.text("image"),
        command=r.texts("command", required=True),
        vcpus=r.number("vcpus", 1.0, 0.25, 256),
        memory_mib=r.integer("memory_mib", 2048, 128, 1_048_576),
        timeout_seconds=r.integer("timeout_seconds", 3600, 60, 1_209_600),
        retry_attempts=r.integer("retry_attempts", 1, 1, 10),
        environment=tuple(sorted((str(k), str(v)) for k, v in env.items())),
    )


def _compute(data: object, path: str) -> ComputeSpec:
    r = _Reader(data, path, {"type", "max_vcpus", "priority", "job_definition"})
    if not r.has("job_definition"):
        raise InvalidTemplate(f"{r.at('job_definition')}: missing")
    return ComputeSpec(
        type=r.choice("type", ComputeType, ComputeType.FARGATE),
        max_vcpus=r.integer("max_vcpus", 16, 1, 10_000),
        priority=r.integer("priority", 1, 0, 1000),
        job_definition=_job_definition(r.data["job_definition"], r.at("job_definition")),
    )


def _job_type(name: str, data: object, path: str) -> JobTypeSpec:
    r = _Reader(
        data,
        path,
        {
            "command",
            "timeout_seconds",
            "retry_attempts",
            "follow_up",
            "stuck_policy",
            "stuck_after_seconds",
        },
    )
    follow_up = None
    if r.has("follow_up"):
        f = _Reader(r.data["follow_up"], r.at("follow_up"), {"schedule", "action"})
        follow_up = FollowUp(
            schedule=f.slug("schedule", "schedule"),
            action=f.choice("action", FollowUpAction, FollowUpAction.ENABLE),
        )
    return JobTypeSpec(
        name=name,
        command=r.texts("command", required=True),
        timeout_seconds=r.integer("timeout_seconds", 3600, 1, 1_209_600),
        retry_attempts=r.integer("retry_attempts", 1, 1, 10),
        follow_up=follow_up,
        stuck_policy=r.choice("stuck_policy", StuckPolicy, StuckPolicy.WAIT),
        stuck_after_seconds=r.integer("stuck_after_seconds", 1800, 1, 1_209_600),
    )


def _schedule(name: str, data: object, path: str) -> ScheduleSpec:
    r = _Reader(data, path, {"expression", "job_type", "timezone", "payload", "enabled"})
    expression = r.text("expression")
    timezone = r.text("timezone", "UTC")
    try:
        validate_schedule_expression(expression)
        validate_timezone(timezone)
    except InvalidTemplate as exc:
        raise InvalidTemplate(f"{path}: {exc.message}") from None
    return ScheduleSpec(
        name=name,
        expression=expression,
        job_type=r.slug("job_type", "job type"),
        timezone=timezone,
        payload=dict(r.mapping("payload")),
        enabled=r.flag("enabled", True),
    )


def _named(r: _Reader, key: str, kind: str) -> list[tuple[str, object, str]]:
    out = []
    for name, value in r.mapping(key).items():
        path = f"{r.at(key)}.{name}"
        try:
            slug(kind, name)
        except InvalidName as exc:
            raise InvalidTemplate(f"{path}: {exc.message}") from None
        out.append((str(name), value, path))
    return out


def parse_template(data: object) -> ConnectorTemplate:
    """Validate plain data as a connector template; raises `InvalidTemplate` naming the path."""
    r = _Reader(
        data,
        "",
        {
            "name",
            "version",
            "description",
            "placement",
            "pool",
            "collections",
            "compute",
            "job_types",
            "schedules",
            "storage",
            "datasets",
        },
    )
    try:
        name = ConnectorName(r.data.get("name"))  # type: ignore[arg-type]
    except InvalidName as exc:
        raise InvalidTemplate(f"name: {exc.message}") from None
    collections = tuple(
        _collection(d, f"collections[{i}]") for i, d in enumerate(r.items("collections"))
    )
    _unique([c.name for c in collections], "collections")
    storage = _Reader(r.mapping("storage"), "storage", {"public_read_prefixes", "folders"})
    prefixes = storage.texts("public_read_prefixes")
    for prefix in prefixes:
        if not prefix.endswith("/") or prefix.startswith("/") or ".." in prefix:
            raise InvalidTemplate(
                f"storage.public_read_prefixes: {prefix!r} must be a relative folder ending in '/'"
            )
    if not r.has("compute"):
        raise InvalidTemplate("compute: missing")
    template = ConnectorTemplate(
        name=name,
        version=r.integer("version", None, 1),
        description=r.text("description", ""),
        placement=r.choice("placement", Placement, Placement.DEDICATED),
        pool=r.slug("pool", "pool") if r.has("pool") else "default",
        collections=collections,
        compute=_compute(r.data["compute"], "compute"),
        job_types=tuple(_job_type(n, d, p) for n, d, p in _named(r, "job_types", "job type")),
        schedules=tuple(_schedule(n, d, p) for n, d, p in _named(r, "schedules", "schedule")),
        storage=StorageSpec(public_read_prefixes=prefixes, folders=storage.texts("folders")),
        datasets=tuple(dict(d) for d in r.items("datasets") if isinstance(d, Mapping)),
    )
    _check_references(template)
    return template


def _unique(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidTemplate(f"{where}: {name!r} appears twice")
        seen.add(name)


def _check_references(t: ConnectorTemplate) -> None:
    job_types = {j.name for j in t.job_types}
    schedules = {s.name for s in t.schedules}
    for s in t.schedules:
        if s.job_type not in job_types:
            raise InvalidTemplate(
                f"schedules.{s.name}.job_type: no job type {s.job_type!r} in job_types"
            )
    for j in t.job_types:
        if j.follow_up and j.follow_up.schedule not in schedules:
            raise InvalidTemplate(
                f"job_types.{j.name}.follow_up.schedule: no schedule {j.follow_up.schedule!r}"
            )


def template_to_mapping(t: ConnectorTemplate) -> dict[str, Any]:
    """The inverse of `parse_template`: ``parse_template(template_to_mapping(t)) == t``."""
    jd = t.compute.job_definition
    return {
        "name": t.name.value,
        "version": t.version,
        "description": t.description,
        "placement": t.placement.value,
        "pool": t.pool,
        "collections": [
            {
                "name": c.name,
                "indexes": [{"fields": list(i.fields), "unique": i.unique} for i in c.indexes],
                "seed": [dict(d) for d in c.seed],
            }
            for c in t.collections
        ],
        "compute": {
            "type": t.compute.type.value,
            "max_vcpus": t.compute.max_vcpus,
            "priority": t.compute.priority,
            "job_definition": {
                "image": jd.image,
                "command": list(jd.command),
                "vcpus": jd.vcpus,
                "memory_mib": jd.memory_mib,
                "timeout_seconds": jd.timeout_seconds,
                "retry_attempts": jd.retry_attempts,
                "environment": dict(jd.environment),
            },
        },
        "job_types": {
            j.name: {
                "command": list(j.command),
                "timeout_seconds": j.timeout_seconds,
                "retry_attempts": j.retry_attempts,
                "stuck_policy": j.stuck_policy.value,
                "stuck_after_seconds": j.stuck_after_seconds,
                **(
                    {
                        "follow_up": {
                            "schedule": j.follow_up.schedule,
                            "action": j.follow_up.action.value,
                        }
                    }
                    if j.follow_up
                    else {}
                ),
            }
            for j in t.job_types
        },
        "schedules": {
            s.name: {
                "expression": s.expression,
                "job_type": s.job_type,
                "timezone": s.timezone,
                "payload": dict(s.payload),
                "enabled": s.enabled,
            }
            for s in t.schedules
        },
        "storage": {
            "public_read_prefixes": list(t.storage.public_read_prefixes),
            "folders": list(t.storage.folders),
        },
        "datasets": [dict(d) for d in t.datasets],
    }
