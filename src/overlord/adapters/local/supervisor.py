"""The detached process that runs one local job's attempts and records what happens to them.

A local job must outlive the CLI command that submitted it, so `LocalJobRunner.submit` starts
this module in a new session, waits only until it has daemonised, and returns. From then on this
process starts each attempt, captures its output, enforces its timeout and writes the job's
state. It imports only the standard library (and the stdlib-only `job_protocol`), so it starts
fast and no optional dependency can break it.

An attempt that exits "not done yet" (`job_protocol`: the job SDK's ``not_done_yet``) ends the
job FAILED with the reason it printed and is not retried: trying again is its schedule's job.

A job directory is the contract between this module and `LocalJobRunner`:

    request.json     what to run (argv, environment, attempts, timeout) and for whom
    state.json       status, attempt, per-attempt reports and pids, replaced atomically under
                     an exclusive flock on state.json.lock, by this process and by cancel
    attempt-<n>.log  one JSON object per captured line: {"at", "stream", "message"}
    supervisor.log   this process's own stderr, for when it crashes

A cancel is the CANCELLED status written into state.json under that lock (the "cancel marker").
Every step here re-reads the state under the same lock before it starts or records anything,
so a cancel is never overwritten and never races the start of an attempt; the running attempt's
process group is pid-recorded under the lock too, so whoever holds the lock may signal it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from overlord.domain.job_protocol import ATTEMPT, NOT_DONE_EXIT_CODE, not_done_reason

REQUEST = "request.json"
STATE = "state.json"
SUPERVISOR_LOG = "supervisor.log"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL, as a container runtime allows
POLL_SECONDS = 0.05
LINE_LIMIT = 64 * 1024  # longer lines are stored as several entries


def log_name(attempt: int) -> str:
    return f"attempt-{attempt}.log"


def log_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of an attempt's log so far, oldest first (none if it has no log yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries = []
    # Only "\n" ends an entry: str.splitlines would also split at U+2028 and friends, which
    # JSON leaves unescaped inside a message.
    for raw in text.split("\n"):
        try:
            entries.append(json.loads(raw))
        except ValueError:
            continue  # the end of the file, or a line the supervisor is writing right now
    return entries


def now() -> str:
    return datetime.now(UTC).isoformat()


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically: readers see the old document or the new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    with open(temporary, "w", encoding="utf-8") as out:
        json.dump(data, out, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


@contextlib.contextmanager
def locked_state(job_dir: Path) -> Iterator[dict[str, Any]]:
    """The job's state for changing in place under the lock; written back if it changed."""
    with open(job_dir / f"{STATE}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = read_json(job_dir / STATE)
            before = json.dumps(state, sort_keys=True)
            yield state
            if json.dumps(state, sort_keys=True) != before:
                write_json(job_dir / STATE, state)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def report(state: dict[str, Any], attempt: int) -> dict[str, Any]:
    """The (created on demand) report of one attempt inside ``state``."""
    reports: list[dict[str, Any]] = state.setdefault("attempts", [])
    for item in reports:
        if item["attempt"] == attempt:
            return item
    item = {"attempt": attempt, "log_stream": None}
    reports.append(item)
    reports.sort(key=lambda r: r["attempt"])
    return item


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _set_status(job_dir: Path, status: str, attempt: int) -> bool:
    """Move the job on unless it already finished (a cancel); return whether it moved."""
    with locked_state(job_dir) as state:
        if state["status"] in TERMINAL:
            return False
        state.update(status=status, attempt=attempt, status_reason=None, updated_at=now())
        return True


class _Capture:
    """Copies a child's stdout and stderr into the attempt's log, line by line."""

    def __init__(self, path: Path, process: subprocess.Popen[bytes]) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._copy, args=(stream, pipe), daemon=True)
            for stream, pipe in (("stdout", process.stdout), ("stderr", process.stderr))
            if pipe is not None
        ]
        for thread in self._threads:
            thread.start()

    def _copy(self, stream: str, pipe: IO[bytes]) -> None:
        with pipe:
            for chunk in iter(lambda: pipe.readline(LINE_LIMIT), b""):
                message = chunk.removesuffix(b"\n").removesuffix(b"\r").decode(errors="replace")
                with self._lock:  # stamped under the lock, so the file is in time order
                    line = {"at": now(), "stream": stream, "message": message}
                    if not self._closed:
                        os.write(self._fd, (json.dumps(line, ensure_ascii=False) + "\n").encode())

    def close(self) -> None:
        # Output held open by a process that left the group must not hold the job up forever;
        # a copier still running afterwards writes nothing (its fd number may be reused).
        for thread in self._threads:
            thread.join(timeout=GRACE_SECONDS)
        with self._lock:
            self._closed = True
            os.close(self._fd)


def _wait(job_dir: Path, pid: int, timeout: int) -> tuple[os.waitid_result, bool]:
    """Wait for the child to exit without reaping it (its pid stays ours while it is recorded),
    signalling its group on timeout or cancel; returns (exit info, timed out)."""
    deadline = time.monotonic() + timeout if timeout > 0 else float("inf")
    kill_at: float | None = None
    timed_out = False
    while True:
        exited = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if exited is not None:
            return exited, timed_out
        moment = time.monotonic()
        if kill_at is None:
            if moment >= deadline:
                timed_out = True
            if timed_out or read_json(job_dir / STATE)["status"] in TERMINAL:
                signal_group(pid, signal.SIGTERM)
                kill_at = moment + GRACE_SECONDS
        elif moment >= kill_at:
            signal_group(pid, signal.SIGKILL)
            kill_at = float("inf")
        time.sleep(POLL_SECONDS)


