"""Overlord: provision, run and track multi-tenant data-ingestion platforms."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from overlord.cleaners import cleaner
    from overlord.tasks import task

__all__ = ["cleaner", "task"]


def __getattr__(name: str) -> object:
    # ``overlord.task`` and ``overlord.cleaner`` are loaded when first asked for, so that
    # importing any module of the package (a Lambda handler, say) does not import the task or
    # cleaner registry with it.
    if name == "task":
        from overlord.tasks import task

        return task
    if name == "cleaner":
        from overlord.cleaners import cleaner

        return cleaner
    raise AttributeError(f"module 'overlord' has no attribute {name!r}")
