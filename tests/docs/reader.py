"""A reader following a document along: one bash session in a fresh directory, fed its examples.

A command run in a `bash -c` of its own would lose what a reader's terminal keeps between
commands — an ``export``, a ``cd``, a server left running with ``&`` — so one shell runs every
example of a document, in order. Each command writes to files of its own, and the shell answers
on its stdout with nothing but the exit status (or a background job's pid), so the test always
knows which command printed what, and waits on answers, never on time.

A command that runs until Ctrl-C (``jobs watch``) is started as a job of its own and sent
SIGINT, as a terminal would, once it has printed something; a server started with ``&`` is
stopped the same way when the document ends. Job control (``set -m``) is on for those two only:
it gives them their own process group, and without it bash starts background commands with
SIGINT ignored.
"""

from __future__ import annotations

import os
import queue
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from tests.docs.markdown_examples import Command, PythonScript, SavedFile, match_output

_ANSWER = "@@docs@@ "
_READY_POLL_SECONDS = 0.02


class ExampleFailed(AssertionError):
    """An example did not do what its document says."""


class Reader:
    """``with Reader(directory, logs, env) as reader: reader.run(command)``."""

    def __init__(
        self, directory: Path, logs: Path, env: Mapping[str, str], timeout: float = 120.0
    ) -> None:
        self._directory, self._logs, self._env = directory, logs, dict(env)
        self._timeout = timeout
        self._count = 0
        self._background: list[tuple[Command, int, Path, Path]] = []
        self._answers: queue.Queue[str] = queue.Queue()
        self._bash = shutil.which("bash", path=self._env.get("PATH")) or "/bin/bash"
        self._shell: subprocess.Popen[str] | None = None
        self._listener: threading.Thread | None = None

    def __enter__(self) -> Reader:
        self._logs.mkdir(parents=True, exist_ok=True)
        with (self._logs / "shell.err").open("w") as shell_errors:
            self._shell = subprocess.Popen(
                [self._bash, "--noprofile", "--norc"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=shell_errors,
                cwd=self._directory,
                env=self._env,
                text=True,
                start_new_session=True,
            )
        self._listener = threading.Thread(target=self._listen, args=(self._shell,), daemon=True)
        self._listener.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self._stop_background()
        finally:
            self._kill()

    def save(self, file: SavedFile) -> None:
        """Write a file the document shows, relative to where the reader is."""
        target = self._directory / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.text, encoding="utf-8")

    def export(self, variables: Mapping[str, str]) -> None:
        """``export`` variables in the session, as a document's own step would."""
        line = "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in variables.items())
        self.run(Command("(the docs test)", line))

    def run(self, example: Command | PythonScript) -> None:
        """Run one example and check its exit status and output; `ExampleFailed` if they differ."""
        if isinstance(example, PythonScript):
            script = self._logs / f"{self._count + 1:03d}.py"
            script.write_text(example.text + "\n", encoding="utf-8")
            command = Command(example.where, f"python {shlex.quote(str(script))}")
            self._foreground(command, example.expected_output, shown=example.text)
        elif example.background:
            self._start_background(example)
        elif example.until_interrupted:
            self._interrupt_when_it_speaks(example)
        else:
            self._foreground(example, example.expected_output, shown=example.text)

    def _foreground(self, command: Command, expected: tuple[str, ...], shown: str) -> None:
        self._check_syntax(command)
        out, err = self._files()
        status = self._ask(
            f"{{ {command.text}\n}} >{shlex.quote(str(out))} 2>{shlex.quote(str(err))} "
            f"</dev/null\necho {_ANSWER}$?",
            command,
            shown,
        )
        self._judge(command, shown, int(status), out, err, expected)

    def _start_background(self, command: Command) -> None:
        self._check_syntax(command)
        out, err = self._files()
        pid = self._launch(command, out, err, trailing="")
        self._background.append((command, pid, out, err))
        self._wait_until_it_speaks(command, pid, out, err)

    def _interrupt_when_it_speaks(self, command: Command) -> None:
        self._check_syntax(command)
        out, err = self._files()
        pid = self._launch(command, out, err, trailing=" &")
        self._wait_until_it_speaks(command, pid, out, err)
        _interrupt(pid)
        status = int(self._ask(f"wait {pid}\necho {_ANSWER}$?", command, command.text))
        self._judge(command, command.text, status, out, err, command.expected_output)

    def _launch(self, command: Command, out: Path, err: Path, trailing: str) -> int:
        """Start ``command`` as a job of its own (``trailing`` is " &" when the command itself
        does not end with one) and answer its pid."""
        return int(
            self._ask(
                f"set -m\n{{ {command.text}\n}} >{shlex.quote(str(out))} "
                f"2>{shlex.quote(str(err))} </dev/null{trailing}\nset +m\necho {_ANSWER}$!",
                command,
                command.text,
            )
        )

    def _wait_until_it_speaks(self, command: Command, pid: int, out: Path, err: Path) -> None:
        deadline = time.monotonic() + self._timeout
        while not (_size(out) or _size(err)) and _alive(pid):
            if time.monotonic() > deadline:
                raise ExampleFailed(
                    f"{command.where}: printed nothing in {self._timeout:.0f}s: {command.text}"
                )
            time.sleep(_READY_POLL_SECONDS)  # polling a condition, with a deadline

    def _stop_background(self) -> None:
        while self._background:
            command, pid, out, err = self._background.pop(0)
            if _alive(pid):
                _interrupt(pid)
            status = int(self._ask(f"wait {pid}\necho {_ANSWER}$?", command, command.text))
            if status != 0:
                raise ExampleFailed(
                    f"{command.where}: `{command.text}` exited {status} "
                    f"(0 expected when stopped with Ctrl-C){_tails(out, err)}"
                )

    def _check_syntax(self, command: Command) -> None:
        checked = subprocess.run(
            [self._bash, "-n", "-c", command.text], capture_output=True, text=True, check=False
        )
        if checked.returncode:
            raise ExampleFailed(f"{command.where}: not valid shell: {checked.stderr.strip()}")
        if "dev.py" in command.text:
            raise ExampleFailed(f"{command.where}: dev.py would run the test suite inside itself")

    def _files(self) -> tuple[Path, Path]:
        self._count += 1
        return self._logs / f"{self._count:03d}.out", self._logs / f"{self._count:03d}.err"

    def _ask(self, script: str, command: Command, shown: str) -> str:
        shell = self._shell
        if shell is None or shell.stdin is None:
            raise RuntimeError("use the reader in a with block")
        shell.stdin.write(script + "\n")
        shell.stdin.flush()
        try:
            return self._answers.get(timeout=self._timeout)
        except queue.Empty:
            self._kill()
            raise ExampleFailed(
                f"{command.where}: no answer after {self._timeout:.0f}s from:\n{shown}"
            ) from None

    def _listen(self, shell: subprocess.Popen[str]) -> None:
        assert shell.stdout is not None
        for line in shell.stdout:
            if line.startswith(_ANSWER):
                self._answers.put(line.removeprefix(_ANSWER).strip())

    def _judge(
        self,
        command: Command,
        shown: str,
        status: int,
        out: Path,
        err: Path,
        expected: tuple[str, ...],
    ) -> None:
        if status != command.expected_exit:
            raise ExampleFailed(
                f"{command.where}: exited {status}, {command.expected_exit} expected:\n"
                f"{shown}{_tails(out, err)}"
            )
        printed = _read(out) + "\n" + _read(err)
        missing = match_output(expected, printed)
        if missing is not None:
            raise ExampleFailed(
                f"{command.where}: the output has no line {missing!r} (in the order shown):\n"
                f"{shown}{_tails(out, err)}"
            )

    def _kill(self) -> None:
        for _, pid, _, _ in self._background:
            _signal_group(pid, signal.SIGKILL)
        self._background.clear()
        shell, self._shell = self._shell, None
        if shell is None:
            return
        if shell.poll() is None:
            _signal_group(shell.pid, signal.SIGKILL)
            shell.wait(timeout=10)
        if self._listener is not None:
            self._listener.join(timeout=10)  # it stops at the end of the shell's stdout
        for pipe in (shell.stdin, shell.stdout):
            if pipe is not None:
                pipe.close()


def _interrupt(pid: int) -> None:
    _signal_group(pid, signal.SIGINT)


def _signal_group(pid: int, sent: signal.Signals) -> None:
    try:
        os.killpg(os.getpgid(pid), sent)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for bash to reap it has finished)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in {"Z", "X"}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _tails(out: Path, err: Path, lines: int = 40) -> str:
    shown = ""
    for name, path in (("stdout", out), ("stderr", err)):
        text = _read(path).splitlines()[-lines:]
        if text:
            shown += f"\n--- {name} ---\n" + "\n".join(text)
    return shown
