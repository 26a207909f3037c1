"""Overlord: provision, run and track multi-tenant data-ingestion platforms."""

from overlord.tasks import task

__all__ = ["task"]
