"""Switch a job type's follow-up schedule at least once, though a process may die in between.

``submit-feed`` switches the feed-status poll on when it is submitted; a poll that succeeds
switches it off. Either switch is a second write after the job's own record, so the record
carries ``follow_up_pending`` from the moment the switch is due (the ledger insert, or the
compare-and-set that records SUCCEEDED) until it was made. Whoever next sees the job — a repeat
of the submission, a redelivered state change, `overlord jobs reconcile` — makes it again;
switching a schedule to the state it is in changes nothing, so twice is as good as once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from overlord.domain.errors import NotFound
from overlord.domain.jobs import Job, JobStatus
from overlord.domain.names import Namespace
from overlord.ports.document_store import DocumentStore
from overlord.ports.scheduler import Scheduler
from overlord.services.job_repository import JobRepository
from overlord.services.targets import read_target

if TYPE_CHECKING:
    from overlord.domain.connectors import FollowUp, FollowUpTrigger, JobTypeSpec

# The switch is not made for a job that never ran, whatever its trigger.
_NEVER_RAN = (JobStatus.SUBMIT_FAILED, JobStatus.CANCELLED)


def due(spec: JobTypeSpec, trigger: FollowUpTrigger) -> bool:
    """Whether ``spec`` switches a schedule when its job reaches ``trigger``."""
    return spec.follow_up is not None and spec.follow_up.when is trigger


class FollowUps:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        documents: DocumentStore,
        scheduler: Scheduler,
        namespace: Namespace,
    ) -> None:
        self._jobs = jobs
        self._documents = documents
        self._scheduler = scheduler
        self._namespace = namespace

    def due_on_success(self, job: Job) -> bool:
        """Whether ``job``'s type switches a schedule once it has succeeded: as its record
        says, else (a record older than that) as its connector's template says now."""
        if job.follow_up_on_success is not None:
            return job.follow_up_on_success
        found = self._follow_up(job)
        from overlord.domain.connectors import FollowUpTrigger  # only a template has them

        return found is not None and found[1].when is FollowUpTrigger.SUCCEEDED

    def apply(self, job: Job) -> bool:
        """Make ``job``'s pending switch and clear the mark; False if none was pending.

        `BackendError` from the scheduler leaves the mark for the next one who sees the job."""
        if not job.follow_up_pending:
            return False
        found = self._follow_up(job)
        if found is not None and job.status not in _NEVER_RAN:
            from overlord.domain.connectors import FollowUpAction

            names, follow_up = found
            self._scheduler.set_enabled(
                names["schedule_group"],
                names["schedules"][follow_up.schedule],
                follow_up.action is FollowUpAction.ENABLE,
            )
        self._jobs.modify(job.tenant.value, job.id.value, Job.follow_up_made)
        job.follow_up_made()
        return True

    def _follow_up(self, job: Job) -> tuple[Mapping[str, Any], FollowUp] | None:
        """The connector's resource names and the job type's follow-up; None when there is
        none, also once the connector or job type is no longer provisioned (its schedules
        went with it, so there is nothing left to switch)."""
        try:
            target = read_target(
                self._documents, self._namespace, job.tenant.value, job.connector.value
            )
            follow_up = target.template.job_type(job.job_type).follow_up
        except NotFound:
            return None
        return None if follow_up is None else (target.names, follow_up)
