"""Jobs as real subprocesses on this machine, each watched by its own detached supervisor.

The local profile has no server, yet a job must keep running after the CLI command that
submitted it has exited, and must be describable from any later command. So `submit` writes the
job's directory and hands it to a detached supervisor process (`overlord.adapters.local.
supervisor`, which also defines the directory's format), and every other method reads what the
supervisor recorded there. Cancel writes the CANCELLED status under the supervisor's lock and
signals the running attempt's process group.

The injected clock stamps what this runner records itself (submission, cancellation, a lost
supervisor); the supervisor stamps the rest with the machine's clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from overlord.adapters.local import supervisor as files
from overlord.domain.errors import BackendError
from overlord.domain.job_events import AttemptReport, JobStateChange, LogLine, SubmitRequest
from overlord.domain.job_protocol import HOME, PROFILE
from overlord.domain.jobs import JobStatus
from overlord.ports.clock import Clock

TENANT_TAG = "overlord:tenant"
_BACKEND_ID = re.compile(r"[0-9a-f]{32}")
_INTERPRETERS = ("python", "python3")
_START_TIMEOUT_SECONDS = 30


class LocalJobRunner:
    """Job directories live under ``root``; job names are indexed under ``root / "names"``.

    ``home`` is the local profile's state folder: each job is told it (``OVERLORD_PROFILE=local``
    and ``OVERLORD_HOME``), so that the job SDK reads a payload stored by reference from the
    object store the submitter wrote it to, whatever the job inherits from the submitter.
    """

    # As on AWS Batch, so that a job that runs locally takes the same payload path on AWS.
    inline_payload_bytes = 24 * 1024

    def __init__(self, root: Path, clock: Clock, *, home: Path | None = None) -> None:
        # Absolute, so the detached supervisor and later commands agree on it whatever the cwd.
        self._root = root.absolute()
        self._clock = clock
        self._profile_environment = (
            {} if home is None else {PROFILE: "local", HOME: str(home.absolute())}
        )

    def submit(self, request: SubmitRequest) -> str:
        if not request.command:
            raise BackendError(f"job {request.job_name!r} has no command to run")
        backend_id = uuid.uuid4().hex
        job_dir = self._root / backend_id
        at = self._clock.now().isoformat()
        try:
            job_dir.mkdir(parents=True)
            files.write_json(
                job_dir / files.REQUEST, _request_document(request, self._profile_environment)
            )
            files.write_json(
                job_dir / files.STATE,
                {
                    "status": JobStatus.SUBMITTED.value,
                    "attempt": 1,
                    "status_reason": None,
                    "created_at": at,
                    "updated_at": at,
                    "attempts": [],
                    "pid": None,
                    "supervisor_pid": None,
                },
            )
            self._index(request.job_name, backend_id)
            self._start_supervisor(job_dir)
        except (OSError, BackendError) as exc:
            shutil.rmtree(job_dir, ignore_errors=True)
            detail = exc.message if isinstance(exc, BackendError) else str(exc)
            raise BackendError(f"cannot start local job {request.job_name!r}: {detail}") from None
        return backend_id

    def describe(self, backend_job_ids: Sequence[str]) -> list[JobStateChange]:
        changes = (self._describe(i) for i in dict.fromkeys(backend_job_ids))
        return [change for change in changes if change is not None]

    def find(self, job_name: str) -> list[JobStateChange]:
        try:
            text = self._name_file(job_name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return self.describe(text.split())

    def cancel(self, backend_job_id: str, reason: str) -> None:
        """CANCELLED with the reason, and SIGTERM to the running attempt's process group (the
        supervisor follows up with SIGKILL); a finished or unknown job is left as it is."""
        job_dir = self._job_dir(backend_job_id)
        if job_dir is None:
            return
        at = self._clock.now().isoformat()
        with files.locked_state(job_dir) as state:
            if state["status"] in files.TERMINAL:
                return
            state.update(status=JobStatus.CANCELLED.value, status_reason=reason, updated_at=at)
            for entry in state.get("attempts", []):
                # The job is finished from now on, so no later describe would show the stop.
                if entry.get("started_at") and not entry.get("stopped_at"):
                    entry.update(stopped_at=at, status_reason=reason)
            if state.get("pid"):
                files.signal_group(state["pid"], signal.SIGTERM)

    def logs(self, backend_job_id: str, attempt: int) -> list[LogLine]:
        job_dir = self._job_dir(backend_job_id)
        if job_dir is None or attempt < 1:
            return []
        return [
            LogLine(
                at=datetime.fromisoformat(entry["at"]),
                message=entry["message"],
                stream=entry["stream"],
            )
            for entry in files.log_entries(job_dir / files.log_name(attempt))
        ]

    # internals

    def _job_dir(self, backend_job_id: str) -> Path | None:
        if not _BACKEND_ID.fullmatch(backend_job_id):
            return None
        job_dir = self._root / backend_job_id
        return job_dir if (job_dir / files.STATE).is_file() else None

    def _name_file(self, job_name: str) -> Path:
        return self._root / "names" / hashlib.sha256(job_name.encode()).hexdigest()[:40]

    def _index(self, job_name: str, backend_id: str) -> None:
        path = self._name_file(job_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{backend_id}\n".encode())
        finally:
            os.close(fd)

    def _start_supervisor(self, job_dir: Path) -> None:
        """Start the supervisor and wait until it has daemonised and recorded itself."""
        with open(job_dir / files.SUPERVISOR_LOG, "ab") as errors:
            starter = subprocess.Popen(
                [sys.executable, "-m", "overlord.adapters.local.supervisor", str(job_dir)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
            )
        try:
            code = starter.wait(timeout=_START_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            starter.kill()
            starter.wait()
            code = None
        if code != 0:
            detail = (job_dir / files.SUPERVISOR_LOG).read_text(errors="replace").strip()
            raise BackendError(f"its supervisor did not start ({detail[-500:] or f'exit {code}'})")

    def _describe(self, backend_job_id: str) -> JobStateChange | None:
        job_dir = self._job_dir(backend_job_id)
        if job_dir is None:
            return None
        try:
            request = files.read_json(job_dir / files.REQUEST)
            state = files.read_json(job_dir / files.STATE)
        except FileNotFoundError:
            return None
        at = datetime.fromisoformat(state["updated_at"])
        status, reason = JobStatus(state["status"]), state.get("status_reason")
        pid = state.get("supervisor_pid")
        if not status.terminal and pid and not _alive(pid):
            # It writes its final state before it exits: read again before calling it lost.
            state = files.read_json(job_dir / files.STATE)
            at = datetime.fromisoformat(state["updated_at"])
            status, reason = JobStatus(state["status"]), state.get("status_reason")
            if not status.terminal:
                status, at = JobStatus.FAILED, self._clock.now()
                reason = (
                    f"the local supervisor (pid {pid}) stopped before the job finished; "
                    f"see {job_dir / files.SUPERVISOR_LOG}"
                )
        return JobStateChange(
            tenant=request["tenant"],
            job_id=request["job_id"],
            backend_job_id=backend_job_id,
            job_name=request["job_name"],
            status=status,
            attempt=state["attempt"],
            at=at,
            status_reason=reason,
            attempts=tuple(_attempt(r) for r in state.get("attempts", [])),
        )


def _request_document(request: SubmitRequest, told: dict[str, str]) -> dict[str, Any]:
    """What the supervisor runs; ``told`` is what this runner adds to the job's environment."""
    command = list(request.command)
    argv = [sys.executable if command[0] in _INTERPRETERS else command[0], *command[1:]]
    tags = dict(request.tags)
    return {
        "job_id": request.job_id,
        "job_name": request.job_name,
        "tenant": tags.get(TENANT_TAG, ""),
        "tags": tags,
        "queue": request.queue,
        "definition": request.definition,
        "share_identifier": request.share_identifier,
        "command": command,
        "argv": argv,
        "environment": {**dict(request.environment), **told},
        "timeout_seconds": request.timeout_seconds,
        "attempts": max(1, request.attempts),
    }


def _attempt(record: dict[str, Any]) -> AttemptReport:
    def moment(name: str) -> datetime | None:
        value = record.get(name)
        return None if value is None else datetime.fromisoformat(value)

    return AttemptReport(
        attempt=record["attempt"],
        started_at=moment("started_at"),
        stopped_at=moment("stopped_at"),
        exit_code=record.get("exit_code"),
        status_reason=record.get("status_reason"),
        log_stream=record.get("log_stream"),
    )


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process; a zombie (exited, unreaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True
