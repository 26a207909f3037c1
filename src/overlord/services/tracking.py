"""Apply backends' job state changes to the tenant's jobs, runs and logs — idempotently.

Events arrive late, twice, and out of order (EventBridge promises neither order nor
exactly-once). `Job.track` only moves a job forward and merges each attempt's run, and the job
is saved whole with a version check, so any order and any duplication of a valid event
sequence gives the same final job and runs. An attempt's log lines are fetched once, when its
final state is known, stored in pages under derived ids before the save that marks them stored;
a crash in between fetches them again and stores nothing twice. The job type's follow-up
schedule switch due on success is marked in the same save that records SUCCEEDED and made
after it (`follow_ups`), so a redelivered event makes a switch a crash left pending.
"""

from __future__ import annotations

from collections.abc import Iterable

from overlord.domain.job_events import JobStateChange
from overlord.domain.jobs import Job, JobStatus
from overlord.ports.job_runner import JobRunner
from overlord.services.follow_ups import FollowUps
from overlord.services.job_repository import JobRepository


class TrackingService:
    def __init__(self, *, jobs: JobRepository, runner: JobRunner, follow_ups: FollowUps) -> None:
        self._jobs = jobs
        self._runner = runner
        self._follow_ups = follow_ups

    def apply(self, change: JobStateChange) -> Job | None:
        """Record one state change; returns the job as stored, or None for an unknown job or a
        change from a backend job the record no longer follows (one the sweeper replaced)."""

        def track(job: Job) -> bool:
            succeeded = job.status is JobStatus.SUCCEEDED
            changed = job.track(change)
            if (
                changed
                and not succeeded
                and job.status is JobStatus.SUCCEEDED
                and self._follow_ups.due_on_success(job)
            ):
                job.follow_up_due()  # saved with SUCCEEDED: no crash in between loses it
            for attempt in job.logs_due():
                self._store_logs(job, attempt)
                changed = True
            return changed

        job = self._jobs.modify(change.tenant, change.job_id, track)
        if job is None or not job.follows(change.backend_job_id):
            return None
        self._follow_ups.apply(job)  # a failure is raised: the event comes again
        return job

    def apply_all(self, changes: Iterable[JobStateChange]) -> int:
        return sum(self.apply(change) is not None for change in changes)

    def _store_logs(self, job: Job, attempt: int) -> None:
        """Fetch and store an attempt's lines, then mark them stored on ``job`` (saved by the
        caller): lines stored before a lost save or a crash are skipped when stored again."""
        backend_job_id = job.backend_job_id
        if backend_job_id is not None:
            lines = self._runner.logs(backend_job_id, job.backend_attempt(attempt))
            self._jobs.add_logs(job, attempt, lines)
        job.logs_stored(attempt)
