"""Settings that name a Secrets Manager secret instead of holding the value.

A MongoDB URI or an API token must not sit in an environment variable of a Lambda function or in
``overlord.toml``; the setting holds ``secretsmanager:NAME`` (or the secret's ARN) and the
container resolves it here, once, when it builds the adapter that needs it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from overlord.adapters.aws.clients import backend_error, error_code
from overlord.adapters.aws.clients import client as build_client
from overlord.domain.api_recipes import check_secret_name
from overlord.domain.errors import Forbidden, InvalidInput, NotFound

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

PREFIX = "secretsmanager:"
_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")


def is_secret_reference(value: str) -> bool:
    return value.startswith(PREFIX) or bool(_ARN.match(value))


def resolve_secret(value: str, client: SecretsManagerClient | None = None) -> str:
    """The secret ``value`` names, or ``value`` itself when it names none.

    ``secretsmanager:NAME`` (or an ARN) gives the secret's string; ``...#field`` gives one field
    of a JSON secret, and a JSON secret with a single field gives that field.

    >>> resolve_secret("mongodb://localhost")
    'mongodb://localhost'
    >>> resolve_secret("secretsmanager:overlord/mongo#uri")  # doctest: +SKIP
    'mongodb+srv://...'
    """
    if not is_secret_reference(value):
        return value
    reference = value.removeprefix(PREFIX)
    secret_id, _, selector = reference.partition("#")
    if not secret_id:
        raise InvalidInput(f"{value!r} names no secret: use secretsmanager:NAME[#field]")
    text = _fetch(client or build_client("secretsmanager"), secret_id)
    return _select(secret_id, text, selector or None)


def _fetch(client: SecretsManagerClient, secret_id: str) -> str:
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except Exception as exc:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            raise NotFound(f"secret {secret_id!r} does not exist in Secrets Manager") from None
        if code in ("AccessDeniedException", "AccessDenied"):
            raise Forbidden(f"not allowed to read secret {secret_id!r}") from None
        if code in ("InvalidRequestException", "DecryptionFailure"):
            raise NotFound(f"secret {secret_id!r} has no readable current value ({code})") from None
        raise backend_error(exc, f"read secret {secret_id}") from exc
    if "SecretString" in response:
        return response["SecretString"]
    try:
        return response["SecretBinary"].decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        raise InvalidInput(f"secret {secret_id!r} holds binary data, not text") from None


def _select(secret_id: str, text: str, selector: str | None) -> str:
    try:
        fields: Any = json.loads(text)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        if selector is not None:
            raise InvalidInput(f"secret {secret_id!r} is not a JSON object; drop '#{selector}'")
        return text
    if selector is None:
        if len(fields) != 1:
            names = ", ".join(sorted(fields)) or "none"
            raise InvalidInput(
                f"secret {secret_id!r} holds several fields ({names}): name one as "
                f"{PREFIX}{secret_id}#FIELD"
            )
        selector = next(iter(fields))
    if selector not in fields:
        raise NotFound(f"secret {secret_id!r} has no field {selector!r}")
    chosen = fields[selector]
    return chosen if isinstance(chosen, str) else json.dumps(chosen)


class SecretsManagerSecrets:
    """Secret ``name`` is the Secrets Manager secret ``<prefix><name>`` (``overlord/`` by default).

    A JSON secret with one field gives that field, as `resolve_secret` does. The client is
    built on the first `get`, so nothing touches AWS at construction.
    """

    def __init__(
        self, *, prefix: str = "overlord/", client: SecretsManagerClient | None = None
    ) -> None:
        self._prefix = prefix
        self._client = client

    def get(self, name: str) -> str:
        try:
            secret_id = self._prefix + check_secret_name(name)
        except InvalidInput as exc:
            raise NotFound(exc.message) from None
        if self._client is None:
            self._client = build_client("secretsmanager")
        return _select(secret_id, _fetch(self._client, secret_id), None)
