"""What ``jobs submit`` accepts as a payload and an idempotency key, checked at the edge.

JSON text allows more than a job can use or a document store can hold the same way everywhere:
NaN, duplicate keys (parsers disagree on which one wins), lone UTF-16 surrogates (no UTF-8
encoding exists), nesting deep enough to exhaust a recursive parser. Each is refused here with
`InvalidInput` — exit 2 and one line — before anything is built or written.
"""

from __future__ import annotations

import json
from typing import Any

from overlord.domain.errors import InvalidInput

MAX_DEPTH = 64  # deeper payloads are refused: no job needs them and parsers recurse on them
MAX_KEY_LENGTH = 200


def read_payload(value: str | None) -> dict[str, Any]:
    """The payload from ``--payload``: inline JSON or ``@FILE``; a JSON object, or refused."""
    if value is None:
        return {}
    source = "--payload"
    if value.startswith("@"):
        if len(value) == 1:
            raise InvalidInput("--payload @FILE needs a file name after the @")
        source = value[1:]
        try:
            with open(source, "rb") as file:
                raw = file.read()
        except OSError as exc:
            raise InvalidInput(f"{source}: cannot be read ({exc.strerror or exc})") from None
        except ValueError:  # a NUL or a lone surrogate in the name
            raise InvalidInput(f"{source!r}: not a usable file name") from None
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{source}: not UTF-8 text") from None
    try:
        data = json.loads(value, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise InvalidInput(f"{source}: not valid JSON ({exc.msg} at {where})") from None
    except RecursionError:
        raise InvalidInput(f"{source}: the payload nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise InvalidInput(f"{source}: not a usable JSON payload ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: the payload must be a JSON object, not {_kind(data)}")
    _check_value(data, source, 0)
    return data


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Parsers disagree on which of two equal keys wins, so a payload may not have them."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {key[:40]!r}")
        data[key] = value
    return data


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else "a number"


def _check_value(value: Any, source: str, depth: int) -> None:
    """Refuse what JSON text allows but no job can use: deep nesting, broken Unicode."""
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{source}: the payload nests deeper than {MAX_DEPTH} levels")
    items: list[Any] = []
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    elif isinstance(value, str) and not _encodable(value):
        raise InvalidInput(f"{source}: the payload holds a lone UTF-16 surrogate")
    for item in items:
        _check_value(item, source, depth + 1)


def check_idempotency_key(key: str | None) -> None:
    if key is None:
        return
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not _encodable(key):
        raise InvalidInput(f"--idempotency-key must be 1-{MAX_KEY_LENGTH} printable characters")


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
