"""Where ``jobs submit`` finds its payload: inline, in a file, or on standard input.

What the text may hold, and what an idempotency key may be, is decided once for every
entrypoint in `overlord.entrypoints.json_input`; this module only finds the text.
"""

from __future__ import annotations

import sys
from typing import Any

from overlord.domain.errors import InvalidInput
from overlord.entrypoints.json_input import idempotency_key, json_object

STDIN = "-"


def read_payload(value: str | None) -> dict[str, Any]:
    """The payload from ``--payload``: inline JSON, ``@FILE``, or ``@-`` for standard input;
    a JSON object, or refused."""
    if value is None:
        return {}
    if not value.startswith("@"):
        return json_object(value, "--payload")
    name = value[1:]
    if not name:
        raise InvalidInput("--payload @FILE needs a file name after the @ (or @- for stdin)")
    if name == STDIN:
        return json_object(_stdin_bytes(), "--payload @- (standard input)")
    try:
        with open(name, "rb") as file:
            raw = file.read()
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot be read ({exc.strerror or exc})") from None
    except ValueError:  # a NUL or a lone surrogate in the name
        raise InvalidInput(f"{name!r}: not a usable file name") from None
    return json_object(raw, name)


def check_idempotency_key(key: str | None) -> None:
    idempotency_key(key, "--idempotency-key")


def _stdin_bytes() -> bytes:
    stream = sys.stdin
    if stream is None:
        raise InvalidInput("--payload @-: there is no standard input to read")
    buffer = getattr(stream, "buffer", None)
    return buffer.read() if buffer is not None else stream.read().encode("utf-8", "surrogatepass")
