"""Settings of the AWS Batch, EventBridge Scheduler and Step Functions adapters (``OVERLORD_*``).

Checked here, without any AWS endpoint. A missing subnet or role is the operator's fault, a
`ConfigurationError` naming the variable to set; it is found when an adapter is first used for a
call that needs it (for provisioning, before anything is written), never when the container
builds the adapter: a service holding a scheduler it never calls must not need its settings.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import boto3
import pytest

from overlord.adapters.aws.batch_settings import BatchSettings
from overlord.adapters.aws.scheduler import SchedulerTargetSettings
from overlord.adapters.aws.workflow import StepFunctionsSettings, StepFunctionsWorkflow
from overlord.container import Container
from overlord.domain.connectors import ComputeType
from overlord.domain.errors import ConfigurationError, InvalidInput
from overlord.domain.infrastructure import ScheduleDefinition, ScheduleTarget
from overlord.domain.pipelines import PipelineSpec
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
    with pytest.raises(ConfigurationError) as missing:
        BatchSettings.from_settings(Settings())
    assert missing.value.setting == "OVERLORD_BATCH_SUBNETS"


def test_an_unknown_compute_type_override_is_refused_with_the_known_ones() -> None:
    settings = Settings(
        batch_subnets="subnet-a", batch_security_groups="sg-1", batch_compute_type="LAMBDA"
    )

    with pytest.raises(ConfigurationError, match="FARGATE_SPOT") as refused:
        BatchSettings.from_settings(settings)
    assert refused.value.setting == "OVERLORD_BATCH_COMPUTE_TYPE"


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
    with pytest.raises(ConfigurationError, match="OVERLORD_SCHEDULER_TARGET_ARN") as missing:
        SchedulerTargetSettings.from_settings(Settings())
    assert missing.value.setting == "OVERLORD_SCHEDULER_TARGET_ARN"
    assert not isinstance(missing.value, InvalidInput)


def test_a_scheduler_with_its_target_but_no_role_names_the_role() -> None:
    settings = Settings(scheduler_target_arn="arn:aws:lambda:us-east-1:1:function:schedule")

    with pytest.raises(
        ConfigurationError, match=r"not set: OVERLORD_SCHEDULER_ROLE_ARN$"
    ) as missing:
        SchedulerTargetSettings.from_settings(settings)
    assert missing.value.setting == "OVERLORD_SCHEDULER_ROLE_ARN"


@pytest.fixture
def no_aws_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An AWS configuration that cannot make any client: no Region anywhere."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


def schedule() -> ScheduleDefinition:
    return ScheduleDefinition(
        group="overlord-acme",
        name="weather-poll",
        expression="rate(7 minutes)",
        timezone="UTC",
        target=ScheduleTarget(
            tenant="acme", connector="weather", job_type="ingest", payload_json="{}"
        ),
    )


def test_the_aws_adapters_are_built_without_their_settings_and_check_them_on_first_use(
    no_aws_region: None,
) -> None:
    container = Container.from_settings(Settings(profile="aws"))

    scheduler, compute = container.scheduler(), container.compute()

    with pytest.raises(ConfigurationError) as scheduling:
        scheduler.ensure_schedule(schedule())
    assert scheduling.value.setting == "OVERLORD_SCHEDULER_TARGET_ARN"
    with pytest.raises(ConfigurationError) as describing:
        scheduler.describe_schedule("overlord-acme", "weather-poll")
    assert describing.value.setting == "OVERLORD_SCHEDULER_TARGET_ARN"
    with pytest.raises(ConfigurationError) as provisioning:
        compute.describe_compute_environment("overlord-acme-weather")
    assert provisioning.value.setting == "OVERLORD_BATCH_SUBNETS"


def test_an_aws_client_is_made_on_first_use_and_a_missing_region_is_the_operators_fault(
    no_aws_region: None,
) -> None:
    container = Container.from_settings(Settings(profile="aws"))
    runner, scheduler = container.job_runner(), container.scheduler()

    with pytest.raises(ConfigurationError, match="AWS_REGION") as reading:
        runner.describe(["4c1b0a9e"])
    assert reading.value.setting == "AWS_REGION"
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        scheduler.set_enabled("overlord-acme", "weather-poll", True)


def test_step_functions_settings_are_checked_when_a_pipeline_first_needs_them() -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    workflow = StepFunctionsWorkflow(
        partial(StepFunctionsSettings.from_settings, Settings()), client
    )
    with pytest.raises(ConfigurationError) as missing:
        workflow.ensure_pipeline(
            PipelineSpec(name="acme-orders", steps=("fetch", "load"), chunk_size=2)
        )
    assert missing.value.setting == "OVERLORD_PIPELINE_STEP_ARN"
    with pytest.raises(ConfigurationError) as not_a_role:
        StepFunctionsSettings.require("arn:aws:lambda:us-east-1:1:function:step", "role")
    assert not_a_role.value.setting == "OVERLORD_PIPELINE_ROLE_ARN"


def test_aws_clients_are_made_once_per_service_and_configuration() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from overlord.adapters.aws.clients import AwsClients

    clients = AwsClients()
    with ThreadPoolExecutor(8) as pool:
        made = set(
            map(id, pool.map(lambda _: clients.client("s3", region_name="us-east-1"), range(16)))
        )

    assert len(made) == 1
    batch = clients.client("batch", region_name="us-east-1")
    assert clients.client("batch", region_name="us-east-1") is batch
    assert clients.client("batch", region_name="us-east-1", retries=0) is not batch
    assert clients.made() == ["s3", "batch", "batch"]


def test_building_the_job_services_on_the_aws_profile_makes_no_client(no_aws_region: None) -> None:
    container = Container.from_settings(Settings(profile="aws"))

    container.jobs(), container.tracking(), container.maintenance()

    assert container.aws_clients().made() == []
