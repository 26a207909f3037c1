"""Services wired on the memory profile with a fixed clock: fast and deterministic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from dependency_injector import providers

from overlord.adapters.memory.clock import FixedClock
from overlord.container import Container
from overlord.settings import Settings

START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def container(clock: FixedClock) -> Iterator[Container]:
    container = Container.from_settings(Settings(profile="memory"))
    with container.clock.override(providers.Object(clock)):
        yield container
