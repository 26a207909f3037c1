"""Helpers for testing code built on Overlord: a wired container with nothing outside memory.

>>> container = provisioned_memory_container("acme", "weather")
>>> container.jobs().submit("acme", "weather", "ingest", {}).created
True
"""

from __future__ import annotations

from overlord.container import Container
from overlord.settings import Settings


def memory_container(settings: Settings | None = None) -> Container:
    """A container on the memory profile: every port in process, nothing written to disk."""
    return Container.from_settings((settings or Settings()).replace(profile="memory"))


def provisioned_memory_container(tenant: str, *connectors: str) -> Container:
    """A memory container with ``tenant`` provisioned for each of ``connectors``."""
    container = memory_container()
    for connector in connectors:
        container.provisioning().apply(tenant, connector)
    return container
