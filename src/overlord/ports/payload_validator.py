"""Checking job payloads against the JSON Schema their job type declares.

A bad payload used to be accepted, sent to the backend and retried to failure; checking it at
submission refuses it before anything is written. JSON Schema is a library's job (``jsonschema``),
and the domain stays stdlib and attrs only, so the services reach it through this port.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class PayloadValidator(Protocol):
    def check_schema(self, schema: Mapping[str, Any], where: str) -> None:
        """`InvalidTemplate` unless ``schema`` is a JSON Schema this validator can apply.

        The message starts with the path of the offending keyword, ``where`` first
        (``job_types.ingest.payload_schema.properties.stations.type: ...``)."""

    def validate(
        self, schema: Mapping[str, Any], payload: Mapping[str, Any], where: str = "payload"
    ) -> None:
        """`InvalidPayload` unless ``payload`` matches ``schema``, naming the path of the
        offending value from ``where`` (``payload.stations[0]: 5 is not of type 'string'``);
        `InvalidTemplate` if the schema itself cannot be applied."""
