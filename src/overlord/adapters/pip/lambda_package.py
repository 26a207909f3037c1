"""`LambdaPackager` with pip: the libraries the plan names, installed for the Lambda runtime
(`overlord.adapters.pip.dependencies`), and Overlord's own files beside them, as one
reproducible zip.

Overlord itself is copied from the package this process imports (a source checkout or an
installed wheel alike), not fetched: the zip runs the code the user has, compiled to bytecode
like the libraries.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from overlord.adapters.pip.dependencies import DependencyCache, compile_tree, dist_infos
from overlord.adapters.pip.reproducible_zip import files_under, write_zip
from overlord.domain.errors import ConfigurationError
from overlord.domain.lambda_package import (
    LambdaPackage,
    PackagedDistribution,
    PackagePlan,
    overlord_file_left_out,
)


def overlord_version() -> str:
    try:
        return importlib.metadata.version("overlord")
    except importlib.metadata.PackageNotFoundError:
        raise ConfigurationError(
            "Overlord is imported without being installed (pip install overlord, or "
            "pip install -e . in a checkout): its declared requirements are unknown",
            setting="overlord",
        ) from None


class PipLambdaPackager:
    """Builds with the wheels and installed libraries kept under ``cache``."""

    def __init__(self, cache: Path) -> None:
        self._dependencies = DependencyCache(cache)

    def declared_requirements(self) -> tuple[str, ...]:
        overlord_version()
        return tuple(importlib.metadata.requires("overlord") or ())

    def build(self, plan: PackagePlan, output: Path) -> LambdaPackage:
        with (
            self._dependencies.folder(plan, overlord_version()) as (libraries, downloaded),
            tempfile.TemporaryDirectory(prefix="overlord-lambda-") as work,
        ):
            own = Path(work)
            _copy_overlord(own)
            compile_tree(own, plan.runtime)
            roots = [libraries, own]
            files = write_zip(roots, output)
            distributions = _distributions(roots)
        return LambdaPackage(
            path=str(output),
            runtime=plan.runtime.name,
            sha256=_sha256(output),
            files=files,
            zipped_bytes=output.stat().st_size,
            unzipped_bytes=sum(d.unzipped_bytes for d in distributions),
            distributions=distributions,
            wheels_downloaded=downloaded,
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_overlord(tree: Path) -> None:
    import overlord

    source = Path(overlord.__file__).parent
    for name, path in files_under(source):
        relative = f"overlord/{name}"
        if not overlord_file_left_out(relative):
            target = tree / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)


def _distributions(roots: list[Path]) -> tuple[PackagedDistribution, ...]:
    """Each distribution with the unzipped size of the top-level folders and modules it
    installed (bytecode included), largest first."""
    owners = {"overlord": "overlord"}
    versions: dict[str, str] = {}
    sizes: Counter[str] = Counter()
    for root in roots:
        for name, version, info in dist_infos(root):
            versions[name] = version
            owners[info.name] = name
            with (info / "RECORD").open(newline="", encoding="utf-8") as record:
                for row in csv.reader(record):
                    top = row[0].split("/")[0] if row else ""
                    if top and top != ".." and not top.endswith(".dist-info"):
                        owners.setdefault(top, name)
    for root in roots:
        for name, path in files_under(root):
            top, _, rest = name.partition("/")
            if top == "__pycache__":  # a top-level module's bytecode, such as
                top = f"{rest.split('.')[0]}.py"  # typing_extensions.cpython-311.pyc
            sizes[owners.get(top, "(other)")] += path.stat().st_size
    found = (PackagedDistribution(n, versions.get(n, ""), size) for n, size in sizes.items())
    return tuple(sorted(found, key=lambda d: (-d.unzipped_bytes, d.name)))
