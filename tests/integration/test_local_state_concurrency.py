"""Processes (and threads) writing the same local state at once all keep their writes.

The local profile's CLI, ``overlord serve`` and a tick loop are separate processes sharing one
home; a read-modify-write without the file lock would silently drop one side's resources.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from overlord.adapters.local.compute import LocalComputeProvisioner
from overlord.adapters.local.scheduler import LocalScheduler
from overlord.domain.connectors import ComputeType
from overlord.domain.infrastructure import ComputeEnvironmentSpec

ROUNDS = 40

_COMPUTE_WRITER = """
import sys, time
from pathlib import Path
from overlord.adapters.local.compute import LocalComputeProvisioner
from overlord.domain.connectors import ComputeType, JobDefinitionSpec
from overlord.domain.infrastructure import ComputeEnvironmentSpec, JobQueueSpec

root, tag, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
while not (root / "go").exists():
    time.sleep(0.001)
compute = LocalComputeProvisioner(root)
for i in range(rounds):
    compute.ensure_compute_environment(
        ComputeEnvironmentSpec(name=f"{tag}-ce-{i}", type=ComputeType.FARGATE, max_vcpus=4)
    )
    compute.ensure_job_queue(
        JobQueueSpec(name=f"{tag}-jq-{i}", compute_environment=f"{tag}-ce-{i}", priority=1)
    )
    compute.register_job_definition("shared", JobDefinitionSpec(image=tag, command=(str(i),)))
"""

_SCHEDULE_WRITER = """
import sys, time
from pathlib import Path
from overlord.adapters.local.scheduler import LocalScheduler
from overlord.domain.infrastructure import ScheduleDefinition, ScheduleTarget

root, tag, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
while not (root / "go").exists():
    time.sleep(0.001)
scheduler = LocalScheduler(root)
target = ScheduleTarget(tenant="acme", connector="orders", job_type="sync")
for i in range(rounds):
    scheduler.ensure_schedule(
        ScheduleDefinition(
            group="shared", name=f"{tag}-{i:03d}", expression="rate(5 minutes)",
            timezone="UTC", target=target,
        )
    )
"""


def run_together(script: str, root: Path, tags: list[str]) -> None:
    """Start one writer per tag, release them at the same moment, and wait for all."""
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script), str(root), tag, str(ROUNDS)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in tags
    ]
    time.sleep(0.3)
    (root / "go").touch()
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors


def test_two_processes_provisioning_at_once_both_keep_their_resources(tmp_path: Path) -> None:
    run_together(_COMPUTE_WRITER, tmp_path, ["left", "right"])

    compute = LocalComputeProvisioner(tmp_path)
    assert compute.count_compute_environments() == 2 * ROUNDS
    assert compute.count_job_queues() == 2 * ROUNDS
    for tag in ("left", "right"):
        for i in range(ROUNDS):
            assert compute.describe_compute_environment(f"{tag}-ce-{i}") is not None
            queue = compute.describe_job_queue(f"{tag}-jq-{i}")
            assert queue is not None
            assert queue.spec.compute_environment == f"{tag}-ce-{i}"
    latest = compute.describe_job_definition("shared")
    assert latest is not None
    assert latest.revision == 2 * ROUNDS


def test_two_processes_scheduling_at_once_both_keep_their_schedules(tmp_path: Path) -> None:
    run_together(_SCHEDULE_WRITER, tmp_path, ["left", "right"])

    names = [s.name for s in LocalScheduler(tmp_path).list_schedules("shared")]
    assert names == sorted(f"{tag}-{i:03d}" for tag in ("left", "right") for i in range(ROUNDS))


def test_threads_sharing_one_provisioner_keep_every_write(tmp_path: Path) -> None:
    compute = LocalComputeProvisioner(tmp_path)

    def provision(tag: str) -> None:
        for i in range(ROUNDS):
            compute.ensure_compute_environment(
                ComputeEnvironmentSpec(name=f"{tag}-ce-{i}", type=ComputeType.EC2, max_vcpus=2)
            )

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(provision, ["a", "b", "c", "d"]))

    assert compute.count_compute_environments() == 4 * ROUNDS
