"""Jobs, their runs and log lines, and the forward-only status lifecycle.

A job's id is a digest of the request itself, so the same request always names the same job and
a second submission finds the first. Status changes arrive from backends late, twice or out of
order; `Job.advance` accepts only moves forward in (attempt, status rank) order, so replaying any
valid event sequence in any order ends in the same job.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from attrs import define, evolve, field, frozen

from overlord.domain.errors import IllegalTransition, InvalidInput, InvalidName
from overlord.domain.names import ConnectorName, TenantName, slug

if TYPE_CHECKING:
    from overlord.domain.job_events import AttemptReport, JobStateChange

_ID_LENGTH = 32
_ID_PATTERN = re.compile(f"[0-9a-f]{{{_ID_LENGTH}}}")


class JobStatus(enum.StrEnum):
    REQUESTED = "REQUESTED"
    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SUBMIT_FAILED = "SUBMIT_FAILED"
    CANCELLED = "CANCELLED"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


_RANK = {s: i for i, s in enumerate(JobStatus)}
# Terminal states share the top rank: none may follow another.
for _s in (JobStatus.FAILED, JobStatus.SUBMIT_FAILED, JobStatus.CANCELLED):
    _RANK[_s] = _RANK[JobStatus.SUCCEEDED]
TERMINAL = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.SUBMIT_FAILED, JobStatus.CANCELLED}
)

# Waiting to run: where a job can be stuck (a queue that never schedules it).
STUCK = frozenset({JobStatus.SUBMITTED, JobStatus.PENDING, JobStatus.RUNNABLE, JobStatus.STARTING})


# Deep enough for any real payload, shallow enough for every document store and for recursion.
MAX_PAYLOAD_DEPTH = 64


def _text(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{path}: text holds a lone surrogate, which is not Unicode") from None
    return value


def _normalise(value: Any, path: str = "payload", depth: int = 0) -> Any:
    """Canonical JSON value: integral floats become ints; NaN, infinities, lone surrogates,
    nesting deeper than `MAX_PAYLOAD_DEPTH` and non-JSON values refused."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{path}: NaN and infinities are not JSON")
        # Every integral float in the 64-bit range becomes the int it equals, so 2**53 and 2.0**53
        # name one job; larger ones stay floats, which document stores can still hold.
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if not isinstance(value, Mapping | list | tuple):
        raise InvalidInput(f"{path}: {type(value).__name__} is not a JSON value")
    if depth >= MAX_PAYLOAD_DEPTH:
        raise InvalidInput(f"{path}: nested deeper than {MAX_PAYLOAD_DEPTH} levels")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{path}: object keys must be strings")
            out[_text(key, path)] = _normalise(item, f"{path}.{key}", depth + 1)
        return out
    return [_normalise(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]


def canonical_json(value: Any) -> str:
    """One text per JSON value, whatever the key order or number spelling of the input."""
    return _dumps(_normalise(value))


def _dumps(normalised: Any) -> str:
    return json.dumps(
        normalised,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


@frozen
class JobId:
    value: str = field()

    @value.validator
    def _check(self, _: object, value: str) -> None:
        if not isinstance(value, str) or _ID_PATTERN.fullmatch(value) is None:
            raise InvalidName(f"invalid job id {str(value)[:40]!r}")

    @classmethod
    def for_request(
        cls,
        tenant: TenantName,
        connector: ConnectorName,
        job_type: str,
        payload: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> JobId:
        """Digest of the request: equal requests give equal ids.

        >>> acme, weather = TenantName("acme"), ConnectorName("weather")
        >>> a = JobId.for_request(acme, weather, "ingest", {"a": 1, "b": 2})
        >>> a == JobId.for_request(acme, weather, "ingest", {"b": 2, "a": 1})
        True
        """
        # The payload's own depth is what the nesting limit counts, not the wrapper's.
        parts = [tenant.value, connector.value, job_type, idempotency_key]
        material = _dumps([*_normalise(parts, "request"), _normalise(payload)])
        return cls(hashlib.sha256(material.encode("utf-8")).hexdigest()[:_ID_LENGTH])

    def __str__(self) -> str:
        return self.value


# What an attempt's report may tell of its run, each taken by the same rule (`Run._takes`).
_REPORTED = ("started_at", "stopped_at", "exit_code", "status_reason", "log_stream")


@define(kw_only=True)
class Run:
    """One attempt of a job on the backend.

    Reports of an attempt arrive in any order; `merge` lets the most advanced report's fields
    win and never erases a known value, so any order of the same reports gives the same run.
    ``logs_stored`` says its log lines were stored, which is done once, when its final state is
    known.
    """

    attempt: int
    backend_job_id: str | None = None
    status: JobStatus = JobStatus.SUBMITTED
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    exit_code: int | None = None
    status_reason: str | None = None
    log_stream: str | None = None
    logs_stored: bool = False

    def merge(
        self, status: JobStatus, report: AttemptReport | None, backend_job_id: str | None
    ) -> bool:
        """Take what ``report`` (seen in ``status``) adds; return whether anything changed."""
        ahead = status.rank > self.status.rank
        changed = self._take("backend_job_id", backend_job_id, ahead)
        if report is not None:
            for name in _REPORTED:
                # Not `any(...)`: every field must be taken, not just the first that changes.
                changed = self._take(name, getattr(report, name), ahead) | changed
        if ahead:
            self.status = status
            changed = True
        return changed

    def adds(
        self, status: JobStatus, report: AttemptReport | None, backend_job_id: str | None
    ) -> bool:
        """Whether `merge` would change the run; nothing is changed."""
        if status.rank > self.status.rank:
            return True
        takes = self._takes  # behind or level with the run: it takes only what it lacks
        if takes("backend_job_id", backend_job_id, False):
            return True
        if report is not None:
            for name in _REPORTED:
                if takes(name, getattr(report, name), False):
                    return True
        return False

    def _take(self, name: str, value: object, ahead: bool) -> bool:
        if not self._takes(name, value, ahead):
            return False
        setattr(self, name, value)
        return True

    def _takes(self, name: str, value: object, ahead: bool) -> bool:
        """A known value is taken from a report ahead of the run, or when the run has none."""
        if value is None:
            return False
        current = getattr(self, name)
        return current != value and (ahead or current is None)

    @property
    def finished(self) -> bool:
        return self.status.terminal


@frozen(kw_only=True)
class LogEntry:
    """One log line of a run, carrying everything needed to find it again."""

    tenant: str
    connector: str
    job_id: str
    attempt: int
    sequence: int
    at: datetime
    stream: str
    message: str


@define(kw_only=True)
class Job:
    """A connector's job and its runs: the aggregate tracking, sweeps and submission change.

    Every change goes through a method here that refuses what the job's state does not allow;
    services load a job, call one, and save it with the optimistic ``version`` check
    (`JobRepository.modify`), so a lost race is retried on the fresh job, never merged blindly.
    """

    id: JobId
    tenant: TenantName
    connector: ConnectorName
    job_type: str
    payload: dict[str, Any]
    status: JobStatus
    attempt: int
    created_at: datetime
    updated_at: datetime
    backend_job_id: str | None = None
    status_reason: str | None = None
    idempotency_key: str | None = None
    runs: list[Run] = field(factory=list)
    # Replacing a stuck backend job (see services.replacement): how many replacements there
    # were, the one under way if any, and the backend jobs replaced but maybe not yet stopped.
    replacements: int = 0
    replacing: int | None = None
    superseded: tuple[str, ...] = ()
    # The attempts that ran on backend jobs replaced since: the backend job the record follows
    # numbers its attempts from 1, and they continue the job's after this many.
    attempt_base: int = 0
    # Its job type's follow-up schedule switch is due and not yet made (services.follow_ups).
    follow_up_pending: bool = False
    # Whether its job type switches a follow-up schedule once it has succeeded, as the template
    # said when it was submitted: known with the job, tracking a success reads no template
    # (None: a record from before this was kept, whose template is read instead).
    follow_up_on_success: bool | None = None
    # The stored record's version this job was loaded at (0: never stored); the repository's
    # compare-and-set checks it and moves it on.
    version: int = 0

    @classmethod
    def request(
        cls,
        *,
        tenant: TenantName,
        connector: ConnectorName,
        job_type: str,
        payload: Mapping[str, Any],
        at: datetime,
        idempotency_key: str | None = None,
        follow_up_on_success: bool | None = None,
    ) -> Job:
        if not isinstance(payload, Mapping):
            raise InvalidInput("the payload must be a JSON object")
        slug("job type", job_type)
        canonical = _normalise(payload)
        return cls(
            id=JobId.for_request(tenant, connector, job_type, canonical, idempotency_key),
            tenant=tenant,
            connector=connector,
            job_type=job_type,
            payload=canonical,
            status=JobStatus.REQUESTED,
            attempt=0,
            created_at=at,
            updated_at=at,
            idempotency_key=idempotency_key,
            follow_up_on_success=follow_up_on_success,
        )

    @property
    def finished(self) -> bool:
        return self.status.terminal

    def copy(self) -> Job:
        """A copy to change apart from this job: its runs are copies, every other field is a
        value that no method changes in place."""
        return evolve(self, runs=[evolve(run) for run in self.runs])

    def can_advance(self, status: JobStatus, attempt: int) -> bool:
        """True when (attempt, status) is strictly ahead of where the job is."""
        if self.status.terminal:
            return False
        return (attempt, status.rank) > (self.attempt, self.status.rank)

    def advance(
        self,
        status: JobStatus,
        *,
        at: datetime,
        attempt: int | None = None,
        reason: str | None = None,
    ) -> bool:
        """Move forward if the change is news; return whether anything changed.

        Late and duplicated events are ignored rather than refused: backends deliver them
        routinely and they carry nothing new.
        """
        attempt = self.attempt if attempt is None else attempt
        if not self.can_advance(status, attempt):
            return False
        self.status = status
        self.attempt = attempt
        self.updated_at = max(self.updated_at, at)
        # The reason belongs to the state it explains: whichever order events arrive in, the
        # final job carries the final state's reason.
        self.status_reason = reason
        return True

    def follows(self, backend_job_id: str) -> bool:
        """Whether reports of ``backend_job_id`` are this job's: not those of a backend job a
        sweep replaced."""
        return self.backend_job_id is None or self.backend_job_id == backend_job_id

    def track(self, change: JobStateChange) -> bool:
        """Apply a backend's report of the job; return whether anything changed.

        The job only moves forward; each attempt's run takes what the report adds (earlier
        attempts ended, since another followed). A report of a backend job the record no
        longer follows changes nothing. Attempts of a replacement backend job are numbered
        after ``attempt_base``.
        """
        if not self.follows(change.backend_job_id):
            return False
        attempt = change.attempt + self.attempt_base
        changed = self.advance(
            change.status, at=change.at, attempt=attempt, reason=change.status_reason
        )
        if self.backend_job_id is None and change.backend_job_id:
            self.backend_job_id = change.backend_job_id
            changed = True
        runs = self.runs
        for number, status, report in self._reported(change, attempt):
            # Runs are numbered 1, 2, ... with none missing: tracking makes each one up to
            # the attempt it hears of.
            if number > len(runs):
                runs.append(Run(attempt=number, status=status))
                changed = True
            changed = runs[number - 1].merge(status, report, change.backend_job_id) | changed
        return changed

    def is_news(self, change: JobStateChange) -> bool:
        """Whether `track` would change the job; nothing is changed. A report of a backend job
        the record no longer follows is no news.

        Every method here moves a job only forward, so a change from the backend job it follows
        that is no news to it is no news to any later state of it either. (A replacement moves
        it on to another backend job, whose reports an earlier state does not follow.)
        """
        if not self.follows(change.backend_job_id):
            return False
        attempt = change.attempt + self.attempt_base
        runs = self.runs
        if (
            self.can_advance(change.status, attempt)
            or (self.backend_job_id is None and bool(change.backend_job_id))
            or attempt > len(runs)
        ):
            return True
        for number, status, report in self._reported(change, attempt):
            if runs[number - 1].adds(status, report, change.backend_job_id):
                return True
        return False

    def may_end_attempt(self, change: JobStateChange) -> bool:
        """Whether tracking ``change`` may end one of the job's attempts (and so make its log
        lines due): it reports a final state, or a later attempt than the job's, which ends the
        ones before it."""
        return change.status.terminal or change.attempt + self.attempt_base > self.attempt

    def _reported(
        self, change: JobStateChange, attempt: int
    ) -> list[tuple[int, JobStatus, AttemptReport | None]]:
        """What ``change`` says of each of the job's attempts up to its own (``attempt``, in
        the job's numbering): the status each is in, and the backend's report of it if any."""
        base = self.attempt_base
        reports = {report.attempt + base: report for report in change.attempts}
        failed, last = JobStatus.FAILED, change.status
        return [
            (number, failed if number < attempt else last, reports.get(number))
            for number in range(1, attempt + 1)
        ]

    def logs_due(self) -> list[int]:
        """Attempts whose final state is known and whose log lines are not stored yet; those
        up to ``attempt_base`` ran on a backend job the record no longer follows."""
        return [
            run.attempt
            for run in self.runs
            if run.finished and not run.logs_stored and run.attempt > self.attempt_base
        ]

    def logs_stored(self, attempt: int) -> None:
        for run in self.runs:
            if run.attempt == attempt:
                run.logs_stored = True
                return
        raise IllegalTransition(f"job {self.id} has no attempt {attempt}")

    def backend_attempt(self, attempt: int) -> int:
        """The backend job's own number of the job's ``attempt``."""
        return attempt - self.attempt_base

    def follow_up_due(self) -> None:
        """Mark the job type's follow-up switch due, with the change that makes it due."""
        self.follow_up_pending = True

    def follow_up_made(self) -> bool:
        """Clear the mark; False when no switch was pending."""
        if not self.follow_up_pending:
            return False
        self.follow_up_pending = False
        return True

    def mark_submitted(self, backend_job_id: str, *, at: datetime) -> None:
        self._requested()
        self.backend_job_id = backend_job_id
        self.advance(JobStatus.SUBMITTED, at=at)

    def mark_submit_failed(self, reason: str, *, at: datetime) -> None:
        self._requested()
        self.advance(JobStatus.SUBMIT_FAILED, at=at, reason=reason)

    def mark_outcome_unknown(self, reason: str) -> None:
        """The backend may hold the job: it stays REQUESTED, with the reason, for reconcile."""
        self._requested()
        self.status_reason = reason

    def _requested(self) -> None:
        if self.status is not JobStatus.REQUESTED:
            raise IllegalTransition(f"job {self.id} is {self.status}, not REQUESTED")

    def cancel(self, reason: str, *, at: datetime) -> None:
        if self.status.terminal:
            raise IllegalTransition(f"job {self.id} already finished as {self.status}")
        self.advance(JobStatus.CANCELLED, at=at, reason=reason)

    def fail(self, reason: str, *, at: datetime) -> bool:
        """End the current attempt as FAILED (a job the backend lost, or one stuck for good);
        False when it already finished."""
        return self.advance(JobStatus.FAILED, at=at, attempt=self.attempt, reason=reason)

    def note_stuck(self, detail: str, *, seen: JobStatus) -> bool:
        """Record why the job is still waiting, unless it moved on from ``seen``."""
        if self.status is not seen or self.status_reason == detail:
            return False
        self.status_reason = detail
        return True

    def begin_replacement(self, stuck: str, *, seen: JobStatus) -> int:
        """Mark a replacement of backend job ``stuck`` under way and return its number;
        `IllegalTransition` when the job moved on from how the sweep saw it."""
        self._still_stuck(stuck, seen)
        self.replacing = self.replacements + 1
        return self.replacing

    def switch_to_replacement(
        self,
        number: int,
        backend_job_id: str,
        *,
        stuck: str,
        seen: JobStatus,
        reason: str,
        at: datetime,
    ) -> None:
        """Follow replacement ``number`` from now on; the stuck job is listed as superseded
        until it is stopped, and the replacement's attempts continue this job's."""
        self._still_stuck(stuck, seen)
        if self.replacing != number:
            raise IllegalTransition(f"job {self.id} is not making replacement {number}")
        self.backend_job_id = backend_job_id
        self.attempt_base = self.attempt if self.attempt > 0 else 1
        self.replacements = number
        self.replacing = None
        self.superseded = (*self.superseded, stuck)
        self.status_reason = reason
        self.updated_at = max(self.updated_at, at)

    def abandon_replacement(self, number: int) -> bool:
        """Give up replacement ``number``; its number is spent, so that a later replacement is
        never taken for this one. False when it is not the one under way."""
        if self.replacing != number:
            return False
        self.replacing = None
        self.replacements = number
        return True

    def superseded_stopped(self, *, replacements: int) -> bool:
        """Forget the superseded backend jobs, now stopped, unless a replacement was made since
        ``replacements`` was read (its stuck job is on the list, maybe still running)."""
        if self.replacements != replacements or not self.superseded:
            return False
        self.superseded = ()
        return True

    def _still_stuck(self, stuck: str, seen: JobStatus) -> None:
        if self.backend_job_id != stuck or self.status is not seen:
            raise IllegalTransition(f"job {self.id} moved on: it is {self.status} now")
