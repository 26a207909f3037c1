"""The container closes what holds resources: a local batch's thread pool is gone once the
invocation's resources are shut down, and the next use builds a fresh engine."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from overlord.container import Container
from overlord.domain.batches import BatchStatus
from overlord.settings import Settings


def _pipeline_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """Engine threads alive now that were not before (other tests' engines may linger in this
    worker process)."""
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("overlord-pipeline") and t not in before
    ]


def test_shutting_down_closes_the_local_engine_and_the_next_use_builds_a_new_one(
    tmp_path: Path,
) -> None:
    before = set(threading.enumerate())
    container = Container.from_settings(Settings(profile="local", home=tmp_path))
    container.provisioning().apply("acme", "batch-manager")
    engine = container.workflow()
    body = {"batchId": "b1", "totalItems": 3, "batchSize": 2, "itemIds": ["a", "b", "c"]}
    batch_id = container.batches().start("acme", "batch-manager", body).batch.id
    deadline = time.monotonic() + 120
    while container.batches().get("acme", batch_id).status is BatchStatus.RUNNING:
        assert time.monotonic() < deadline, "the batch never settled"
        time.sleep(0.05)
    assert container.batches().get("acme", batch_id).status is BatchStatus.SUCCEEDED
    assert _pipeline_threads(before)

    container.shutdown_resources()

    assert _pipeline_threads(before) == []
    assert container.workflow() is not engine
