"""Overlord: provision, run and track multi-tenant data-ingestion platforms."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from overlord.tasks import task

__all__ = ["task"]


def __getattr__(name: str) -> object:
    # ``overlord.task`` is loaded when first asked for, so that importing any module of the
    # package (a Lambda handler, say) does not import the task registry with it.
    if name == "task":
        from overlord.tasks import task

        return task
    raise AttributeError(f"module 'overlord' has no attribute {name!r}")
