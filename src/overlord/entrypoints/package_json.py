"""A built Lambda package as JSON: what ``overlord -o json package`` prints, and what a deploy
reports of the code it uploaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from overlord.domain.lambda_package import LambdaPackage


def package_json(package: LambdaPackage) -> dict[str, Any]:
    return {
        "path": package.path,
        "runtime": package.runtime,
        "sha256": package.sha256,
        "files": package.files,
        "zipped_bytes": package.zipped_bytes,
        "unzipped_bytes": package.unzipped_bytes,
        "wheels_downloaded": package.wheels_downloaded,
        "limits": [
            {
                "limit": check.limit.name,
                "measures": check.limit.measures,
                "size_bytes": check.size,
                "limit_bytes": check.limit.bytes,
                "applies": check.limit.applies,
                "fits": check.fits,
            }
            for check in package.checks()
        ],
        "distributions": [
            {"name": d.name, "version": d.version, "unzipped_bytes": d.unzipped_bytes}
            for d in package.distributions
        ],
    }
