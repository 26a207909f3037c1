"""What AWS Batch needs from the account that a connector template cannot know.

Templates say *how much* compute a connector needs; where it runs (subnets, security groups)
and under which identities (roles) belongs to the account, so it comes from ``OVERLORD_BATCH_*``
settings and is checked once, here, before any Batch call is made. A missing or unknown value
is the operator's to fix: a `ConfigurationError` naming the variable.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import field, frozen

from overlord.domain.connectors import ComputeType
from overlord.domain.errors import ConfigurationError
from overlord.settings import Settings

FARGATE_TYPES = frozenset({ComputeType.FARGATE, ComputeType.FARGATE_SPOT})


def _compute_type(value: str | ComputeType | None) -> ComputeType | None:
    if value in (None, ""):
        return None
    try:
        return ComputeType(value)
    except ValueError:
        known = ", ".join(t.value for t in ComputeType)
        raise ConfigurationError(
            f"invalid OVERLORD_BATCH_COMPUTE_TYPE {value!r}: use one of {known}",
            setting="OVERLORD_BATCH_COMPUTE_TYPE",
        ) from None


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@frozen(kw_only=True)
class BatchSettings:
    """Network, roles and an optional compute type forced on every environment.

    ``instance_role_arn`` is the ARN of an EC2 *instance profile* (Batch's ``instanceRole``);
    only EC2/SPOT environments use it. ``service_role_arn`` may be left out: Batch then uses its
    service-linked role. ``compute_type`` overrides the templates' type (an account without
    Fargate, say) and decides the platform job definitions are registered for.

    >>> BatchSettings(subnets=("subnet-1",), security_groups=("sg-1",)).platform
    'FARGATE'
    """

    subnets: tuple[str, ...] = field(converter=_strings)
    security_groups: tuple[str, ...] = field(converter=_strings)
    service_role_arn: str | None = None
    execution_role_arn: str | None = None
    instance_role_arn: str | None = None
    job_role_arn: str | None = None
    compute_type: ComputeType | None = field(default=None, converter=_compute_type)

    def __attrs_post_init__(self) -> None:
        if not self.subnets:
            raise ConfigurationError(
                "AWS Batch needs at least one subnet: set OVERLORD_BATCH_SUBNETS",
                setting="OVERLORD_BATCH_SUBNETS",
            )
        if not self.security_groups:
            raise ConfigurationError(
                "AWS Batch needs at least one security group: set OVERLORD_BATCH_SECURITY_GROUPS",
                setting="OVERLORD_BATCH_SECURITY_GROUPS",
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> BatchSettings:
        return cls(
            subnets=settings.batch_subnets,
            security_groups=settings.batch_security_groups,
            service_role_arn=settings.batch_service_role_arn,
            execution_role_arn=settings.batch_execution_role_arn,
            instance_role_arn=settings.batch_instance_role_arn,
            job_role_arn=settings.batch_job_role_arn,
            compute_type=settings.batch_compute_type,
        )

    def effective_type(self, requested: ComputeType) -> ComputeType:
        """The type an environment really gets: the override when one is set."""
        return self.compute_type or requested

    @property
    def platform(self) -> str:
        """Batch ``platformCapabilities`` value for job definitions (FARGATE unless EC2)."""
        chosen = self.compute_type or ComputeType.FARGATE
        return "FARGATE" if chosen in FARGATE_TYPES else "EC2"
