"""Finding jobs across tenants, and following one until it finishes.

A job id is a digest that already names its tenant, so a person holding only the id can find
the job by looking in every tenant. The local backend reports by being asked, so each lookup
first pulls the backend's view of unfinished jobs (`JobService.refresh`); on AWS that is a
DescribeJobs call next to the EventBridge events that already keep records current.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.status import Status
from rich.text import Text

from overlord.domain.errors import NotFound
from overlord.domain.jobs import Job, JobId, JobStatus
from overlord.domain.names import TenantName
from overlord.entrypoints.cli import errors

if TYPE_CHECKING:
    from overlord.container import Container
    from overlord.services.jobs import JobService

POLL_SECONDS = 0.2


def check_tenant(tenant: str | None) -> None:
    if tenant is not None:
        TenantName(tenant)


def tenant_names(container: Container) -> list[str]:
    return [summary.name for summary in container.tenants().list()]


def require_tenant(container: Container, tenant: str) -> None:
    if TenantName(tenant).value not in tenant_names(container):
        raise NotFound(f"no tenant {tenant!r}: see `overlord tenants list`")


def recent_jobs(
    container: Container, tenant: str | None, *, status: JobStatus | None = None
) -> list[Job]:
    """Jobs of one tenant or all, refreshed from the backend, oldest first."""
    if tenant is not None:
        require_tenant(container, tenant)
    jobs = container.jobs()
    found: list[Job] = []
    for name in [tenant] if tenant is not None else tenant_names(container):
        try:
            jobs.refresh(name)
            found.extend(jobs.list(name, status=status))
        except NotFound:
            continue  # a tenant whose provisioning stopped before its jobs collection
    return sorted(found, key=lambda job: (job.created_at, job.id.value))


def find_job(container: Container, job_id: str, tenant: str | None) -> Job:
    """The job, refreshed from the backend, from ``tenant`` or whichever tenant holds it."""
    JobId(job_id)
    if tenant is not None:
        require_tenant(container, tenant)
    names = [tenant] if tenant is not None else tenant_names(container)
    jobs = container.jobs()
    for name in names:
        try:
            jobs.refresh(name, job_id)
            return jobs.get(name, job_id)
        except NotFound:
            continue
    where = f"tenant {tenant!r}" if tenant is not None else "any tenant"
    raise NotFound(f"no job {job_id!r} in {where}")


class Progress:
    """Where ``--wait`` reports: a spinner on a terminal; otherwise (a CI log) one line per
    change of status when ``lines`` is set, nothing when it is not. Always on stderr, so
    stdout stays the command's result."""

    def __init__(self, *, lines: bool) -> None:
        self._console = Console(stderr=True, highlight=False)
        self._lines = lines
        self._status: Status | None = None
        self._last: tuple[JobStatus, int] | None = None

    def __enter__(self) -> Progress:
        if self._console.is_terminal:
            self._status = self._console.status("waiting for the job")
            self._status.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._status is not None:
            self._status.stop()

    def update(self, job: Job, elapsed: float) -> None:
        message = f"job {job.id}: {job.status} (attempt {job.attempt}), {elapsed:.0f}s"
        if self._status is not None:
            self._status.update(message)
        elif self._lines and self._last != (job.status, job.attempt):
            self._console.print(Text(message), soft_wrap=True)
        self._last = (job.status, job.attempt)


def wait_for(
    jobs: JobService, tenant: str, job_id: str, *, timeout: float, progress: Progress
) -> Job:
    """The job once it has finished, or as it is when ``timeout`` seconds have passed."""
    started = time.monotonic()
    while True:
        jobs.refresh(tenant, job_id)
        job = jobs.get(tenant, job_id)
        elapsed = time.monotonic() - started
        progress.update(job, elapsed)
        if job.finished or elapsed >= timeout:
            return job
        time.sleep(POLL_SECONDS)


def fail(message: str) -> NoReturn:
    """End with exit 1 and one line, after the result has been printed."""
    sys.stderr.write(f"error: {errors.one_line(message)}\n")
    sys.stderr.flush()
    raise typer.Exit(errors.FAILURE)
