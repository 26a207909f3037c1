"""Runnable job commands for the bundled connectors, so a local job does real, visible work.

The catalog's job types name commands such as ``python -m overlord.samples.weather ingest``.
These samples are small, honest stand-ins for the ingestion engine: no network is used, and each
talks to Overlord only through the job SDK (`overlord.job`), as a user's job would — its payload
(inline or stored by reference), who it runs for, progress lines in its logs, "not done yet".
A sample's own exit codes are those of any command: 0 success, 1 bad input or a requested
failure (reason on stderr), 2 a usage error or a payload the sample cannot read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

from overlord import job
from overlord.domain.errors import OverlordError

Command = Callable[[job.JobContext], None]


class SampleError(Exception):
    """Bad input or a requested failure: the job exits 1 with this message on stderr."""


def run(
    program: str,
    commands: Mapping[str, Command],
    argv: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Dispatch ``argv[0]`` to its command with the job's context; the outcome as an exit code
    (`overlord.job.NotDoneYet` passes through: it ends the process as the SDK documents)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m {program} {{{','.join(commands)}}}", file=sys.stderr)
        return 2
    try:
        context = job.current(environ)
    except OverlordError as exc:
        print(f"{program} {argv[0]}: {exc.message}", file=sys.stderr)
        return 2
    try:
        commands[argv[0]](context)
    except SampleError as exc:
        print(f"{program} {argv[0]}: {exc}", file=sys.stderr)
        return 1
    return 0
