"""The Lambda zip as built by pip for python3.11: what it holds, what it leaves out, its sizes,
its bytecode, and the same bytes again from the cached wheels with no package index at all.

The zip is the session's (`tests.lambda_zip`); that every handler runs from it is
`tests/e2e/test_lambda_package_handlers.py`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import shutil
import zipfile
from pathlib import Path

import pytest

import overlord
from overlord.adapters.pip.lambda_package import PipLambdaPackager
from overlord.adapters.pip.reproducible_zip import EPOCH
from overlord.domain.lambda_package import distribution_name
from overlord.services.packaging import PackagingService
from tests.import_graph import imports_of, module_file, package_of
from tests.lambda_zip import PLUGIN, LambdaBuild, LambdaCode

HANDLERS_NEED = {
    "overlord",
    "attrs",
    "dependency-injector",
    "jsonschema",
    "aws-lambda-powertools",
    "pymongo",
    "pyarrow",
    "aioboto3",
    "boto3",  # the version aioboto3 accepts, not the runtime's
    "botocore",
    PLUGIN,
}
NEVER = {
    "typer",
    "rich",
    "click",
    "pydantic",
    "pandas",
    "numpy",
    "selenium",
    "sqlalchemy",
    "psycopg",
}


def distributions(tree: Path) -> dict[str, str]:
    found = {}
    for info in tree.glob("*.dist-info"):
        metadata = importlib.metadata.PathDistribution(info).metadata
        found[distribution_name(metadata["Name"])] = metadata["Version"]
    return found


def test_the_zip_holds_what_the_handlers_import_and_nothing_only_the_cli_or_jobs_need(
    lambda_code: LambdaCode,
) -> None:
    held = distributions(lambda_code.task)

    assert set(held) >= HANDLERS_NEED
    assert NEVER.isdisjoint(held)
    assert held["boto3"] == importlib.metadata.version("boto3")  # the tested SDK, pinned
    assert (lambda_code.task / "overlord/entrypoints/lambdas/handlers.py").is_file()
    assert not (lambda_code.task / "overlord/entrypoints/cli").exists()
    assert not (lambda_code.task / "bin").exists()
    assert not list(lambda_code.task.glob("pyarrow/*flight*"))
    assert not list(lambda_code.task.rglob("*.c"))
    assert not list(lambda_code.task.rglob("direct_url.json"))  # this machine's paths


def test_every_overlord_module_in_the_zip_imports_only_overlord_modules_in_the_zip(
    lambda_code: LambdaCode,
) -> None:
    source = Path(overlord.__file__).parents[1]
    missing = {}
    for path in sorted((lambda_code.task / "overlord").rglob("*.py")):
        for name in imports_of(path, package_of(lambda_code.task, path)):
            if name.split(".")[0] != "overlord" or module_file(lambda_code.task, name):
                continue
            # ``from overlord.x import y`` names a module of the package, or a name of overlord.x
            a_module = module_file(source, name) is not None
            if a_module or module_file(lambda_code.task, name.rpartition(".")[0]) is None:
                missing.setdefault(str(path.relative_to(lambda_code.task)), []).append(name)

    assert missing == {}


def test_every_module_has_bytecode_for_the_runtime_that_checks_no_timestamp(
    lambda_code: LambdaCode,
) -> None:
    overlord_sources = sorted((lambda_code.task / "overlord").rglob("*.py"))
    headers = {}
    for source in overlord_sources:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        headers[source.name] = compiled.read_bytes()[:8] if compiled.is_file() else b""

    # magic number, then flags 0b01: hash-based, source never checked (PEP 552)
    unchecked = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")
    assert overlord_sources
    assert {name for name, header in headers.items() if header != unchecked} == set()


def test_the_reported_sizes_are_the_zips_and_fit_lambdas_limit(lambda_build: LambdaBuild) -> None:
    package = lambda_build.package
    with zipfile.ZipFile(lambda_build.zip_path) as archive:
        entries = archive.infolist()

    assert package.zipped_bytes == lambda_build.zip_path.stat().st_size
    assert package.unzipped_bytes == sum(e.file_size for e in entries)
    assert package.unzipped_bytes == sum(d.unzipped_bytes for d in package.distributions)
    assert package.files == len(entries)
    assert package.sha256 == hashlib.sha256(lambda_build.zip_path.read_bytes()).hexdigest()
    assert [e.filename for e in entries] == sorted(e.filename for e in entries)
    assert {e.date_time for e in entries} == {EPOCH}
    package.require_deployable()  # under 250 MiB unzipped
    assert package.distributions[0].name == "pyarrow"


def test_a_rebuild_from_the_cached_wheels_needs_no_index_and_gives_the_same_bytes(
    lambda_build: LambdaBuild, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pip reads PIP_NO_INDEX: a rebuild that went to PyPI would fail instead of passing
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    # and the installed libraries are gone, so pip installs every wheel again
    shutil.rmtree(lambda_build.cache / "python3.11" / "trees")
    service = PackagingService(PipLambdaPackager(lambda_build.cache))

    again = service.build(tmp_path / "again.zip", extra=(str(lambda_build.plugin),))

    assert again.wheels_downloaded == 0
    assert again.sha256 == lambda_build.package.sha256
    assert (tmp_path / "again.zip").read_bytes() == lambda_build.zip_path.read_bytes()
