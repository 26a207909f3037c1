"""What a scheduled maintenance invocation asks for: ``{"task": "sweep"|"reconcile"}``, with an
optional ``"tenant"`` to narrow it.

On AWS nothing runs `overlord jobs sweep` from a terminal, so an EventBridge Scheduler schedule
(``rate(5 minutes)`` is a good start) invokes ``maintenance_handler`` with one of these inputs.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

from overlord.domain.errors import InvalidInput, InvalidName
from overlord.domain.names import TenantName

TASKS = ("sweep", "reconcile")


@frozen
class MaintenanceTask:
    task: str
    tenant: str | None = None


def task_from_event(event: object) -> MaintenanceTask:
    """The task an input names; InvalidInput for anything else (nothing is run)."""
    if not isinstance(event, Mapping):
        raise InvalidInput('a maintenance input is a JSON object like {"task": "sweep"}')
    task = event.get("task")
    if task not in TASKS:
        raise InvalidInput(f"task must be one of {', '.join(TASKS)}, not {task!r:.40}")
    tenant = event.get("tenant")
    if tenant is None:
        return MaintenanceTask(task)
    if not isinstance(tenant, str):
        raise InvalidInput(f"tenant must be a tenant's name, not {tenant!r:.40}")
    try:
        return MaintenanceTask(task, TenantName(tenant).value)
    except InvalidName as exc:
        raise InvalidInput(exc.message) from exc
