"""What goes into the Lambda deployment package, and whether the result can be deployed.

Every handler runs from one zip: Overlord's own package and the libraries the handlers import,
built for the Lambda runtime's interpreter and platform rather than this machine's. The policy
lives here, apart from pip and zip files, so that a test can hold it to the handlers' imports:

- Overlord's core dependencies except the CLI's (Typer and Rich draw tables; no handler does);
  the ``lambda`` extra (Powertools' resolvers answer API Gateway); the ``mongo`` extra (the
  document store may be MongoDB); the ``aws`` extra, since the object-created handler reads a
  folder's records and writes partitions with the S3 store's bulk calls, which run on aioboto3;
  and, from the ``data`` extra, pyarrow alone: that handler appends an events-partitioned
  dataset's records to Parquet partitions itself, while pandas only ever runs in processing
  jobs;
- boto3 and its dependencies only when the plan names them. Every Python runtime provides them,
  but not at a version of our choosing, and aioboto3's aiobotocore accepts one narrow botocore
  range (the ``aws`` extra pins boto3 into it): so the zip carries the SDK it was tested with,
  which Lambda puts ahead of the runtime's on the path. A plan that names none of them leaves
  them to the runtime (`left_to_runtime`);
- nothing of Overlord that only the CLI loads (it needs Typer), and no build debris: C and Cython
  sources, headers, pyarrow's tests and link-time copies of its libraries, and Flight (Arrow's
  RPC layer, which no handler reaches).

Lambda refuses code over 250 MiB unzipped (function and layers together), and a zip over
50 MiB uploaded straight to the Lambda API; through S3, as CloudFormation and ``overlord deploy``
upload it, only the first limit applies. `LambdaPackage.require_deployable` holds a package to
it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import Literal

from attrs import frozen

from overlord.domain.errors import InvalidInput, PackageTooLarge

MIB = 1024 * 1024


@frozen
class LambdaRuntime:
    """A Lambda Python runtime: the interpreter the wheels are for and the platforms whose
    wheels it can load (its C library's manylinux tags, x86_64)."""

    name: str
    python: str
    platforms: tuple[str, ...]


# python3.11 runs on Amazon Linux 2 (glibc 2.26): only manylinux2014 wheels (glibc 2.17) load
# there, so releases that ship only manylinux_2_28 wheels (pyarrow since 21) are passed over.
# python3.12 and later run on Amazon Linux 2023 (glibc 2.34).
_AL2023 = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
RUNTIMES = {
    "python3.11": LambdaRuntime("python3.11", "3.11", ("manylinux2014_x86_64",)),
    "python3.12": LambdaRuntime("python3.12", "3.12", _AL2023),
    "python3.13": LambdaRuntime("python3.13", "3.13", _AL2023),
}
DEFAULT_RUNTIME = "python3.11"


def lambda_runtime(name: str) -> LambdaRuntime:
    """The runtime called ``name`` (``python3.11``); `InvalidInput` for any other."""
    try:
        return RUNTIMES[name]
    except KeyError:
        raise InvalidInput(
            f"runtime {name!r}: choose one of {', '.join(sorted(RUNTIMES))}"
        ) from None


def distribution_name(name: str) -> str:
    """A distribution's name as the package index compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


CLI_ONLY = frozenset({"typer", "rich"})
# What every Lambda Python runtime provides: boto3 and everything it requires.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
# Libraries that bind the SDK's version: packaging one packages the SDK it accepts.
_SDK_BOUND = frozenset({"boto3", "botocore", "s3transfer", "aioboto3", "aiobotocore"})
# Extras the handlers need whole, and the one distribution they need from an extra.
_WHOLE_EXTRAS = frozenset({"lambda", "mongo", "aws"})
_PICKED = {"data": frozenset({"pyarrow"})}

# Overlord files only the CLI loads: the command itself, and ``overlord serve``'s HTTP server.
OVERLORD_LEFT_OUT = ("overlord/entrypoints/cli/*", "overlord/entrypoints/api/local_server.py")
TRIMMED = (
    "bin/*",  # console scripts, which nothing on Lambda can run
    "*.pyx",
    "*.pxd",
    "*.pxi",
    "*.c",
    "*.h",
    "*.hpp",
    "*.cc",
    "*.cpp",
    "pyarrow/include/*",
    "pyarrow/src/*",
    "pyarrow/tests/*",
    "pyarrow/_pyarrow_cpp_tests.*",
    # Flight: its libraries, and the Python modules that load them.
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_flight.*",
    "pyarrow/flight.py",
    # A wheel cannot hold symlinks, so the names a compiler links against are whole copies of
    # the libraries that modules load by their soname (``libarrow_python.so.2000``).
    "pyarrow/libarrow_python.so",
    "pyarrow/libarrow_python.so.*.*.*",
    "pyarrow/libarrow_python_parquet_encryption.so",
    "pyarrow/libarrow_python_parquet_encryption.so.*.*.*",
)


def trimmed(path: str) -> bool:
    """Whether a file of the installed libraries (a path like ``pyarrow/_flight.so``) stays
    out of the zip."""
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in TRIMMED)


def overlord_file_left_out(path: str) -> bool:
    """Whether a file of Overlord's package (``overlord/...``) stays out of the zip: what only
    the CLI loads, and bytecode compiled for this machine's interpreter."""
    if "/__pycache__/" in f"/{path}" or path.endswith((".pyc", ".pyo")):
        return True
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in OVERLORD_LEFT_OUT)


