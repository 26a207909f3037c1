"""Connector templates from TOML or JSON files, including the bundled sample catalog."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from overlord.domain.connectors import ConnectorTemplate
from overlord.domain.errors import InvalidTemplate, NotFound
from overlord.domain.template_parsing import parse_template


def read_template_data(path: str | Path) -> dict[str, Any]:
    """Plain data from a ``.toml`` or ``.json`` file, with a one-line reason when unreadable."""
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"no template file {str(file)!r}")
    try:
        text = file.read_text(encoding="utf-8")
        if file.suffix == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidTemplate(f"{file.name}: cannot be parsed ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidTemplate(f"{file.name}: expected an object at the top level")
    return data


def load_template_file(path: str | Path) -> ConnectorTemplate:
    try:
        return parse_template(read_template_data(path))
    except InvalidTemplate as exc:
        if exc.message.startswith(Path(path).name):
            raise
        raise InvalidTemplate(f"{Path(path).name}: {exc.message}") from None


def bundled_templates() -> list[ConnectorTemplate]:
    folder = resources.files("overlord.catalog")
    templates = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            templates.append(parse_template(tomllib.loads(entry.read_text(encoding="utf-8"))))
    return templates
