"""Settings of the AWS Batch and EventBridge Scheduler adapters, read from ``OVERLORD_*``.

Checked here, without any AWS endpoint, because a missing subnet or role must be refused when
the container builds the adapter, with the variable to set, never half-way through an apply.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from overlord.adapters.aws.batch_settings import BatchSettings
from overlord.adapters.aws.scheduler import SchedulerTargetSettings
from overlord.domain.connectors import ComputeType
from overlord.domain.errors import InvalidInput
from overlord.settings import Settings


def test_settings_come_from_overlord_batch_variables(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "OVERLORD_BATCH_SUBNETS": "subnet-a, subnet-b",
            "OVERLORD_BATCH_SECURITY_GROUPS": "sg-1",
            "OVERLORD_BATCH_SERVICE_ROLE_ARN": "arn:aws:iam::1:role/batch",
            "OVERLORD_BATCH_INSTANCE_ROLE_ARN": "arn:aws:iam::1:instance-profile/batch",
            "OVERLORD_BATCH_COMPUTE_TYPE": "SPOT",
        },
        config_file=tmp_path / "absent.toml",
    )

    batch_settings = BatchSettings.from_settings(settings)

    assert batch_settings.subnets == ("subnet-a", "subnet-b")
    assert batch_settings.compute_type is ComputeType.SPOT
    assert batch_settings.platform == "EC2"
    with pytest.raises(InvalidInput):
        BatchSettings.from_settings(Settings())


def test_an_unknown_compute_type_override_is_refused_with_the_known_ones() -> None:
    settings = Settings(
        batch_subnets="subnet-a", batch_security_groups="sg-1", batch_compute_type="LAMBDA"
    )

    with pytest.raises(InvalidInput, match="FARGATE_SPOT"):
        BatchSettings.from_settings(settings)


def test_job_definitions_run_on_fargate_unless_an_ec2_type_is_forced() -> None:
    settings = BatchSettings(subnets=("subnet-a",), security_groups=("sg-1",))

    assert settings.platform == "FARGATE"
    assert settings.effective_type(ComputeType.SPOT) is ComputeType.SPOT
    forced = BatchSettings(subnets=("s",), security_groups=("g",), compute_type="EC2")
    assert (forced.platform, forced.effective_type(ComputeType.FARGATE)) == ("EC2", ComputeType.EC2)


def test_settings_come_from_overlord_scheduler_variables() -> None:
    settings = Settings(
        scheduler_target_arn="arn:aws:lambda:us-east-1:1:function:overlord-schedule",
        scheduler_role_arn="arn:aws:iam::1:role/overlord-scheduler",
    )

    target = SchedulerTargetSettings.from_settings(settings)

    assert (target.target_arn, target.dead_letter_arn) == (settings.scheduler_target_arn, None)
    with pytest.raises(InvalidInput, match="OVERLORD_SCHEDULER_TARGET_ARN"):
        SchedulerTargetSettings.from_settings(Settings())
