"""The Lambda deployment zip, built once per test session, and what it runs beside on Lambda.

`build_lambda_zip` builds the real package through `PackagingService` and `PipLambdaPackager`
(pip asks PyPI for the wheels the first time; the cache is the session's own), with one more
requirement: a task package built here, as a user's would be, whose task the pipeline-step
handler must find through its entry point. `runtime_only` is a folder holding what the Lambda
runtime adds to the zip, boto3 and its dependencies, linked from this environment: a child
interpreter given the unpacked zip and that folder, and nothing else, imports what Lambda would.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata
import io
import zipfile
from pathlib import Path

from attrs import frozen

from overlord.adapters.pip.lambda_package import PipLambdaPackager
from overlord.domain.lambda_package import RUNTIME_PROVIDED, LambdaPackage
from overlord.services.packaging import PackagingService

PLUGIN = "acme-lambda-tasks"
PLUGIN_TASK = "acme-shout"
PLUGIN_SOURCE = """
import overlord


@overlord.task("acme-shout")
def shout(items, context):
    return {item: None if item.islower() else f"{item} is not lower case" for item in items}
"""


@frozen
class LambdaBuild:
    package: LambdaPackage
    cache: Path
    plugin: Path  # the task package's wheel, which the build was given with --with

    @property
    def zip_path(self) -> Path:
        return Path(self.package.path)


@frozen
class LambdaCode:
    task: Path  # the zip unpacked, as Lambda unpacks it into /var/task
    runtime: Path  # what the runtime adds: boto3 and its dependencies


def _record(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def task_plugin_wheel(folder: Path) -> Path:
    """A wheel of one module registering ``acme-shout``, declared under the ``overlord.tasks``
    entry points and requiring ``overlord``, as a user's task package is."""
    folder.mkdir(parents=True, exist_ok=True)
    info = "acme_lambda_tasks-1.0.dist-info"
    members = {
        "acme_lambda_tasks.py": PLUGIN_SOURCE.encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PLUGIN}\nVersion: 1.0\nRequires-Dist: overlord\n"
        ).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": b"[overlord.tasks]\nacme = acme_lambda_tasks\n",
    }
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in members.items():
        writer.writerow(_record(name, data))
    writer.writerow([f"{info}/RECORD", "", ""])
    members[f"{info}/RECORD"] = record.getvalue().encode()
    path = folder / "acme_lambda_tasks-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in members.items():
            wheel.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return path


def build_lambda_zip(root: Path) -> LambdaBuild:
    plugin = task_plugin_wheel(root / "plugin")
    cache = root / "cache"
    service = PackagingService(PipLambdaPackager(cache))
    package = service.build(root / "overlord-lambda.zip", extra=(str(plugin),))
    return LambdaBuild(package, cache, plugin)


def unpack(archive: Path, folder: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    return folder


def runtime_only(folder: Path) -> Path:
    """boto3 and its dependencies (what every Lambda Python runtime provides), linked from this
    environment into ``folder``, whose only contents they are."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(RUNTIME_PROVIDED):
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        tops = {f.parts[0] for f in dist.files or () if f.parts[0] not in ("..", "__pycache__")}
        for top in sorted(tops):
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (folder / top).exists():
                (folder / top).symlink_to(source)
    return folder
