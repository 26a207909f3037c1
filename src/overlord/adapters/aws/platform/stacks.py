"""CloudFormation behind the PlatformStacks port: the platform deployed as one stack.

A new stack that keeps its own code is made in two steps, because a function's code must be in
a bucket before the function is created and the bucket is the stack's: first a change set that
creates the platform bucket alone (`bootstrap_template`), then the package is uploaded and a
second change set grows the stack into the full template. An existing stack takes one change
set. The package is stored under its digest, so the same package is the same key, the same
template and, with the same parameters, a change set CloudFormation finds empty: a deploy that
changes nothing changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from overlord.adapters.aws.clients import AwsClients
from overlord.adapters.aws.platform.artifacts import Artifacts
from overlord.adapters.aws.platform.cloudformation import StackCalls
from overlord.adapters.aws.platform.template import (
    TemplateOptions,
    bootstrap_template,
    platform_template,
)
from overlord.domain.deployments import (
    DeployedStack,
    DeployReport,
    DeployRequest,
    DestroyReport,
    StackChange,
)
from overlord.domain.errors import BackendError, Conflict, InvalidInput, NotFound
from overlord.domain.names import Namespace
from overlord.ports.stacks import DeployProgress
from overlord.settings import DocumentStoreKind

# CloudFormation takes a template body up to this size; a larger one must come from S3.
MAX_TEMPLATE_BODY = 51_200
_BROKEN = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED")
_SUCCEEDED = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
# A stack that holds no resources yet: only change sets were made, or it was deleted.
_NOT_CREATED = ("REVIEW_IN_PROGRESS", "DELETE_COMPLETE")
_SETTINGS_FROM = "ApiFunction"  # every function runs with the same settings


def _metadata(template: dict[str, Any]) -> dict[str, Any]:
    found = template.get("Metadata", {}).get("Overlord", {})
    return found if isinstance(found, dict) else {}


class CloudFormationStacks:
    """``poll_seconds`` paces the waits (tests against a local endpoint make it small)."""

    def __init__(self, clients: AwsClients | None = None, *, poll_seconds: float = 5.0) -> None:
        self._clients = clients or AwsClients()
        self._calls = StackCalls(self._clients, poll_seconds=poll_seconds)
        self._artifacts = Artifacts(self._clients)

    def describe(self, stack: str) -> DeployedStack | None:
        found = self._calls.describe(stack)
        if found is None or found["StackStatus"] == "DELETE_COMPLETE":
            return None
        metadata = _metadata(self._calls.template(found["StackId"]))
        return DeployedStack(
            name=stack,
            status=str(found["StackStatus"]),
            namespace=metadata.get("namespace"),
            document_store=metadata.get("document_store"),
            outputs=tuple(
                (str(o["OutputKey"]), str(o["OutputValue"])) for o in found.get("Outputs") or []
            ),
            parameters=tuple(
                (str(p["ParameterKey"]), str(p.get("ParameterValue", "")))
                for p in found.get("Parameters") or []
            ),
            settings=self._settings(found["StackId"]),
        )

    def _settings(self, stack_id: str) -> tuple[tuple[str, str], ...]:
        for resource in self._calls.resources(stack_id):
            if resource["LogicalResourceId"] == _SETTINGS_FROM and resource.get(
                "PhysicalResourceId"
            ):
                variables = self._artifacts.function_environment(resource["PhysicalResourceId"])
                return tuple(
                    sorted((k, v) for k, v in variables.items() if k.startswith("OVERLORD_"))
                )
        return ()

    def deploy(self, request: DeployRequest, progress: DeployProgress) -> DeployReport:
        options = TemplateOptions(
            namespace=request.namespace,
            document_store=DocumentStoreKind(request.document_store),
        )
        template = platform_template(options)
        given = dict(request.parameters)
        unknown = sorted(set(given) - set(template["Parameters"]))
        if unknown:
            raise InvalidInput(
                f"unknown parameter {unknown[0]!r}; the template takes "
                f"{', '.join(sorted(template['Parameters']))}"
            )
        stack = request.stack
        created, previous = self._preflight(stack, request.namespace)
        tags = {"managed-by": "overlord", "overlord:namespace": request.namespace.value}
        changes: list[StackChange] = []
        applied, creating = False, created
        bucket = request.code_bucket or options.names.bucket
        if creating and request.code_bucket is None:
            progress.step(f"creating bucket {bucket} for the platform's code")
            made = self._apply(stack, "CREATE", bootstrap_template(options), [], tags, progress)
            changes += made or ()
            applied, creating = True, False
        key = f"lambda/{hashlib.sha256(request.package).hexdigest()[:32]}.zip"
        progress.step(f"uploading the package ({len(request.package)} bytes) to {bucket}/{key}")
        self._artifacts.upload(bucket, key, request.package, "application/zip")
        given.update(CodeBucket=bucket, CodeKey=key)
        kept = set(previous) & set(template["Parameters"]) - set(given)
        parameters: list[dict[str, Any]] = [
            *({"ParameterKey": k, "ParameterValue": v} for k, v in sorted(given.items())),
            *({"ParameterKey": k, "UsePreviousValue": True} for k in sorted(kept)),
        ]
        kind = "CREATE" if creating else "UPDATE"
        made = self._apply(stack, kind, template, parameters, tags, progress, bucket=bucket)
        if made is not None:
            changes += made
            applied = True
        deployed = self.describe(stack)
        if deployed is None:
            raise BackendError(f"stack {stack} is gone after its deploy")
        return DeployReport(
            stack=deployed,
            changes=tuple(changes),
            applied=applied,
            created=created,
            code_bucket=bucket,
            code_key=key,
            package_bytes=len(request.package),
        )

    def _preflight(self, stack: str, namespace: Namespace) -> tuple[bool, dict[str, str]]:
        """Whether the stack is still to be created, and the parameters it was last deployed
        with; `Conflict` when it cannot be deployed to now (broken, busy, another platform's)."""
        current = self._calls.describe(stack)
        status = None if current is None else str(current["StackStatus"])
        if current is None or status in _NOT_CREATED:
            return True, {}
        if status in _BROKEN:
            raise Conflict(
                f"stack {stack} is {status} and cannot be updated: remove it with "
                f"`overlord destroy --stack {stack}`, then deploy again"
            )
        if str(status).endswith("_IN_PROGRESS"):
            raise Conflict(f"stack {stack} is {status}: wait until it has finished")
        self._check_namespace(stack, current["StackId"], namespace)
        return False, {
            p["ParameterKey"]: p.get("ParameterValue", "") for p in current.get("Parameters") or []
        }

    def _check_namespace(self, stack: str, stack_id: str, namespace: Namespace) -> None:
        deployed = _metadata(self._calls.template(stack_id)).get("namespace")
        if deployed != namespace.value:
            theirs = f"namespace {deployed}" if deployed else "no Overlord platform"
            raise Conflict(
                f"stack {stack} holds {theirs}, not {namespace}: set OVERLORD_NAMESPACE to "
                "its namespace, or deploy another stack"
            )

    def _apply(
        self,
        stack: str,
        kind: str,
        template: dict[str, Any],
        parameters: list[dict[str, Any]],
        tags: dict[str, str],
        progress: DeployProgress,
        *,
        bucket: str | None = None,
    ) -> tuple[StackChange, ...] | None:
        """Make the change set and run it: the changes it listed, or None when CloudFormation
        found the stack already matching. A change set listing no resource change is run all
        the same: CloudFormation made it because something else differs (outputs, or, where
        its listing does not follow parameters, a parameter)."""
        body = json.dumps(template, separators=(",", ":"))
        source = {"TemplateBody": body}
        if len(body.encode()) > MAX_TEMPLATE_BODY and bucket is not None:
            key = f"templates/{hashlib.sha256(body.encode()).hexdigest()[:32]}.json"
            source = {
                "TemplateURL": self._artifacts.upload(
                    bucket, key, body.encode(), "application/json"
                )
            }
        made = self._calls.change_set(stack, kind, source, parameters, tags)
        if made is None:
            progress.step(f"stack {stack} already matches: nothing to change")
            return None
        change_set, changes = made
        progress.change_set(stack, changes)
        found = self._calls.describe(stack)
        stack_id = str(found["StackId"]) if found else stack
        seen = self._calls.seen_events(stack_id)
        self._calls.execute(change_set)
        status, events = self._calls.wait(stack_id, seen, progress.event)
        if status not in _SUCCEEDED:
            failures = [e for e in events if e.failed and e.reason]
            why = f"{failures[0].logical_id}: {failures[0].reason}" if failures else status
            raise BackendError(f"stack {stack} ended {status}: {why}")
        return changes

    def buckets(self, stack: str) -> dict[str, int]:
        found = self._calls.describe(stack)
        if found is None or found["StackStatus"] == "DELETE_COMPLETE":
            raise NotFound(f"no stack named {stack}")
        names = [
            str(r["PhysicalResourceId"])
            for r in self._calls.resources(found["StackId"])
            if r["ResourceType"] == "AWS::S3::Bucket" and r.get("PhysicalResourceId")
        ]
        return {name: self._artifacts.count(name) for name in sorted(names)}

    def destroy(self, stack: str, progress: DeployProgress, *, purge: bool) -> DestroyReport:
        """See `PlatformStacks.destroy`; a purge also deletes the batch state machines of the
        stack's namespace, which the platform made as batches ran."""
        held = self.buckets(stack)
        full = {name: count for name, count in held.items() if count}
        if full and not purge:
            name, count = next(iter(full.items()))
            raise Conflict(
                f"bucket {name} holds {count} object{'' if count == 1 else 's'}, which "
                "CloudFormation cannot delete: "
                "--purge deletes them with the stack"
            )
        emptied = []
        for name in full:
            progress.step(f"emptying bucket {name} ({full[name]} objects and versions)")
            emptied.append((name, self._artifacts.empty(name)))
        found = self._calls.describe(stack)
        if found is None:
            raise NotFound(f"no stack named {stack}")
        stack_id = str(found["StackId"])
        machines: list[str] = []
        namespace = _metadata(self._calls.template(stack_id)).get("namespace")
        if purge and namespace:
            machines = self._artifacts.delete_state_machines(f"{namespace}-")
            if machines:
                progress.step(f"deleted {len(machines)} batch state machines")
        seen = self._calls.seen_events(stack_id)
        progress.step(f"deleting stack {stack}")
        self._calls.delete(stack_id)
        status, events = self._calls.wait(stack_id, seen, progress.event)
        if status != "DELETE_COMPLETE":
            failures = [e for e in events if e.failed and e.reason]
            why = f"{failures[0].logical_id}: {failures[0].reason}" if failures else status
            raise BackendError(f"stack {stack} ended {status}: {why}")
        return DestroyReport(stack=stack, emptied=tuple(emptied), state_machines=tuple(machines))
