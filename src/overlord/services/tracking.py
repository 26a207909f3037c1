"""Apply backends' job state changes to the tenant's jobs, runs and logs — idempotently.

Events arrive late, twice, and out of order (EventBridge promises neither order nor
exactly-once). `Job.track` only moves a job forward and merges each attempt's run, and the job
is saved whole with a version check, so any order and any duplication of a valid event
sequence gives the same final job and runs. An attempt's log lines are fetched once, when its
final state is known, stored in pages under derived ids before the save that marks them stored;
a crash in between fetches them again and stores nothing twice. The job type's follow-up
schedule switch due on success is marked in the same save that records SUCCEEDED and made
after it (`follow_ups`), so a redelivered event makes a switch a crash left pending.

Most events are old news (duplicates, and reports of states the job has passed). A tracker
remembers each job as it last read or saved it, when nothing (log lines, a follow-up switch) is
left to do on it. Every change `Job` allows moves a stored job only forward, so a change that is
no news to the remembered job (`Job.is_news`), from the backend job it follows, is no news to
the job stored now either, and is answered without reading it (at most ~10 MB of jobs are
remembered). News that cannot end an attempt is applied to the remembered job and saved with
the version check, which fails, and is done again on a fresh load, when another save landed
since; news that may end one (and so store log lines) is applied to a fresh load.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from overlord.domain.job_events import JobStateChange
from overlord.domain.jobs import Job, JobStatus
from overlord.ports.job_runner import JobRunner
from overlord.services.follow_ups import FollowUps
from overlord.services.job_repository import JobRepository

# How many jobs a tracker remembers, those last saved longest ago forgotten first: duplicates
# and late events come within minutes of the first, and a job kept costs about 2.5 KB.
REMEMBERED_JOBS = 4096


class TrackingService:
    def __init__(self, *, jobs: JobRepository, runner: JobRunner, follow_ups: FollowUps) -> None:
        self._jobs = jobs
        self._runner = runner
        self._follow_ups = follow_ups
        # The job as this tracker last read or saved it, by tenant and job id, if it was
        # settled: no log lines or follow-up switch left to do on it (whoever next reads a job
        # that has must do them). None is changed once kept: the repository changes a copy of
        # the one it is handed, callers only read them.
        self._seen: OrderedDict[tuple[str, str], Job] = OrderedDict()

    def apply(self, change: JobStateChange) -> Job | None:
        """Record one state change; returns the job as stored, or None for an unknown job or a
        change from a backend job the record no longer follows (one the sweeper replaced).

        A change that is no news to the job as this tracker last saw it returns that job,
        unread: read it, do not change it. (If a sweep in another process has replaced its
        backend job since, that is the job as it was before; the change is from a backend job
        the record no longer follows, and nothing is written either way.)
        """
        key = (change.tenant, change.job_id)
        seen = self._seen.get(key)
        if seen is not None and _old_news(seen, change):
            return seen

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

        # Starting from what was seen saves the load; the save's version check finds out if
        # it is out of date. Log lines are fetched and stored only on the job as stored now.
        known = seen if seen is not None and not seen.may_end_attempt(change) else None
        job = self._jobs.modify(change.tenant, change.job_id, track, known=known)
        if job is None:
            self._seen.pop(key, None)
            return None
        follows = job.follows(change.backend_job_id)
        if follows:
            self._follow_ups.apply(job)  # a failure is raised: the event comes again
        self._remember(key, job)
        return job if follows else None

    def apply_all(self, changes: Iterable[JobStateChange]) -> int:
        return sum(self.apply(change) is not None for change in changes)

    def _remember(self, key: tuple[str, str], job: Job) -> None:
        """Keep ``job`` as the latest seen of its key if it is settled; the jobs heard of
        longest ago go first. (Each step is one operation on the dict, so threads sharing the
        tracker never see it half done.)"""
        seen = self._seen
        seen.pop(key, None)
        if not job.follow_up_pending and not job.logs_due():
            seen[key] = job
        while len(seen) > REMEMBERED_JOBS:
            seen.popitem(last=False)

    def _store_logs(self, job: Job, attempt: int) -> None:
        """Fetch and store an attempt's lines, then mark them stored on ``job`` (saved by the
        caller): lines stored before a lost save or a crash are skipped when stored again."""
        backend_job_id = job.backend_job_id
        if backend_job_id is not None:
            lines = self._runner.logs(backend_job_id, job.backend_attempt(attempt))
            self._jobs.add_logs(job, attempt, lines)
        job.logs_stored(attempt)


def _old_news(seen: Job, change: JobStateChange) -> bool:
    """Whether ``change`` adds nothing to ``seen``, a settled job, nor to any later state of
    it: it is from the backend job ``seen`` follows and no news to it."""
    return seen.follows(change.backend_job_id) and not seen.is_news(change)
