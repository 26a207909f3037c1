"""What every entrypoint accepts as a JSON object and as an idempotency key, decided once.

The CLI's ``--payload`` and the API's request body reach the same services, so the same text
must be accepted or refused the same way at both doors, with the same reasons. JSON text allows
more than a job can use or a document store can hold the same way everywhere, and each of these
is refused with `MalformedRequest` (CLI exit 2, API 400 ``malformed_request``) before anything
is built or written: text that is not UTF-8, ``NaN`` and ``Infinity`` (not JSON), numbers out of
range, duplicate keys (parsers disagree on which one wins), lone UTF-16 surrogates (no UTF-8
encoding exists), nesting deeper than document stores allow, and anything but an object.

An idempotency key travels as an HTTP header and in a backend job's tags, so both doors take
1-255 visible ASCII characters.
"""

from __future__ import annotations

import json
import math
from typing import Any

from overlord.domain.errors import MalformedRequest

# What every document store accepts; deeper values would also exhaust the recursion of code
# that walks them (canonical JSON, document rules) before a clear error could be given.
MAX_NESTING = 100
IDEMPOTENCY_KEY_MAX = 255


def json_object(text: str | bytes, source: str) -> dict[str, Any]:
    """``text`` read as a JSON object, or `MalformedRequest` naming ``source`` and the reason
    (``source`` is what the user gave: ``--payload``, a file name, ``the body``)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRequest(f"{source} is not UTF-8 text") from None
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise MalformedRequest(f"{source} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise MalformedRequest(f"{source} is not valid JSON: {exc.msg} at {where}") from None
    except ValueError as exc:  # our hooks' refusals, and integers too long to read
        raise MalformedRequest(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedRequest(f"{source} must be a JSON object, not {_json_type(value)}")
    if not _nested_within(value, MAX_NESTING):
        raise MalformedRequest(f"{source} is nested more than {MAX_NESTING} levels deep")
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedRequest(f"{source} holds a lone surrogate (\\ud800-\\udfff)") from None
    return value


def idempotency_key(key: str | None, source: str) -> str | None:
    """``key`` if it is usable everywhere a key travels; None stays None."""
    if key is None:
        return None
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not all("!" <= c <= "~" for c in key):
        raise MalformedRequest(f"{source} must be 1-{IDEMPOTENCY_KEY_MAX} visible ASCII characters")
    return key


MAX_REASON = 500


def cancel_reason(reason: str, source: str) -> str:
    """A reason recorded as a job's status reason: one printable line people can read."""
    if not reason.strip() or not reason.isprintable() or len(reason) > MAX_REASON:
        raise MalformedRequest(f"{source} must be 1-{MAX_REASON} printable characters")
    return reason


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {key[:40]!r}")
        data[key] = value
    return data


def _nested_within(value: object, limit: int) -> bool:
    """Whether no array or object in ``value`` is more than ``limit`` levels deep; iterative,
    so that it cannot itself run out of stack."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return True


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"
