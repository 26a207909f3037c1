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
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import define, field, frozen

from overlord.domain.errors import IllegalTransition, InvalidInput, InvalidName
from overlord.domain.names import ConnectorName, TenantName, slug

_ID_LENGTH = 32


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
        if (
            not isinstance(value, str)
            or len(value) != _ID_LENGTH
            or any(c not in "0123456789abcdef" for c in value)
        ):
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


@define(kw_only=True)
class Run:
    """One attempt of a job on the backend."""

    attempt: int
    backend_job_id: str | None = None
    status: JobStatus = JobStatus.SUBMITTED
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    exit_code: int | None = None
    status_reason: str | None = None
    log_stream: str | None = None


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
    # Its job type's follow-up schedule switch is due and not yet made (services.follow_ups).
    follow_up_pending: bool = False

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
        )

    @property
    def finished(self) -> bool:
        return self.status.terminal

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

    def mark_submitted(self, backend_job_id: str, *, at: datetime) -> None:
        if self.status is not JobStatus.REQUESTED:
            raise IllegalTransition(f"job {self.id} is {self.status}, not REQUESTED")
        self.backend_job_id = backend_job_id
        self.advance(JobStatus.SUBMITTED, at=at)

    def mark_submit_failed(self, reason: str, *, at: datetime) -> None:
        if self.status is not JobStatus.REQUESTED:
            raise IllegalTransition(f"job {self.id} is {self.status}, not REQUESTED")
        self.advance(JobStatus.SUBMIT_FAILED, at=at, reason=reason)

    def cancel(self, reason: str, *, at: datetime) -> None:
        if self.status.terminal:
            raise IllegalTransition(f"job {self.id} already finished as {self.status}")
        self.advance(JobStatus.CANCELLED, at=at, reason=reason)
