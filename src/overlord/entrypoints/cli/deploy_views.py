"""How ``overlord deploy`` and ``destroy`` show what they do: the change set before it runs, the
stack's events while it waits, its outputs and settings once it is done.

The change set and the result go to stdout (tables, or one JSON document at the end with
``--output json``); progress goes to stderr: a spinner above the events on a terminal, one
plain line per step and event otherwise, so a CI log reads like the console.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.status import Status
from rich.table import Table
from rich.text import Text

from overlord.domain.deployments import (
    DeployedStack,
    DeployReport,
    DestroyReport,
    StackChange,
    StackEvent,
)
from overlord.entrypoints.cli.output import Output, table, text

_ACTION_STYLES = {"Add": "green", "Modify": "yellow", "Remove": "red"}


class StackProgress:
    """The `DeployProgress` of a terminal or a log (see the module docstring)."""

    def __init__(self, out: Output) -> None:
        self._out = out
        self._console = Console(stderr=True, highlight=False)
        self._status: Status | None = None

    def __enter__(self) -> StackProgress:
        if self._console.is_terminal:
            self._status = self._console.status("working")
            self._status.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._status is not None:
            self._status.stop()

    def _line(self, message: str) -> None:
        self._console.print(Text(message), soft_wrap=True)
        if self._status is not None:
            self._status.update(message)

    def step(self, message: str) -> None:
        self._line(message)

    def change_set(self, stack: str, changes: tuple[StackChange, ...]) -> None:
        if not changes:
            self._line(f"applying a change set to stack {stack} that lists no resource change")
            return
        if not self._out.json:
            # The table goes to stdout: the spinner (stderr, the same terminal) steps aside.
            if self._status is not None:
                self._status.stop()
            self._out.show(changes_table(f"change set for stack {stack}", changes))
            if self._status is not None:
                self._status.start()
        self._line(f"applying {len(changes)} changes to stack {stack}")

    def event(self, event: StackEvent) -> None:
        reason = f": {event.reason}" if event.reason else ""
        self._line(f"{event.logical_id} ({event.resource_type}) {event.status}{reason}")


def changes_table(title: str, changes: Iterable[StackChange]) -> Table:
    grid = table(title, "action", "resource", "type", "replacement")
    for change in changes:
        grid.add_row(
            text(change.action, _ACTION_STYLES.get(change.action, "")),
            text(change.logical_id),
            text(change.resource_type),
            text(change.replacement or ""),
        )
    return grid


def change_json(change: StackChange) -> dict[str, Any]:
    return {
        "action": change.action,
        "resource": change.logical_id,
        "type": change.resource_type,
        "replacement": change.replacement,
    }


def stack_json(stack: DeployedStack) -> dict[str, Any]:
    return {
        "stack": stack.name,
        "status": stack.status,
        "namespace": stack.namespace,
        "document_store": stack.document_store,
        "outputs": dict(stack.outputs),
        "parameters": dict(stack.parameters),
        "settings": dict(stack.settings),
    }


def deploy_json(report: DeployReport) -> dict[str, Any]:
    return {
        **stack_json(report.stack),
        "created": report.created,
        "changed": report.changed,
        "changes": [change_json(c) for c in report.changes],
        "package": {
            "bucket": report.code_bucket,
            "key": report.code_key,
            "bytes": report.package_bytes,
        },
    }


def show_deploy(out: Output, report: DeployReport) -> None:
    stack = report.stack
    if report.changed:
        verb = "created" if report.created else "updated"
        summary = f"stack {stack.name} {verb}: {len(report.changes)} changes, {stack.status}"
    else:
        summary = f"stack {stack.name} unchanged ({stack.status})"
    out.show(Text(summary, style="green" if report.changed else "dim"))
    if stack.outputs:
        grid = table("outputs", "output", "value")
        for key, value in stack.outputs:
            grid.add_row(text(key), text(value))
        out.show(grid)
    if stack.settings:
        out.show(
            Text("settings for the CLI (or `--config-file overlord.toml` writes them):"),
            Text("\n".join(f"export {k}={v}" for k, v in stack.settings if v)),
        )


def destroy_json(report: DestroyReport, tenants: list[str]) -> dict[str, Any]:
    return {
        "stack": report.stack,
        "deleted": report.deleted,
        "tenants_deleted": tenants,
        "emptied": {bucket: count for bucket, count in report.emptied},
        "state_machines_deleted": list(report.state_machines),
    }


def show_destroy(out: Output, report: DestroyReport, tenants: list[str]) -> None:
    for tenant in tenants:
        out.show(Text(f"deleted tenant {tenant} and everything provisioning made for it"))
    for bucket, count in report.emptied:
        noun = "object" if count == 1 else "objects"
        out.show(Text(f"emptied bucket {bucket}: {count} {noun} deleted"))
    for machine in report.state_machines:
        out.show(Text(f"deleted state machine {machine}"))
    out.show(Text(f"stack {report.stack} deleted", style="green"))


def settings_toml(stack: DeployedStack) -> str:
    """The stack's settings as an ``overlord.toml`` (keys without ``OVERLORD_``, lower case):
    the CLI run beside it works on the deployed platform."""
    lines = [f"# Settings of the Overlord platform in stack {stack.name} (overlord deploy)"]
    for key, value in stack.settings:
        if value:
            # A JSON string is a valid TOML basic string.
            lines.append(f"{key.removeprefix('OVERLORD_').lower()} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
