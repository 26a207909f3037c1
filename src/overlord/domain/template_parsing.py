"""Build a `ConnectorTemplate` from plain data (TOML or JSON), saying exactly what is wrong.

Errors name the path of the offending value (``compute.job_definition.memory_mib: expected an
integer >= 128``) so that `overlord connectors add` can tell a user which line to fix. The inverse,
`template_to_mapping`, lets the catalog store templates as documents.

Everything provisioning would otherwise discover half-way is refused here: schedule expressions
are read in full, and a job type's ``payload_schema`` must be a plain JSON object. Whether it is a
valid JSON Schema needs a JSON Schema library, which the domain does not import: the catalog
checks that through its `PayloadValidator` port before it stores or provisions a template.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from overlord.domain.connectors import (
    CollectionSpec,
    ComputeSpec,
    ComputeType,
    ConnectorTemplate,
    FollowUp,
    FollowUpAction,
    FollowUpTrigger,
    JobDefinitionSpec,
    JobTypeSpec,
    Placement,
    ScheduleSpec,
    StorageSpec,
    StuckPolicy,
)
from overlord.domain.dataset_parsing import parse_dataset
from overlord.domain.errors import InvalidName, InvalidTemplate
from overlord.domain.expressions import validate_schedule_expression, validate_timezone
from overlord.domain.indexes import IndexSpec
from overlord.domain.names import ConnectorName, slug
from overlord.domain.pipeline_templates import parse_pipelines, pipelines_to_mapping
from overlord.domain.plain_data import Reader


def _require(r: Reader, *keys: str) -> None:
    """Name the first of ``keys`` that is absent, rather than complain about its type."""
    for key in keys:
        if not r.has(key):
            raise InvalidTemplate(f"{r.path or 'connector template'}: {key!r} is missing")


def _plain_json(data: object, path: str) -> dict[str, Any]:
    """A detached copy of a table that JSON can hold (TOML also has dates and times), so that a
    payload or a schema reads back from any document store and reaches a job unchanged."""
    try:
        copied = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidTemplate(f"{path}: not plain JSON ({exc})") from None
    if not isinstance(copied, dict):
        raise InvalidTemplate(f"{path}: expected a table/object")
    return copied


def _index(data: object, path: str) -> IndexSpec:
    r = Reader(data, path, {"fields", "unique"})
    _require(r, "fields")
    return IndexSpec(fields=r.texts("fields", required=True), unique=r.flag("unique", False))


def _collection(data: object, path: str) -> CollectionSpec:
    r = Reader(data, path, {"name", "indexes", "seed"})
    _require(r, "name")
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
    r = Reader(
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
    _require(r, "image", "command")
    env = r.mapping("environment")
    for name, value in env.items():
        if not isinstance(value, str):
            raise InvalidTemplate(f"{r.at('environment')}.{name}: expected a string")
        if not value:
            # AWS Batch drops empty variables, so the definition could never be registered as is.
            raise InvalidTemplate(f"{r.at('environment')}.{name}: expected a non-empty string")
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
    r = Reader(data, path, {"type", "max_vcpus", "priority", "job_definition"})
    _require(r, "job_definition")
    return ComputeSpec(
        type=r.choice("type", ComputeType, ComputeType.FARGATE),
        max_vcpus=r.integer("max_vcpus", 16, 1, 10_000),
        priority=r.integer("priority", 1, 0, 1000),
        job_definition=_job_definition(r.data["job_definition"], r.at("job_definition")),
    )


def _job_type(name: str, data: object, path: str) -> JobTypeSpec:
    r = Reader(
        data,
        path,
        {
            "command",
            "timeout_seconds",
            "retry_attempts",
            "follow_up",
            "stuck_policy",
            "stuck_after_seconds",
            "payload_schema",
        },
    )
    _require(r, "command")
    follow_up = None
    if r.has("follow_up"):
        f = Reader(r.data["follow_up"], r.at("follow_up"), {"schedule", "action", "when"})
        _require(f, "schedule")
        follow_up = FollowUp(
            schedule=f.slug("schedule", "schedule"),
            action=f.choice("action", FollowUpAction, FollowUpAction.ENABLE),
            when=f.choice("when", FollowUpTrigger, FollowUpTrigger.SUBMITTED),
        )
    return JobTypeSpec(
        name=name,
        command=r.texts("command", required=True),
        timeout_seconds=r.integer("timeout_seconds", 3600, 1, 1_209_600),
        retry_attempts=r.integer("retry_attempts", 1, 1, 10),
        follow_up=follow_up,
        stuck_policy=r.choice("stuck_policy", StuckPolicy, StuckPolicy.WAIT),
        stuck_after_seconds=r.integer("stuck_after_seconds", 1800, 1, 1_209_600),
        payload_schema=(
            _plain_json(r.data["payload_schema"], r.at("payload_schema"))
            if r.has("payload_schema")
            else None
        ),
    )


def _schedule(name: str, data: object, path: str) -> ScheduleSpec:
    r = Reader(data, path, {"expression", "job_type", "timezone", "payload", "enabled"})
    _require(r, "expression", "job_type")
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
        payload=_plain_json(r.mapping("payload"), r.at("payload")),
        enabled=r.flag("enabled", True),
    )


def _named(r: Reader, key: str, kind: str) -> list[tuple[str, object, str]]:
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
    r = Reader(
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
            "pipelines",
        },
    )
    _require(r, "name", "version", "compute")
    try:
        name = ConnectorName(r.data["name"])
    except InvalidName as exc:
        raise InvalidTemplate(f"name: {exc.message}") from None
    collections = tuple(
        _collection(d, f"collections[{i}]") for i, d in enumerate(r.items("collections"))
    )
    _unique([c.name for c in collections], "collections")
    storage = Reader(r.mapping("storage"), "storage", {"public_read_prefixes", "folders"})
    prefixes = storage.texts("public_read_prefixes")
    for prefix in prefixes:
        if not prefix.endswith("/") or prefix.startswith("/") or ".." in prefix:
            raise InvalidTemplate(
                f"storage.public_read_prefixes: {prefix!r} must be a relative folder ending in '/'"
            )
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
        datasets=tuple(_dataset(d, f"datasets[{i}]") for i, d in enumerate(r.items("datasets"))),
        pipelines=parse_pipelines(r.data.get("pipelines")),
    )
    _unique([d["name"] for d in template.datasets], "datasets")
    _check_references(template)
    return template


def _dataset(data: object, path: str) -> dict[str, Any]:
    """Check a dataset now, so a template never carries one that ingestion would refuse later;
    the template keeps the plain data, which is what the catalog stores."""
    parse_dataset(data, path)
    if not isinstance(data, Mapping):  # parse_dataset refuses anything else first
        raise InvalidTemplate(f"{path}: a dataset must be a table")
    return dict(data)


def _unique(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidTemplate(f"{where}: {name!r} appears twice")
        seen.add(name)


def _check_references(t: ConnectorTemplate) -> None:
    job_types = {j.name for j in t.job_types}
    schedules = {s.name for s in t.schedules}
    for i, d in enumerate(t.datasets):
        for stage in ("gather_job", "process_job"):
            name = d.get(stage, stage.removesuffix("_job"))
            if name not in job_types:
                raise InvalidTemplate(
                    f"datasets[{i}].{stage}: no job type {name!r} in job_types (the stage runs "
                    "as a job of the connector)"
                )
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
                    {"payload_schema": copy.deepcopy(dict(j.payload_schema))}
                    if j.payload_schema is not None
                    else {}
                ),
                **(
                    {
                        "follow_up": {
                            "schedule": j.follow_up.schedule,
                            "action": j.follow_up.action.value,
                            "when": j.follow_up.when.value,
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
        "pipelines": pipelines_to_mapping(t.pipelines),
    }
