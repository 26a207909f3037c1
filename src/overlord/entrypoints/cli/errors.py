"""The one place where a failure becomes an exit code and a single line on stderr.

Scripts branch on the exit code, people read the line: 2 means "you asked for something wrong
or impossible, nothing was changed" (bad input, unknown names, conflicts, usage errors), 1 means
"it broke" (a backend failed, a setting is missing or unusable — a `ConfigurationError`, which
no other arguments can fix — or a bug). Nobody fixing a typo needs a stack trace, so tracebacks
appear only for unexpected exceptions and only with ``OVERLORD_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import TextIO

import typer

from overlord.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, OverlordError

OK = 0
FAILURE = 1
BAD_INPUT = 2

# Errors the caller can fix by asking differently; every other OverlordError (ConfigurationError
# among them) is a failure.
_CALLER_ERRORS: tuple[type[OverlordError], ...] = (InvalidInput, NotFound, Conflict, Forbidden)


def one_line(message: str) -> str:
    """``message`` on a single printable line: breaks become spaces, control characters (and
    lone surrogates, which no terminal encoding accepts) become escapes."""
    flat = " ".join(message.splitlines())
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in flat)


def exit_code(exc: BaseException) -> int:
    """Typer's own errors carry their code: 2 for usage errors (missing argument, bad option
    value, unknown command), 1 for the rest."""
    if isinstance(exc, typer.Exit | typer.TyperException):
        return exc.exit_code
    if isinstance(exc, _CALLER_ERRORS):
        return BAD_INPUT
    return FAILURE


def _message(exc: BaseException) -> str:
    if isinstance(exc, typer.Abort):
        return "aborted"
    if isinstance(exc, typer.TyperException):
        # Typer validates choices with pydantic, whose prefix tells a user nothing.
        return exc.format_message().replace("Value error, ", "")
    if isinstance(exc, OverlordError):
        return exc.message
    return f"unexpected {type(exc).__name__}: {exc}"


def _debugging() -> bool:
    return os.environ.get("OVERLORD_DEBUG", "") not in ("", "0")


def report(exc: BaseException, stderr: TextIO | None = None) -> int:
    """Print ``error: <message>`` for ``exc`` and return the exit code it maps to."""
    stream = stderr or sys.stderr
    stream.write(f"error: {one_line(_message(exc))}\n")
    expected = isinstance(exc, OverlordError | typer.TyperException | typer.Abort)
    if not expected and _debugging():
        traceback.print_exception(exc, file=stream)
    stream.flush()
    return exit_code(exc)