def _outcome(exited: os.waitid_result, timed_out: bool, timeout: int) -> tuple[int, str]:
    """Exit code and reason, numbered as a container runtime reports them (128 + signal)."""
    if exited.si_code == os.CLD_EXITED:
        code, reason = exited.si_status, f"exited with code {exited.si_status}"
    else:
        code = 128 + exited.si_status
        try:
            reason = f"killed by {signal.Signals(exited.si_status).name}"
        except ValueError:
            reason = f"killed by signal {exited.si_status}"
    return code, (f"timed out after {timeout}s" if timed_out else reason)


def _run_attempt(job_dir: Path, request: dict[str, Any], attempt: int) -> bool:
    """Run one attempt and record it; return whether another attempt should follow."""
    environment = {**os.environ, **request["environment"], ATTEMPT: str(attempt)}
    timeout = int(request["timeout_seconds"])
    process: subprocess.Popen[bytes] | None = None
    try:
        with locked_state(job_dir) as state:
            if state["status"] in TERMINAL:
                return False
            entry = report(state, attempt)
            entry.update(started_at=now(), log_stream=f"{job_dir.name}/{log_name(attempt)}")
            try:
                process = subprocess.Popen(
                    request["argv"],
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as exc:
                entry.update(stopped_at=now(), exit_code=None, status_reason=f"cannot start: {exc}")
                return _after(state, attempt, request, False, entry["status_reason"])
            state.update(status="RUNNING", status_reason=None, pid=process.pid, updated_at=now())
        capture = _Capture(job_dir / log_name(attempt), process)
        exited, timed_out = _wait(job_dir, process.pid, timeout)
    finally:
        # Whatever the attempt left behind in its group, or all of it if we are failing.
        if process is not None:
            signal_group(process.pid, signal.SIGKILL)
    capture.close()
    code, reason = _outcome(exited, timed_out, timeout)
    not_done = code == NOT_DONE_EXIT_CODE and not timed_out
    if not_done:
        printed = log_entries(job_dir / log_name(attempt))
        reason = not_done_reason([e["message"] for e in printed if e["stream"] == "stdout"])
    with locked_state(job_dir) as state:
        state["pid"] = None
        entry = report(state, attempt)
        cancelled = state["status"] in TERMINAL
        entry.update(
            stopped_at=now(),
            exit_code=code,
            status_reason=state["status_reason"] if cancelled else reason,
        )
        going_on = not cancelled and _after(
            state, attempt, request, code == 0, reason, retry=not not_done
        )
    process.wait()
    return going_on


def _after(
    state: dict[str, Any],
    attempt: int,
    request: dict[str, Any],
    succeeded: bool,
    reason: str,
    *,
    retry: bool = True,
) -> bool:
    """Record where the job goes after an attempt; True when a next attempt is due."""
    retry = retry and not succeeded and attempt < int(request["attempts"])
    if retry:
        state.update(status="RUNNABLE", attempt=attempt + 1, status_reason=None)
    else:
        state.update(status="SUCCEEDED" if succeeded else "FAILED", status_reason=reason)
    state["updated_at"] = now()
    return retry


def supervise(job_dir: Path) -> None:
    """Run the job's attempts in order until one succeeds, they run out, or it is cancelled."""
    request = read_json(job_dir / REQUEST)
    attempt = 1
    try:
        if not _set_status(job_dir, "RUNNABLE", attempt):
            return
        while _set_status(job_dir, "STARTING", attempt) and _run_attempt(job_dir, request, attempt):
            attempt += 1
    except BaseException as exc:
        reason = str(exc) if isinstance(exc, SystemExit) else f"local supervisor failed: {exc!r}"
        with locked_state(job_dir) as state:
            if state["status"] not in TERMINAL:
                state.update(status="FAILED", status_reason=reason, updated_at=now())
        raise


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(f"the local supervisor was stopped by {signal.Signals(signum).name}")


def main(argv: list[str]) -> int:
    """Daemonise (so no one has to reap us), record our pid, then supervise.

    The first process exits 0 only once the daemon has recorded itself, so `submit` knows the
    job is in hands; it exits 1 if the daemon could not get that far.
    """
    if len(argv) != 1:
        print("usage: python -m overlord.adapters.local.supervisor JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(argv[0])
    ready_read, ready_write = os.pipe()
    if os.fork():
        os.close(ready_write)
        with os.fdopen(ready_read, "rb") as ready:
            return 0 if ready.read(1) == b"1" else 1
    os.close(ready_read)
    try:
        with locked_state(job_dir) as state:
            finished = state["status"] in TERMINAL
            if not finished:
                state["supervisor_pid"] = os.getpid()
        os.write(ready_write, b"1")
    finally:
        os.close(ready_write)
    if not finished:
        signal.signal(signal.SIGTERM, _terminated)
        signal.signal(signal.SIGHUP, _terminated)
        supervise(job_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
