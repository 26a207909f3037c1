"""Session fixtures for the contract suites' AWS adapters (moto over HTTP via ``aws_endpoint``).

The account-level resources the adapters need are made once per session by the helpers in
``tests/integration/aws_network.py``; each test still names its own resources uniquely.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overlord.adapters.aws.batch_settings import BatchSettings
from overlord.adapters.aws.scheduler import SchedulerTargetSettings
from tests.integration.aws_network import (
    make_batch_network,
    make_batch_queue,
    make_scheduler_target,
    moto_applies_compute_resource_updates,
)
from tests.postgres import postgres_url  # noqa: F401


@pytest.fixture(scope="session")
def batch_network(aws_endpoint: str) -> Iterator[BatchSettings]:
    """``BatchSettings`` over a moto VPC, subnet, security group, roles and instance profile."""
    with moto_applies_compute_resource_updates():
        yield make_batch_network()


@pytest.fixture(scope="session")
def scheduler_target(aws_endpoint: str) -> SchedulerTargetSettings:
    """``SchedulerTargetSettings`` with a moto target queue, dead-letter queue and role."""
    return make_scheduler_target()


@pytest.fixture(scope="session")
def batch_queue(batch_network: BatchSettings) -> tuple[str, str]:
    """A moto Batch job queue and job definition jobs can be submitted to: (queue, definition)."""
    return make_batch_queue(batch_network)
