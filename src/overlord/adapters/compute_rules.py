"""AWS Batch's rules for changing compute resources in place, shared by the adapters that
imitate Batch (memory, local) so that a change Batch would refuse fails on one machine too."""

from __future__ import annotations

from overlord.domain.connectors import ComputeType
from overlord.domain.errors import Conflict


def check_type_kept(name: str, current: ComputeType, wanted: ComputeType) -> None:
    if current is not wanted:
        raise Conflict(
            f"compute environment {name!r} runs on {current.value}, not {wanted.value}: Batch "
            "cannot change an environment's type; delete its queue and it, then apply again"
        )


def check_scheduling_kept(name: str, fair_share: bool, wanted: bool) -> None:
    if fair_share != wanted:
        raise Conflict(
            f"job queue {name!r}: Batch cannot switch a queue between FIFO and fair-share "
            "scheduling; delete the queue and apply again"
        )
