"""`PayloadValidator` on the ``jsonschema`` library.

A schema's dialect is its ``$schema`` (drafts 4 to 2020-12), 2020-12 when it names none; an
unknown ``$schema`` is refused rather than guessed at. ``format`` is an annotation only, as the
specification has it by default, so a payload is judged alike whichever optional format libraries
happen to be installed. Nothing is ever fetched: a ``$ref`` resolves within the schema (or to a
draft's meta-schema), and one that points nowhere is reported as the template's fault when a
payload first reaches it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from overlord.domain.errors import InvalidPayload, InvalidTemplate

if TYPE_CHECKING:
    from jsonschema.exceptions import SchemaError, ValidationError
    from jsonschema.protocols import Validator

_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")
_SHOWN = 60  # characters of an offending value quoted in a message
_LONGEST = 300  # characters of a whole message


def json_path(where: str, parts: Iterable[str | int]) -> str:
    """``where`` then ``.key`` and ``[index]`` steps: ``payload.items[0].sku``.

    >>> json_path("payload", ["items", 0, "unit price"])
    'payload.items[0]["unit price"]'
    """
    path = where
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _KEY.fullmatch(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part, ensure_ascii=False)}]"
    return path


class _SchemaProblem(Exception):
    def __init__(self, parts: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.parts = parts
        self.message = message


def _message(error: ValidationError | SchemaError) -> str:
    """jsonschema's message with the offending value cut short: it opens with that value's repr,
    which for a list of 5000 items would fill a terminal."""
    message = error.message
    shown = repr(error.instance)
    if len(shown) > _SHOWN and message.startswith(shown):
        message = f"{shown[:_SHOWN]}…{message[len(shown) :]}"
    return _short(message)


def _short(message: str) -> str:
    return message if len(message) <= _LONGEST else message[:_LONGEST] + "…"


@functools.lru_cache(maxsize=128)
def _validator(schema_json: str) -> Validator:
    """The checked validator of one schema (given as canonical JSON, so it can be a cache key)."""
    from jsonschema import validators
    from jsonschema.exceptions import SchemaError

    drafts = (
        validators.Draft202012Validator,
        validators.Draft201909Validator,
        validators.Draft7Validator,
        validators.Draft6Validator,
        validators.Draft4Validator,
    )
    schema = json.loads(schema_json)
    dialect = schema.get("$schema", drafts[0].META_SCHEMA["$schema"])
    if not isinstance(dialect, str):
        raise _SchemaProblem(["$schema"], "expected the URI of a JSON Schema draft")
    found = [d for d in drafts if d.META_SCHEMA["$schema"].rstrip("#") == dialect.rstrip("#")]
    if not found:
        raise _SchemaProblem(
            ["$schema"], f"unknown dialect {dialect!r}: use a JSON Schema draft 4 to 2020-12"
        )
    try:
        found[0].check_schema(schema)
    except SchemaError as error:
        raise _SchemaProblem(error.absolute_path, _message(error)) from None
    return found[0](schema)


def _canonical(schema: Mapping[str, Any], where: str) -> str:
    try:
        return json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidTemplate(f"{where}: not plain JSON ({exc})") from None


class JsonSchemaPayloadValidator:
    """Validators are built once per distinct schema and kept (up to 128 schemas).

    >>> validator = JsonSchemaPayloadValidator()
    >>> schema = {"type": "object", "properties": {"stations": {"type": "array"}}}
    >>> validator.validate(schema, {"stations": ["KSEA"]})
    >>> validator.validate(schema, {"stations": "KSEA"})
    Traceback (most recent call last):
    overlord.domain.errors.InvalidPayload: payload.stations: 'KSEA' is not of type 'array'
    """

    def check_schema(self, schema: Mapping[str, Any], where: str) -> None:
        self._compiled(schema, where)

    def validate(
        self, schema: Mapping[str, Any], payload: Mapping[str, Any], where: str = "payload"
    ) -> None:
        from jsonschema.exceptions import best_match
        from referencing.exceptions import Unresolvable

        validator = self._compiled(schema, "payload_schema")
        try:
            error = best_match(validator.iter_errors(payload))
        except Unresolvable as exc:
            raise InvalidTemplate(
                _short(f"payload_schema: a $ref cannot be resolved ({exc})")
            ) from None
        if error is not None:
            raise InvalidPayload(f"{json_path(where, error.absolute_path)}: {_message(error)}")

    @staticmethod
    def _compiled(schema: Mapping[str, Any], where: str) -> Validator:
        try:
            return _validator(_canonical(schema, where))
        except _SchemaProblem as problem:
            raise InvalidTemplate(f"{json_path(where, problem.parts)}: {problem.message}") from None
