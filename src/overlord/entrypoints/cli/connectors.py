"""``overlord connectors``: the catalog of connector templates, and adding to it.

``connectors add`` is where template authors meet the parser, so its failure is one line that
names the file and the offending value's path (``error: mine.toml: compute.max_vcpus: ...``),
and a refused file leaves the catalog as it was. ``connectors show`` prints each job type's
payload schema: whole in JSON, as its fields and their types in the table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.text import Text

from overlord.domain.connectors import ConnectorTemplate
from overlord.domain.errors import InvalidInput
from overlord.domain.names import ConnectorName
from overlord.domain.template_parsing import template_to_mapping
from overlord.entrypoints.cli.output import table, text
from overlord.entrypoints.cli.session import help_without_command, session
from overlord.entrypoints.platform_json import template_summary_json

app = typer.Typer(
    name="connectors",
    help="List, inspect and add connector templates.",
    invoke_without_command=True,
)


@app.callback()
def group(ctx: typer.Context) -> None:
    help_without_command(ctx)


@app.command("list")
def list_connectors(ctx: typer.Context) -> None:
    """Every connector in the catalog, bundled or added."""
    current = session(ctx)
    entries = current.container().catalog().entries()
    out = current.output
    if out.json:
        out.emit_json([template_summary_json(e.template, e.source) for e in entries])
        return
    grid = table(None, "name", "version", "placement", "job types", "schedules", "source")
    for entry in entries:
        t = entry.template
        grid.add_row(
            text(t.name),
            text(t.version),
            text(_placement(t).replace(" ", "\n")),
            text("\n".join(j.name for j in t.job_types)),
            text("\n".join(s.name for s in t.schedules)),
            text(entry.source, "dim" if entry.source == "bundled" else "green"),
        )
    out.show(grid)


@app.command("show")
def show(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Connector name.")]) -> None:
    """One connector template: what provisioning makes for each tenant that uses it."""
    ConnectorName(name)
    current = session(ctx)
    template = current.container().catalog().get(name)
    out = current.output
    if out.json:
        out.emit_json(template_to_mapping(template))
        return
    out.show(describe(template))


@app.command("add")
def add(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Template file (.toml or .json).")],
) -> None:
    """Validate a template file and add it to the catalog (a new version replaces the old)."""
    from overlord.container import read_template_file

    current = session(ctx)
    try:
        data = read_template_file(file)
        template, changed = current.container().catalog().add(data)
    except InvalidInput as exc:
        raise type(exc)(_in_file(file, exc.message)) from None
    except OSError as exc:  # unreadable, or a name the OS refuses: a file the caller must fix
        raise InvalidInput(f"{file}: cannot be read ({exc.strerror or exc})") from None
    out = current.output
    if out.json:
        out.emit_json(
            {"connector": template.name.value, "version": template.version, "changed": changed}
        )
        return
    if changed:
        out.show(Text(f"added {template.name} version {template.version}", style="green"))
    else:
        out.show(Text(f"{template.name} version {template.version} is already in the catalog"))


def _in_file(file: Path, message: str) -> str:
    """``<file>: <message>``, whether or not the reader already named the file."""
    prefix = f"{file.name}: "
    return f"{file}: {message.removeprefix(prefix)}"


def _placement(t: ConnectorTemplate) -> str:
    return f"{t.placement} ({t.pool})" if t.placement == "pooled" else str(t.placement)


def describe(t: ConnectorTemplate) -> Group:
    """A template as a person reads it: what it is, what it makes, what it runs and when."""
    jd = t.compute.job_definition
    lines = Text.assemble(
        (f"{t.name}", "bold"),
        f" version {t.version}\n",
        (t.description or "(no description)", "italic"),
        f"\nplacement: {_placement(t)}",
        f"\ncompute: {t.compute.type}, up to {t.compute.max_vcpus} vCPUs, "
        f"queue priority {t.compute.priority}",
        f"\njob definition: {jd.image} {' '.join(jd.command)} "
        f"({jd.vcpus:g} vCPU, {jd.memory_mib} MiB, {jd.timeout_seconds}s, "
        f"{jd.retry_attempts} attempts)",
        f"\nstorage folders: {', '.join(t.storage.folders) or 'none'}; public read: "
        f"{', '.join(t.storage.public_read_prefixes) or 'none'}",
    )
    collections = table("collections", "name", "indexes", "seed documents")
    for c in t.collections:
        indexes = ", ".join(("unique " if i.unique else "") + "+".join(i.fields) for i in c.indexes)
        collections.add_row(text(c.name), text(indexes), text(len(c.seed)))
    job_types = table(
        "job types", "name", "command", "timeout", "attempts", "follow-up", "payload (* required)"
    )
    for j in t.job_types:
        follow = f"{j.follow_up.action} {j.follow_up.schedule}" if j.follow_up else ""
        job_types.add_row(
            text(j.name),
            text(" ".join(j.command)),
            text(f"{j.timeout_seconds}s"),
            text(j.retry_attempts),
            text(follow),
            text("\n".join(payload_fields(j.payload_schema))),
        )
    schedules = table("schedules", "name", "expression", "timezone", "job type", "enabled")
    for s in t.schedules:
        schedules.add_row(
            text(s.name), text(s.expression), text(s.timezone), text(s.job_type), text(s.enabled)
        )
    return Group(lines, Text(), collections, Text(), job_types, Text(), schedules)


def payload_fields(schema: Mapping[str, Any] | None) -> list[str]:
    """A payload schema in brief: each top-level field with its type, ``*`` when required
    (a schema without fields is shown whole, as compact JSON).

    >>> payload_fields({"required": ["items"], "properties": {"items": {"type": "array",
    ...     "items": {"type": "object"}}, "dry_run": {"type": "boolean"}}})
    ['items*: [object]', 'dry_run: boolean']
    """
    if schema is None:
        return ["any object"]
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        return [json.dumps(schema, separators=(",", ":"), ensure_ascii=False)]
    required = schema.get("required")
    needed = set(required) if isinstance(required, list) else set()
    return [
        f"{name}{'*' if name in needed else ''}: {_kind(part)}" for name, part in properties.items()
    ]


def _kind(schema: object) -> str:
    if not isinstance(schema, Mapping):
        return "any"
    kind = schema.get("type")
    if kind == "array":
        return f"[{_kind(schema.get('items'))}]"
    if isinstance(kind, list):
        return "|".join(map(str, kind))
    if isinstance(kind, str):
        return kind
    if isinstance(schema.get("enum"), list):
        return "|".join(json.dumps(value, ensure_ascii=False) for value in schema["enum"])
    return "any"
