"""What a maintenance run did to each job it touched, for people (tables) and scripts (JSON)."""

from __future__ import annotations

import enum

from attrs import frozen


class RepairAction(enum.StrEnum):
    MATCHED = "matched"  # a backend job carried the record's name: tracking took it over
    RESUBMITTED = "resubmitted"  # no backend job had the name: submitted now
    DEFERRED = "deferred"  # the backend refused the repair; the job is left for the next run
    REFRESHED = "refreshed"  # the backend's state was pulled into tracking
    LOST = "lost"  # the backend forgot the job: recorded as FAILED
    WAITED = "waited"  # stuck, and the job type's policy is to wait
    FAILED = "failed"  # stuck, and the policy is to fail it
    REPLACED = "replaced"  # stuck, and the policy is to cancel and resubmit
    MOVED_ON = "moved-on"  # stuck, but it moved on while being replaced: replacement cancelled
    FOLLOWED_UP = "followed-up"  # a follow-up schedule switch left pending was made


@frozen
class Repair:
    tenant: str
    job_id: str
    action: RepairAction
    detail: str = ""
