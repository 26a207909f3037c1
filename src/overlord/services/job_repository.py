"""Jobs as aggregates in the tenant's document store: load one with its runs, save it whole.

A save is one compare-and-set on the job's ``version``: whoever loaded the job before another
save landed loses, reloads and applies its change again to what is stored now (`modify`). That
makes every rule of `Job` hold under concurrent trackers, sweeps and users without any service
knowing a document, a collection name or a condition. Log lines are stored apart from the job,
in pages written once per attempt (`add_logs`).
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from overlord.domain.errors import Contended, DuplicateKey
from overlord.domain.job_events import LogLine
from overlord.domain.jobs import Job, JobId, JobStatus, LogEntry
from overlord.domain.names import ConnectorName, Namespace, TenantName, tenant_database
from overlord.ports.document_store import DocumentStore
from overlord.services.job_records import (
    JOBS,
    LOGS,
    MUTABLE_FIELDS,
    job_changes,
    job_from_document,
    job_to_document,
    log_pages,
    logs_from_page,
)

# Far more rounds than any real contention needs; a job still contended after them is a bug
# or a storm, and is said so rather than spun on.
MODIFY_ROUNDS = 50


class JobRepository:
    def __init__(self, *, documents: DocumentStore, namespace: Namespace) -> None:
        self._documents = documents
        self._namespace = namespace
        self._databases: dict[str, str] = {}
        # What each job held when it was loaded or last saved, so that a save writes only the
        # fields that changed (the version check covers the rest). Keyed by the job object's
        # id, with a weak reference that drops the entry when the job is gone.
        self._stored: dict[int, tuple[weakref.ref[Job], dict[str, Any]]] = {}

    def database(self, tenant: str) -> str:
        """The tenant's database; each tenant's name is checked once."""
        found = self._databases.get(tenant)
        if found is None:
            found = self._databases[tenant] = tenant_database(self._namespace, TenantName(tenant))
        return found

    def add(self, job: Job) -> None:
        """Store a new job; `DuplicateKey` when a job of that id (the same request) exists."""
        job.version = 1
        try:
            self._documents.insert(self.database(job.tenant.value), JOBS, job_to_document(job))
        except DuplicateKey:
            job.version = 0
            raise
        self._remember(job, job_changes(job))

    def load(self, tenant: str, job_id: str) -> Job | None:
        doc = self._documents.get(self.database(tenant), JOBS, JobId(job_id).value)
        if doc is None:
            return None
        job = job_from_document(doc)
        self._remember(job, {name: doc.get(name) for name in MUTABLE_FIELDS})
        return job

    def save(self, job: Job) -> bool:
        """Write ``job`` if the stored one is still the version it was loaded at; False (and
        nothing written) when another save landed first."""
        current = job_changes(job)
        found = self._stored.get(id(job))
        stored = found[1] if found is not None and found[0]() is job else None
        changes: dict[str, Any] = (
            current
            if stored is None
            else {name: value for name, value in current.items() if stored.get(name) != value}
        )
        changes["version"] = job.version + 1
        # A record written before versions existed has none: None matches a missing field.
        expected = {"version": job.version or None}
        saved = self._documents.update(
            self.database(job.tenant.value), JOBS, job.id.value, changes, expected=expected
        )
        if saved:
            job.version += 1
            self._remember(job, current)
        return saved

    def _remember(self, job: Job, fields: dict[str, Any]) -> None:
        key, stored = id(job), self._stored

        def forget(_: object) -> None:
            stored.pop(key, None)

        stored[key] = (weakref.ref(job, forget), fields)

    def modify(
        self,
        tenant: str,
        job_id: str,
        change: Callable[[Job], bool],
        *,
        known: Job | None = None,
    ) -> Job | None:
        """Load the job, apply ``change`` and save it, again on a fresh load when a save lost
        a race; returns the job as stored (None when there is none).

        ``change`` returns whether it changed the job (nothing is written when it did not);
        an exception it raises (a rule of `Job` refusing the change) ends it with nothing
        written. `Contended` after `MODIFY_ROUNDS` lost races.

        ``known``, a job this repository loaded or saved before, saves the load: ``change`` is
        applied to a copy of it (``known`` itself is left as it is) and saved with the same
        version check, which fails if another save landed since. Then, and when ``change``
        finds nothing to do on what was known, it is applied to a fresh load as above. Pass it
        only for a change whose effects beyond the job do not depend on the job being current.
        """
        job = None if known is None else self._copy(known)
        for _ in range(MODIFY_ROUNDS):
            fresh = job is None
            if job is None:
                job = self.load(tenant, job_id)
                if job is None:
                    return None
            if change(job):
                if self.save(job):
                    return job
            elif fresh:
                return job
            job = None
        raise Contended(f"job {job_id} is contended: gave up after {MODIFY_ROUNDS} saves")

    def _copy(self, job: Job) -> Job:
        """A copy of ``job`` to change and save, remembered as stored as ``job`` was."""
        copied = job.copy()
        found = self._stored.get(id(job))
        if found is not None and found[0]() is job:
            self._remember(copied, found[1])
        return copied

    def find(
        self, tenant: str, *, status: JobStatus | None = None, connector: str | None = None
    ) -> builtins.list[Job]:
        """The tenant's jobs, oldest first."""
        where: dict[str, Any] = {}
        if status is not None:
            where["status"] = status.value
        if connector is not None:
            where["connector"] = ConnectorName(connector).value
        docs = self._documents.find(self.database(tenant), JOBS, where)
        return sorted((job_from_document(d) for d in docs), key=lambda j: j.created_at)

    def add_logs(self, job: Job, attempt: int, lines: Sequence[LogLine]) -> None:
        """Store an attempt's lines, a page per write; pages already stored (by a tracker
        that got there first, or before a crash) are left as they are."""
        database = self.database(job.tenant.value)
        for page in log_pages(job, attempt, lines):
            try:
                self._documents.insert(database, LOGS, page)
            except DuplicateKey:
                continue

    def logs(self, tenant: str, job_id: str) -> builtins.list[LogEntry]:
        """The stored lines of the job's attempts, in attempt and line order."""
        pages = self._documents.find(self.database(tenant), LOGS, {"job_id": job_id})
        return [entry for page in pages for entry in logs_from_page(page)]
