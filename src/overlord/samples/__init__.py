"""Runnable job commands for the bundled connectors, so a local job does real, visible work.

The catalog's job types name commands such as ``python -m overlord.samples.weather ingest``.
These samples are small, honest stand-ins for the ingestion engine: no network is used, each
prints what it does as progress lines on stdout, and exit codes mean what a backend expects —
0 success, 1 bad input or a requested failure (reason on stderr), 2 a usage error or a payload
the sample cannot read. They use only the standard library so a job starts fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

Command = Callable[[dict[str, Any], Mapping[str, str]], None]


class SampleError(Exception):
    """Bad input or a requested failure: the job exits 1 with this message on stderr."""


def say(line: str) -> None:
    """One progress line, flushed at once so a supervisor captures it as it happens."""
    print(line, flush=True)


def read_payload(environ: Mapping[str, str]) -> dict[str, Any]:
    """The job's payload from ``OVERLORD_PAYLOAD`` (an empty object when there is none)."""
    try:
        payload = json.loads(environ.get("OVERLORD_PAYLOAD", "{}"))
    except json.JSONDecodeError as exc:
        raise SampleError(f"OVERLORD_PAYLOAD is not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise SampleError("OVERLORD_PAYLOAD must be a JSON object")
    return payload


def run(
    program: str,
    commands: Mapping[str, Command],
    argv: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Dispatch ``argv[0]`` to its command and turn the outcome into an exit code."""
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m {program} {{{','.join(commands)}}}", file=sys.stderr)
        return 2
    if "OVERLORD_PAYLOAD_REF" in environ:
        # Large payloads are stored in the tenant's bucket; reading them needs an object store,
        # which only the container can choose, and the samples stay outside the container.
        print(
            f"{program}: payloads stored by reference (OVERLORD_PAYLOAD_REF="
            f"{environ['OVERLORD_PAYLOAD_REF']}) are not supported by the sample commands; "
            "submit a smaller payload",
            file=sys.stderr,
        )
        return 2
    try:
        commands[argv[0]](read_payload(environ), environ)
    except SampleError as exc:
        print(f"{program} {argv[0]}: {exc}", file=sys.stderr)
        return 1
    return 0
