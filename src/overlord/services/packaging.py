"""Package the Lambda handlers' code: the use case behind ``overlord package`` and the code
step of a deploy.

The plan comes from Overlord's own declared requirements (so the versions a user installed
Overlord with bound the versions it runs with on Lambda), narrowed to what the handlers import
(`overlord.domain.lambda_package`), plus whatever the user adds: the distributions holding
their own batch tasks, which the pipeline-step handler finds through the ``overlord.tasks``
entry points, must be in the zip to be found.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from overlord.domain.lambda_package import (
    DEFAULT_RUNTIME,
    LambdaPackage,
    PackagePlan,
    handler_requirements,
    lambda_runtime,
    left_to_runtime,
)
from overlord.ports.lambda_packager import LambdaPackager


class PackagingService:
    """
    >>> from overlord.domain.lambda_package import LambdaPackage
    >>> class Recording:
    ...     def declared_requirements(self):
    ...         return ("attrs>=23.2", "typer>=0.15", "pymongo>=4.10; extra == 'mongo'")
    ...     def build(self, plan, output):
    ...         self.plan = plan
    ...         return LambdaPackage(path=str(output), runtime=plan.runtime.name, sha256="",
    ...                              files=0, zipped_bytes=0, unzipped_bytes=0, distributions=())
    >>> packager = Recording()
    >>> _ = PackagingService(packager).build(Path("lambda.zip"), extra=("acme-tasks==1.2",))
    >>> packager.plan.requirements
    ('acme-tasks==1.2', 'attrs>=23.2', 'pymongo>=4.10')
    """

    def __init__(self, packager: LambdaPackager) -> None:
        self._packager = packager

    def plan(
        self,
        runtime: str = DEFAULT_RUNTIME,
        extra: Sequence[str] = (),
        *,
        refresh: bool = False,
    ) -> PackagePlan:
        """What `build` would build; `InvalidInput` for an unknown runtime."""
        chosen = lambda_runtime(runtime)
        declared = handler_requirements(self._packager.declared_requirements())
        wanted = tuple(sorted({*declared, *(e.strip() for e in extra if e.strip())}))
        return PackagePlan(chosen, wanted, left_to_runtime(wanted), refresh=refresh)

    def build(
        self,
        output: Path,
        runtime: str = DEFAULT_RUNTIME,
        extra: Sequence[str] = (),
        *,
        refresh: bool = False,
    ) -> LambdaPackage:
        """Write the zip to ``output`` and describe it. Its size is not checked here: a caller
        shows the sizes first, then calls `LambdaPackage.require_deployable`."""
        return self._packager.build(self.plan(runtime, extra, refresh=refresh), output)
