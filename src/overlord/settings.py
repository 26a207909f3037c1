"""One `Settings` object from ``OVERLORD_*`` environment variables and an optional TOML file.

Read once, by the entrypoint that builds the container; nothing else reads the environment, so
tests configure through ``Settings(...)`` rather than by mutating ``os.environ``.
"""

from __future__ import annotations

import enum
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import evolve, field, fields, frozen

from overlord.domain.errors import InvalidInput
from overlord.domain.names import Namespace


class Profile(enum.StrEnum):
    LOCAL = "local"
    MEMORY = "memory"
    AWS = "aws"


class DocumentStoreKind(enum.StrEnum):
    MEMORY = "memory"
    SQLITE = "sqlite"
    MONGO = "mongo"
    DYNAMODB = "dynamodb"


_DEFAULT_STORE = {
    Profile.LOCAL: DocumentStoreKind.SQLITE,
    Profile.MEMORY: DocumentStoreKind.MEMORY,
    Profile.AWS: DocumentStoreKind.DYNAMODB,
}


def _csv(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)


def _store_kind(value: str | None) -> DocumentStoreKind | None:
    return None if value in (None, "") else DocumentStoreKind(value)


@frozen(kw_only=True)
class Settings:
    """Everything configurable. Field ``x`` is read from ``OVERLORD_X`` or ``x`` in the file.

    A value such as ``mongo_uri`` may be ``secretsmanager:NAME``: the container resolves it from
    AWS Secrets Manager when it builds the adapter that needs it.
    """

    profile: Profile = field(default=Profile.LOCAL, converter=Profile)
    document_store: DocumentStoreKind | None = field(default=None, converter=_store_kind)
    home: Path = field(default=Path(".overlord"), converter=Path)
    namespace: str = "overlord"
    max_payload_bytes: int = field(default=256 * 1024, converter=int)
    mongo_uri: str | None = None
    aws_region: str | None = None
    batch_compute_type: str | None = None
    batch_subnets: tuple[str, ...] = field(default=(), converter=_csv)
    batch_security_groups: tuple[str, ...] = field(default=(), converter=_csv)
    batch_service_role_arn: str | None = None
    batch_execution_role_arn: str | None = None
    batch_instance_role_arn: str | None = None
    batch_job_role_arn: str | None = None
    scheduler_target_arn: str | None = None
    scheduler_role_arn: str | None = None
    scheduler_dead_letter_arn: str | None = None
    pipeline_step_arn: str | None = None
    tables_url: str | None = None
    pipeline_role_arn: str | None = None
    connectors_path: tuple[str, ...] = field(default=(), converter=_csv)

    @property
    def documents(self) -> DocumentStoreKind:
        return self.document_store or _DEFAULT_STORE[self.profile]

    @property
    def namespace_name(self) -> Namespace:
        return Namespace(self.namespace)

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, config_file: Path | None = None
    ) -> Settings:
        """Settings from the file (``OVERLORD_CONFIG`` or ``./overlord.toml``), then the
        environment, which wins."""
        environ = os.environ if environ is None else environ
        path = config_file or Path(environ.get("OVERLORD_CONFIG", "overlord.toml"))
        values: dict[str, Any] = {}
        if path.is_file():
            try:
                values.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"{path}: not valid TOML ({exc})") from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidInput(f"{path}: unknown setting {unknown[0]!r}")
        for name in known:
            env_value = environ.get(f"OVERLORD_{name.upper()}")
            if env_value is not None:
                values[name] = env_value
        try:
            settings = cls(**values)
            Namespace(settings.namespace)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"invalid setting: {exc}") from None
        return settings

    def replace(self, **changes: Any) -> Settings:
        return evolve(self, **changes)
