"""Secrets from environment variables, for a laptop and for tests configured through settings."""

from __future__ import annotations

from collections.abc import Mapping

from overlord.domain.api_recipes import check_secret_name
from overlord.domain.errors import InvalidInput, NotFound

ENV_PREFIX = "OVERLORD_SECRET_"


class EnvironSecrets:
    """Secret ``name`` is the variable ``OVERLORD_SECRET_<NAME>`` (upper case) of ``environ``.

    The mapping is injected (the container passes ``os.environ``), so nothing is read at import
    and tests never touch the process environment.

    >>> EnvironSecrets({"OVERLORD_SECRET_WEATHER_API": "k"}).get("weather_api")
    'k'
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str) -> str:
        try:
            variable = ENV_PREFIX + check_secret_name(name).upper()
        except InvalidInput as exc:
            raise NotFound(exc.message) from None
        value = self._environ.get(variable)
        if not value:
            raise NotFound(f"secret {name!r}: the variable {variable} is not set")
        return value
