"""What the Lambda package is planned to hold, and how a built one is judged against Lambda's
limits: the policy of `overlord.domain.lambda_package` and `PackagingService.plan`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from overlord.domain.errors import InvalidInput, PackageTooLarge
from overlord.domain.lambda_package import (
    DIRECT_UPLOAD,
    MIB,
    RUNTIME_PROVIDED,
    UNZIPPED,
    DeclaredRequirement,
    LambdaPackage,
    PackagedDistribution,
    PackagePlan,
    handler_requirements,
    lambda_runtime,
    left_to_runtime,
    overlord_file_left_out,
    trimmed,
)
from overlord.services.packaging import PackagingService

ROOT = Path(__file__).resolve().parents[2]


def requires_dist() -> list[str]:
    """pyproject.toml's dependencies as the installed metadata spells them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra, requirements in project["optional-dependencies"].items():
        declared += [f"{r}; extra == '{extra}'" for r in requirements]
    return declared


def names(requirements: tuple[str, ...]) -> set[str]:
    return {DeclaredRequirement.parse(r).name for r in requirements}


def test_the_handlers_get_their_imports_from_pyproject_and_none_of_the_cli_or_jobs_libraries() -> (
    None
):
    chosen = handler_requirements(requires_dist())

    assert names(chosen) == {
        "attrs",
        "dependency-injector",
        "jsonschema",
        "aws-lambda-powertools",
        "pymongo",
        "pyarrow",
        "boto3",
        "aioboto3",
    }
    assert "aioboto3==15.5.0" in chosen  # specifiers as declared, markers of extras dropped


def test_a_requirement_line_is_read_as_its_name_specifier_and_extra() -> None:
    parsed = [
        DeclaredRequirement.parse(line)
        for line in (
            "attrs>=23.2",
            "psycopg[binary]>=3.2; extra == 'sql'",
            'Typing_Extensions>=4; python_version < "3.12" and extra == "dev"',
        )
    ]

    assert parsed == [
        DeclaredRequirement("attrs", "attrs>=23.2", None),
        DeclaredRequirement("psycopg", "psycopg[binary]>=3.2", "sql"),
        DeclaredRequirement(
            "typing-extensions", 'Typing_Extensions>=4; python_version < "3.12"', "dev"
        ),
    ]
    with pytest.raises(InvalidInput):
        DeclaredRequirement.parse(">=1")


def test_the_runtimes_sdk_is_used_only_when_nothing_packaged_binds_its_version() -> None:
    assert left_to_runtime(["attrs>=23.2", "pyarrow>=18"]) == RUNTIME_PROVIDED
    assert left_to_runtime(["attrs>=23.2", "aioboto3==15.5.0"]) == frozenset()
    assert left_to_runtime(["boto3>=1.40"]) == frozenset()


@pytest.mark.parametrize(
    ("path", "left_out"),
    [
        ("pyarrow/include/arrow/api.h", True),
        ("pyarrow/_flight.cpython-311-x86_64-linux-gnu.so", True),
        ("pyarrow/libarrow_python.so", True),
        ("pyarrow/libarrow_python.so.2000.0.0", True),
        ("pyarrow/libarrow_python.so.2000", False),  # what modules load
        ("pyarrow/lib.cpython-311-x86_64-linux-gnu.so", False),
        ("pyarrow/libarrow_substrait.so.2000", False),  # every pyarrow module links it
        ("dependency_injector/providers.c", True),
        ("bin/jsonschema", True),
        ("pymongo/__init__.py", False),
    ],
)
def test_build_debris_is_trimmed_and_what_loads_is_kept(path: str, left_out: bool) -> None:
    assert trimmed(path) is left_out


def test_overlord_leaves_out_only_the_cli_and_this_machines_bytecode() -> None:
    assert overlord_file_left_out("overlord/entrypoints/cli/app.py")
    assert overlord_file_left_out("overlord/entrypoints/api/local_server.py")
    assert overlord_file_left_out("overlord/domain/__pycache__/jobs.cpython-311.pyc")
    assert not overlord_file_left_out("overlord/entrypoints/lambdas/handlers.py")
    assert not overlord_file_left_out("overlord/entrypoints/api/app.py")
    assert not overlord_file_left_out("overlord/samples/batch_tasks.py")  # bundled tasks
    assert not overlord_file_left_out("overlord/catalog/weather.toml")


def package(zipped: int, unzipped: int) -> LambdaPackage:
    return LambdaPackage(
        path="lambda.zip",
        runtime="python3.11",
        sha256="0" * 64,
        files=3,
        zipped_bytes=zipped,
        unzipped_bytes=unzipped,
        distributions=(
            PackagedDistribution("pyarrow", "20.0.0", unzipped - 2 * MIB),
            PackagedDistribution("attrs", "26.1.0", MIB),
            PackagedDistribution("overlord", "0.1.0", MIB),
        ),
    )


def test_a_zip_over_the_direct_upload_limit_is_still_deployable_through_s3() -> None:
    built = package(zipped=57 * MIB, unzipped=160 * MIB)

    checks = {check.limit: check.fits for check in built.checks()}

    assert checks == {DIRECT_UPLOAD: False, UNZIPPED: True}
    built.require_deployable()


def test_a_package_over_250_mib_unzipped_is_refused_naming_its_largest_parts() -> None:
    built = package(zipped=90 * MIB, unzipped=250 * MIB + 1)

    with pytest.raises(PackageTooLarge) as raised:
        built.require_deployable()

    assert raised.value.code == "package_too_large"
    assert "250.0 MiB unzipped, over Lambda's 250.0 MiB" in raised.value.message
    assert "pyarrow 248.0 MiB, attrs 1.0 MiB, overlord 1.0 MiB" in raised.value.message


class DeclaringPackager:
    def __init__(self) -> None:
        self.plans: list[PackagePlan] = []

    def declared_requirements(self) -> tuple[str, ...]:
        return tuple(requires_dist())

    def build(self, plan: PackagePlan, output: Path) -> LambdaPackage:
        self.plans.append(plan)
        return package(zipped=1, unzipped=3 * MIB)


def test_the_plan_adds_the_users_requirements_for_the_runtime_asked_for() -> None:
    service = PackagingService(DeclaringPackager())

    plan = service.plan("python3.12", [" acme-tasks==1.2 ", "", "attrs>=23.2"], refresh=True)

    assert plan.runtime == lambda_runtime("python3.12")
    assert "manylinux_2_28_x86_64" in plan.runtime.platforms  # Amazon Linux 2023
    assert "acme-tasks==1.2" in plan.requirements
    assert plan.requirements.count("attrs>=23.2") == 1
    assert plan.provided == frozenset()  # aioboto3 binds the SDK
    assert plan.refresh
    with pytest.raises(InvalidInput, match=r"python3\.11, python3\.12, python3\.13"):
        service.plan("python3.9")


def test_python311_takes_only_wheels_amazon_linux_2_can_load() -> None:
    assert lambda_runtime("python3.11").platforms == ("manylinux2014_x86_64",)
