"""Running jobs: subprocesses locally, AWS Batch (with CloudWatch Logs) on AWS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from overlord.domain.job_events import JobStateChange, LogLine, SubmitRequest


class JobRunner(Protocol):
    """Backends report state changes to the tracking service on their own (a local supervisor,
    Batch's EventBridge events); `describe` is the pull side used by reconcile and sweep.

    ``inline_payload_bytes`` is the largest payload the backend takes inside the request; a
    larger one travels by reference to the object store."""

    inline_payload_bytes: int

    def submit(self, request: SubmitRequest) -> str:
        """Start the job exactly once; returns the backend's job id.

        `Throttled`/`BackendError` when the backend refused it; `OutcomeUnknown` when the
        backend may hold the job under ``request.job_name`` but did not say so. Never two
        backend jobs for one call, so an adapter retries only requests it knows were refused."""

    def describe(self, backend_job_ids: Sequence[str]) -> list[JobStateChange]:
        """The current state of each known job; unknown ids are left out."""

    def find(self, job_name: str) -> list[JobStateChange]:
        """Backend jobs carrying this name (how reconcile matches records to backend jobs)."""

    def cancel(self, backend_job_id: str, reason: str) -> None:
        """Stop the job if it is still going; no error if it already finished or is unknown.

        A stopped job ends CANCELLED with ``reason`` as its status reason where the backend has
        that state (memory, local); AWS Batch has none and reports it FAILED with the reason.
        Either way it is terminal, and tracking keeps the platform's own CANCELLED record."""

    def logs(self, backend_job_id: str, attempt: int) -> list[LogLine]:
        """Log lines of one attempt, oldest first; empty when there are none (yet)."""
