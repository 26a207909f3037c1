"""``overlord package``: the zip written where asked, its sizes against Lambda's limits as a table
or JSON, and exit 2 for a package Lambda would refuse.

The real build reuses the session's wheel cache (`tests.lambda_zip`), so it zips and downloads
nothing; the limits are tried on packages a stand-in packager describes, since a zip over
250 MiB would take longer to make than everything else here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from dependency_injector import providers

from overlord.container import Container
from overlord.domain.lambda_package import MIB, LambdaPackage, PackagedDistribution, PackagePlan
from tests.e2e.conftest import run_in_process
from tests.lambda_zip import LambdaBuild


def test_the_zip_is_written_where_asked_and_described_in_json(
    lambda_build: LambdaBuild, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERLORD_PACKAGE_CACHE", str(lambda_build.cache))
    output = tmp_path / "dist" / "lambda.zip"

    done = run_in_process(
        "-o", "json", "package", "--output-file", str(output), "--with", str(lambda_build.plugin)
    )

    assert done.exit_code == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["path"] == str(output)
    assert found["sha256"] == lambda_build.package.sha256  # the same inputs, the same bytes
    assert found["zipped_bytes"] == output.stat().st_size
    assert found["wheels_downloaded"] == 0
    assert found["runtime"] == "python3.11"
    assert [(c["limit"], c["measures"], c["limit_bytes"]) for c in found["limits"]] == [
        ("direct upload", "zipped", 50 * MIB),
        ("code and layers", "unzipped", 250 * MIB),
    ]
    assert found["limits"][1]["fits"] is True
    assert found["distributions"][0]["name"] == "pyarrow"


def test_a_requirement_no_wheel_satisfies_fails_with_pips_reason_and_writes_nothing(
    lambda_build: LambdaBuild, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERLORD_PACKAGE_CACHE", str(lambda_build.cache))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip answers from the cache alone, at once

    done = run_in_process(
        "package", "--output-file", str(tmp_path / "l.zip"), "--with", "no-such-tasks==1.0"
    )

    assert done.exit_code == 1
    [line] = done.error_lines
    assert line.startswith("error: pip found no python3.11 wheels (manylinux2014_x86_64)")
    assert "No matching distribution found for no-such-tasks==1.0" in line
    assert list(tmp_path.iterdir()) == []


class Describing:
    """A packager that builds nothing and describes a package of the given sizes."""

    def __init__(self, zipped: int, unzipped: int) -> None:
        self.sizes = (zipped, unzipped)
        self.plans: list[PackagePlan] = []

    def declared_requirements(self) -> tuple[str, ...]:
        return ("attrs>=23.2",)

    def build(self, plan: PackagePlan, output: Path) -> LambdaPackage:
        self.plans.append(plan)
        zipped, unzipped = self.sizes
        return LambdaPackage(
            path=str(output),
            runtime=plan.runtime.name,
            sha256="ab" * 32,
            files=4100,
            zipped_bytes=zipped,
            unzipped_bytes=unzipped,
            distributions=(
                PackagedDistribution("pyarrow", "20.0.0", unzipped - 10 * MIB),
                PackagedDistribution("botocore", "1.40.61", 10 * MIB),
            ),
        )


@pytest.fixture
def describing(request: pytest.FixtureRequest) -> Iterator[Describing]:
    zipped, unzipped = request.param
    packager = Describing(zipped * MIB, unzipped * MIB)
    with Container.lambda_packager.override(providers.Object(packager)):
        yield packager


@pytest.mark.parametrize("describing", [(90, 260)], indirect=True)
def test_a_package_lambda_would_refuse_is_shown_then_exits_2(
    describing: Describing, tmp_path: Path
) -> None:
    done = run_in_process("package", "--output-file", str(tmp_path / "big.zip"))

    assert done.exit_code == 2
    assert "code and layers  unzipped  260.0 MiB  250.0 MiB  over" in done.stdout
    assert "pyarrow" in done.stdout
    assert done.error_lines == [
        f"error: {tmp_path / 'big.zip'} holds 260.0 MiB unzipped, over Lambda's 250.0 MiB for "
        "a function's code and layers (largest: pyarrow 250.0 MiB, botocore 10.0 MiB)"
    ]


@pytest.mark.parametrize("describing", [(57, 160)], indirect=True)
def test_a_zip_over_the_direct_upload_limit_is_fine_and_says_to_upload_through_s3(
    describing: Describing, tmp_path: Path
) -> None:
    done = run_in_process(
        "package", "--output-file", str(tmp_path / "l.zip"), "--runtime", "python3.12"
    )

    assert done.exit_code == 0, done.stderr
    assert "direct upload    zipped    57.0 MiB" in done.stdout
    assert "over: upload through S3 (overlord deploy does)" in done.stdout
    assert "code and layers  unzipped  160.0 MiB  250.0 MiB  fits" in done.stdout
    assert [plan.runtime.name for plan in describing.plans] == ["python3.12"]


@pytest.mark.parametrize("describing", [(1, 3)], indirect=True)
def test_an_unknown_runtime_is_refused_before_anything_is_built(
    describing: Describing, tmp_path: Path
) -> None:
    done = run_in_process("package", "--runtime", "python2.7")

    assert done.exit_code == 2
    assert done.error_lines == [
        "error: runtime 'python2.7': choose one of python3.11, python3.12, python3.13"
    ]
    assert describing.plans == []
