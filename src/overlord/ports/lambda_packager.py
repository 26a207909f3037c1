"""Building the Lambda deployment zip: pip and zip files on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from overlord.domain.lambda_package import LambdaPackage, PackagePlan


class LambdaPackager(Protocol):
    """Overlord's own package plus a plan's requirements, as one reproducible zip.

    The same plan over the same Overlord files and the same resolved wheels gives the same
    bytes. A requirement no wheel for the runtime satisfies, or an index that cannot be
    reached when the cache does not hold the wheels, is a `BackendError` naming pip's reason.
    """

    def declared_requirements(self) -> tuple[str, ...]:
        """Overlord's ``Requires-Dist`` lines, as the installed distribution declares them."""

    def build(self, plan: PackagePlan, output: Path) -> LambdaPackage:
        """Write the zip to ``output`` (replacing it whole, never leaving half a file)."""
