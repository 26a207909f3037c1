"""Records from an API as flat rows: what partitions and tables hold.

API records nest (GeoJSON puts everything under ``properties``); a Parquet partition or a table
wants one column per value. A nested key becomes a column named by its path joined with ``_``
(``properties.timestamp`` -> ``properties_timestamp``), any other character of a name becomes
``_``, and a list or an empty object is kept as its JSON text, so every record of a source
flattens to the same columns whatever it holds.

>>> flatten({"id": "a", "properties": {"timestamp": "2026-01-05T06:00:00Z", "temp": {"value": 3}}})
{'id': 'a', 'properties_timestamp': '2026-01-05T06:00:00Z', 'properties_temp_value': 3}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from overlord.domain.errors import InvalidInput

_OTHER = re.compile(r"[^A-Za-z0-9_]")
MAX_DEPTH = 8


def column_name(path: str) -> str:
    """The column a dotted path of a record lands in: ``properties.timestamp`` ->
    ``properties_timestamp``."""
    return _OTHER.sub("_", path.replace(".", "_"))


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise InvalidInput(f"a record must be a JSON object, not {type(record).__name__}")
    flat: dict[str, Any] = {}
    _into(flat, "", record, 0)
    return flat


def _into(flat: dict[str, Any], prefix: str, value: Mapping[str, Any], depth: int) -> None:
    for key, item in value.items():
        name = f"{prefix}_{column_name(str(key))}" if prefix else column_name(str(key))
        if isinstance(item, Mapping) and item and depth < MAX_DEPTH:
            _into(flat, name, item, depth + 1)
        elif isinstance(item, list | Mapping):
            flat[name] = json.dumps(item, sort_keys=True, ensure_ascii=False)
        else:
            flat[name] = item
