"""One `Settings` object from ``OVERLORD_*`` environment variables and an optional TOML file.

Read once, by the entrypoint that builds the container; nothing else reads the environment, so
tests configure through ``Settings(...)`` rather than by mutating ``os.environ``. A value of the
wrong kind is the operator's to fix, so `Settings.load` refuses it as a `ConfigurationError`.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from attrs import evolve, field, fields, frozen

from overlord.domain.errors import ConfigurationError, InvalidInput
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


def _csv(value: object) -> tuple[str, ...]:
    """A comma-separated string (the environment's form) or a list of strings (TOML's)."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise ValueError(f"must be comma-separated text or a list of text, not {value!r:.60}")


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"must be text, not {value!r:.60}")


_E = TypeVar("_E", bound=enum.StrEnum)


def _member(kind: type[_E], value: object) -> _E:
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and value in {member.value for member in kind}:
        return kind(value)
    raise ValueError(f"must be one of {', '.join(kind)}, not {value!r:.60}")


def _profile(value: object) -> Profile:
    return _member(Profile, value)


def _store_kind(value: object) -> DocumentStoreKind | None:
    return None if value in (None, "") else _member(DocumentStoreKind, value)


def _byte_count(value: object) -> int:
    """A positive whole number of bytes, written as a number (TOML) or digits (environment)."""
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError(f"must be a whole number of bytes above 0, not {value!r:.60}")


def _item_count(value: object) -> int:
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError(f"must be a whole number above 0, not {value!r:.60}")


def _name_text(value: object) -> str:
    if isinstance(value, str) and value:
        return value
    raise ValueError(f"must be non-empty text, not {value!r:.60}")


def _path(value: object) -> Path:
    if isinstance(value, str) and value and "\x00" not in value:
        return Path(value)
    if isinstance(value, Path):
        return value
    raise ValueError(f"must be a path, not {value!r:.60}")


def _optional_path(value: object) -> Path | None:
    return None if value in (None, "") else _path(value)


def _namespace(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {value!r:.60}")
    try:
        return Namespace(value).value
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


@frozen(kw_only=True)
class Settings:
    """Everything configurable. Field ``x`` is read from ``OVERLORD_X`` or ``x`` in the file.

    A value such as ``mongo_uri`` may be ``secretsmanager:NAME``: the container resolves it from
    AWS Secrets Manager when it builds the adapter that needs it.
    """

    profile: Profile = field(default=Profile.LOCAL, converter=_profile)
    document_store: DocumentStoreKind | None = field(default=None, converter=_store_kind)
    home: Path = field(default=Path(".overlord"), converter=_path)
    namespace: str = field(default="overlord", converter=_namespace)
    max_payload_bytes: int = field(default=256 * 1024, converter=_byte_count)
    mongo_uri: str | None = field(default=None, converter=_text)
    aws_region: str | None = field(default=None, converter=_text)
    batch_compute_type: str | None = field(default=None, converter=_text)
    batch_subnets: tuple[str, ...] = field(default=(), converter=_csv)
    batch_security_groups: tuple[str, ...] = field(default=(), converter=_csv)
    batch_service_role_arn: str | None = field(default=None, converter=_text)
    batch_execution_role_arn: str | None = field(default=None, converter=_text)
    batch_instance_role_arn: str | None = field(default=None, converter=_text)
    batch_job_role_arn: str | None = field(default=None, converter=_text)
    scheduler_target_arn: str | None = field(default=None, converter=_text)
    scheduler_role_arn: str | None = field(default=None, converter=_text)
    scheduler_dead_letter_arn: str | None = field(default=None, converter=_text)
    pipeline_step_arn: str | None = field(default=None, converter=_text)
    tables_url: str | None = field(default=None, converter=_text)
    pipeline_role_arn: str | None = field(default=None, converter=_text)
    # The function S3 notifies of each dataset manifest that lands in a tenant's bucket (the
    # object-created Lambda); provisioning configures every bucket it makes to notify it.
    object_created_arn: str | None = field(default=None, converter=_text)
    connectors_path: tuple[str, ...] = field(default=(), converter=_csv)
    # Batches: the pipeline a request naming none runs (a pipeline of the connector, or
    # comma-separated tasks); where ``POST /stateMachineInit`` starts batches when no
    # authorizer names a tenant; and the most items one batch may hold.
    default_pipeline: str | None = field(default=None, converter=_text)
    default_tenant: str | None = field(default=None, converter=_text)
    default_connector: str = field(default="batch-manager", converter=_name_text)
    max_batch_items: int = field(default=1_000_000, converter=_item_count)
    # Where ``overlord package`` keeps the wheels and installed libraries it builds the Lambda
    # zip from (default: ~/.cache/overlord/lambda-package).
    package_cache: Path | None = field(default=None, converter=_optional_path)

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
        environment, which wins; `ConfigurationError` naming the variable or key at fault."""
        environ = os.environ if environ is None else environ
        path = config_file or Path(environ.get("OVERLORD_CONFIG", "overlord.toml"))
        values: dict[str, Any] = {}
        if path.is_file():
            import tomllib  # only with a file to read: a Lambda environment usually has none

            try:
                values.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigurationError(
                    f"{path}: not valid TOML ({exc})", setting="OVERLORD_CONFIG"
                ) from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigurationError(f"{path}: unknown setting {unknown[0]!r}", setting=unknown[0])
        sources = dict.fromkeys(values, str(path))
        for name in known:
            env_value = environ.get(f"OVERLORD_{name.upper()}")
            if env_value is not None:
                values[name], sources[name] = env_value, f"OVERLORD_{name.upper()}"
        for name in sorted(values):  # each alone, so that the error names the one at fault
            try:
                cls(**{name: values[name]})
            except (ValueError, TypeError) as exc:
                where = sources[name]
                from_env = where == f"OVERLORD_{name.upper()}"
                label = where if from_env else f"{where}: {name}"
                raise ConfigurationError(
                    f"{label}: {exc}", setting=where if from_env else name
                ) from None
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return evolve(self, **changes)
