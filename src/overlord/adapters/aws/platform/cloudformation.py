"""CloudFormation calls the platform stack needs, with its waits and its errors in Overlord's
terms. No template knowledge here: `stacks.CloudFormationStacks` decides what to deploy.

Waiting polls the stack and reads its new events on every poll, oldest first, so a terminal
shows each resource as it completes and a CI log gets one line per event.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from overlord.adapters.aws.clients import AwsClients, backend_error, error_code
from overlord.domain.deployments import StackChange, StackEvent
from overlord.domain.errors import BackendError, Conflict, NotFound

# What CloudFormation answers, in its various ways, for an update that would change nothing.
_NOTHING_TO_CHANGE = ("didn't contain changes", "No updates are to be performed")
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]


def _message(exc: BaseException) -> str:
    response: Any = getattr(exc, "response", {})
    return str(response.get("Error", {}).get("Message", exc))


def nothing_to_change(reason: str | None) -> bool:
    return reason is not None and any(text in reason for text in _NOTHING_TO_CHANGE)


class NoChanges(Exception):
    """CloudFormation refused a change set because the stack already matches it."""


@contextmanager
def boundary(doing: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        code = error_code(exc)
        message = _message(exc)
        if code == "ValidationError" and "does not exist" in message:
            raise NotFound(f"{doing}: {message}") from None
        if code == "ValidationError" and nothing_to_change(message):
            raise NoChanges(message) from None
        if code in ("AlreadyExistsException", "ChangeSetNotFound"):
            raise Conflict(f"{doing}: {message}") from None
        raise backend_error(exc, doing) from exc


class StackCalls:
    """One stack's CloudFormation calls. ``poll_seconds`` paces every wait."""

    def __init__(self, clients: AwsClients, *, poll_seconds: float = 5.0) -> None:
        self._clients = clients
        self._poll = poll_seconds

    @property
    def client(self) -> Any:
        return self._clients.client("cloudformation")

    def describe(self, stack: str) -> dict[str, Any] | None:
        try:
            with boundary(f"describe stack {stack}"):
                found: dict[str, Any] = self.client.describe_stacks(StackName=stack)["Stacks"][0]
                return found
        except NotFound:
            return None

    def template(self, stack: str) -> dict[str, Any]:
        with boundary(f"read the template of stack {stack}"):
            body = self.client.get_template(StackName=stack)["TemplateBody"]
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                return {}  # a template of someone else's, in YAML: certainly not ours
        return dict(body) if isinstance(body, dict) else {}

    def resources(self, stack: str) -> list[dict[str, Any]]:
        with boundary(f"list the resources of stack {stack}"):
            pages = self.client.get_paginator("list_stack_resources").paginate(StackName=stack)
            return [r for page in pages for r in page["StackResourceSummaries"]]

    def change_set(
        self,
        stack: str,
        kind: str,
        template: dict[str, str],
        parameters: list[dict[str, Any]],
        tags: dict[str, str],
    ) -> tuple[str, tuple[StackChange, ...]] | None:
        """Create a change set and wait until it is ready: its id and changes, or None when
        the stack already matches (the change set is then deleted)."""
        name = f"overlord-{uuid.uuid4().hex[:12]}"
        try:
            with boundary(f"create a change set for stack {stack}"):
                made = self.client.create_change_set(
                    StackName=stack,
                    ChangeSetName=name,
                    ChangeSetType=kind,
                    Parameters=parameters,
                    Capabilities=CAPABILITIES,
                    Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                    **template,
                )
        except NoChanges:
            return None
        change_set = str(made["Id"])
        while True:
            with boundary(f"describe change set {name}"):
                described = self.client.describe_change_set(ChangeSetName=change_set)
            status = described["Status"]
            if status == "CREATE_COMPLETE":
                return change_set, self._changes(change_set, described)
            if status == "FAILED":
                reason = described.get("StatusReason")
                self.discard(change_set)
                if nothing_to_change(reason):
                    return None
                raise BackendError(f"change set for stack {stack} failed: {reason}")
            time.sleep(self._poll)

    def _changes(self, change_set: str, described: dict[str, Any]) -> tuple[StackChange, ...]:
        found = list(described.get("Changes", []))
        token = described.get("NextToken")
        while token:
            with boundary(f"describe change set {change_set}"):
                page = self.client.describe_change_set(ChangeSetName=change_set, NextToken=token)
            found += page.get("Changes", [])
            token = page.get("NextToken")
        return tuple(
            StackChange(
                action=str(change["ResourceChange"]["Action"]),
                logical_id=str(change["ResourceChange"]["LogicalResourceId"]),
                resource_type=str(change["ResourceChange"]["ResourceType"]),
                replacement=change["ResourceChange"].get("Replacement"),
            )
            for change in found
            if "ResourceChange" in change
        )

    def discard(self, change_set: str) -> None:
        with boundary(f"delete change set {change_set}"):
            self.client.delete_change_set(ChangeSetName=change_set)

    def execute(self, change_set: str) -> None:
        with boundary(f"execute change set {change_set}"):
            self.client.execute_change_set(ChangeSetName=change_set)

    def delete(self, stack_id: str) -> None:
        with boundary(f"delete stack {stack_id}"):
            self.client.delete_stack(StackName=stack_id)

    def seen_events(self, stack_id: str) -> set[str]:
        return {event["EventId"] for event in self._events(stack_id)}

    def _events(self, stack_id: str) -> list[dict[str, Any]]:
        with boundary(f"read the events of stack {stack_id}"):
            pages = self.client.get_paginator("describe_stack_events").paginate(StackName=stack_id)
            return [event for page in pages for event in page["StackEvents"]]

    def wait(
        self, stack_id: str, seen: set[str], on_event: Callable[[StackEvent], None]
    ) -> tuple[str, list[StackEvent]]:
        """Poll until the stack's status is no longer ``*_IN_PROGRESS``: its final status and
        the events that happened meanwhile (each told to ``on_event`` as it is read)."""
        happened: list[StackEvent] = []
        while True:
            with boundary(f"describe stack {stack_id}"):
                status = str(
                    self.client.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
                )
            for raw in reversed(self._events(stack_id)):
                if raw["EventId"] in seen:
                    continue
                seen.add(raw["EventId"])
                event = StackEvent(
                    logical_id=str(raw.get("LogicalResourceId", "")),
                    resource_type=str(raw.get("ResourceType", "")),
                    status=str(raw.get("ResourceStatus", "")),
                    reason=raw.get("ResourceStatusReason"),
                )
                happened.append(event)
                on_event(event)
            if not status.endswith("_IN_PROGRESS"):
                return status, happened
            time.sleep(self._poll)
