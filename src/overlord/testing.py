"""Helpers for testing code built on Overlord: a wired container with nothing outside memory.

>>> container = provisioned_memory_container("acme", "weather")
>>> container.jobs().submit("acme", "weather", "ingest", {}).created
True
"""

from __future__ import annotations

from dependency_injector import providers

from overlord.container import Container
from overlord.ports.clock import Clock
from overlord.settings import Settings


def memory_container(settings: Settings | None = None, *, clock: Clock | None = None) -> Container:
    """A container on the memory profile: every port in process, nothing written to disk.

    Pass a ``clock`` (such as `FixedClock`) when two containers must record identical times.
    """
    container = Container.from_settings((settings or Settings()).replace(profile="memory"))
    if clock is not None:
        container.clock.override(providers.Object(clock))
    return container


def provisioned_memory_container(
    tenant: str, *connectors: str, clock: Clock | None = None
) -> Container:
    """A memory container with ``tenant`` provisioned for each of ``connectors``."""
    container = memory_container(clock=clock)
    for connector in connectors:
        container.provisioning().apply(tenant, connector)
    return container