_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""(?:\s+and\s+)?\bextra\s*==\s*['"]([^'"]+)['"](?:\s+and\s+)?""")


@frozen
class DeclaredRequirement:
    """One line of Overlord's ``Requires-Dist``: ``pymongo>=4.10; extra == 'mongo'``."""

    name: str
    requirement: str  # what pip is given: the specifier and any marker but the extra's
    extra: str | None

    @classmethod
    def parse(cls, text: str) -> DeclaredRequirement:
        spec, _, marker = text.partition(";")
        named = _NAME.match(spec)
        if named is None:
            raise InvalidInput(f"not a requirement: {text!r}")
        extra = _EXTRA.search(marker)
        rest = _EXTRA.sub(" ", marker).strip() if extra else marker.strip()
        requirement = f"{spec.strip()}; {rest}" if rest else spec.strip()
        return cls(distribution_name(named.group(1)), requirement, extra and extra.group(1))


def handler_requirements(declared: Iterable[str]) -> tuple[str, ...]:
    """The requirements, of Overlord's declared ones, that the handlers import (see the
    module), sorted."""
    chosen: set[str] = set()
    for text in declared:
        wanted = DeclaredRequirement.parse(text)
        if wanted.name in CLI_ONLY:
            continue
        extra = wanted.extra
        if extra is None or extra in _WHOLE_EXTRAS or wanted.name in _PICKED.get(extra, ()):
            chosen.add(wanted.requirement)
    return tuple(sorted(chosen))


def left_to_runtime(requirements: Iterable[str]) -> frozenset[str]:
    """The distributions the zip leaves out because the runtime has them: boto3's, unless a
    requirement binds the SDK's version (see the module)."""
    for text in requirements:
        named = _NAME.match(text)
        if named and distribution_name(named.group(1)) in _SDK_BOUND:
            return frozenset()
    return RUNTIME_PROVIDED


@frozen
class PackagePlan:
    """What to build: requirements for pip, for one runtime, without the distributions
    ``provided`` by the runtime. ``refresh`` asks the index for the newest matching releases
    even when the cached wheels would do."""

    runtime: LambdaRuntime
    requirements: tuple[str, ...]
    provided: frozenset[str] = frozenset()
    refresh: bool = False


@frozen
class SizeLimit:
    name: str
    measures: Literal["zipped", "unzipped"]
    bytes: int
    applies: str  # when Lambda enforces it


DIRECT_UPLOAD = SizeLimit("direct upload", "zipped", 50 * MIB, "a zip sent to the Lambda API")
UNZIPPED = SizeLimit("code and layers", "unzipped", 250 * MIB, "always, S3 uploads included")
LIMITS = (DIRECT_UPLOAD, UNZIPPED)


@frozen
class LimitCheck:
    limit: SizeLimit
    size: int

    @property
    def fits(self) -> bool:
        return self.size <= self.limit.bytes


@frozen
class PackagedDistribution:
    name: str
    version: str
    unzipped_bytes: int


def megabytes(size: int) -> str:
    """``12.3 MiB``: sizes as Lambda states its limits."""
    return f"{size / MIB:.1f} MiB"


@frozen(kw_only=True)
class LambdaPackage:
    """A built zip: where it is, its digest and sizes, and what it holds."""

    path: str
    runtime: str
    sha256: str
    files: int
    zipped_bytes: int
    unzipped_bytes: int
    distributions: tuple[PackagedDistribution, ...]
    wheels_downloaded: int = 0

    def checks(self) -> tuple[LimitCheck, ...]:
        sizes = {"zipped": self.zipped_bytes, "unzipped": self.unzipped_bytes}
        return tuple(LimitCheck(limit, sizes[limit.measures]) for limit in LIMITS)

    def require_deployable(self) -> None:
        """`PackageTooLarge` when no way of uploading the zip gets it past Lambda, naming the
        largest distributions, which are what a smaller package leaves out."""
        if self.unzipped_bytes <= UNZIPPED.bytes:
            return
        largest = sorted(self.distributions, key=lambda d: -d.unzipped_bytes)[:3]
        named = ", ".join(f"{d.name} {megabytes(d.unzipped_bytes)}" for d in largest)
        raise PackageTooLarge(
            f"{self.path} holds {megabytes(self.unzipped_bytes)} unzipped, over Lambda's "
            f"{megabytes(UNZIPPED.bytes)} for a function's code and layers (largest: {named})"
        )
