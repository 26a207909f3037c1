"""What a route gets: the checked request and typed access to the services it may call.

Services are looked up on the container at each call rather than kept, so a test that
overrides a provider after the API was built is still heard, and nothing is built before the
first request needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import frozen

from overlord.entrypoints.api.requests import ApiRequest
from overlord.settings import Profile, Settings

if TYPE_CHECKING:
    from overlord.container import Container
    from overlord.services.batches import BatchService
    from overlord.services.catalog import CatalogService
    from overlord.services.datasets import DatasetService
    from overlord.services.jobs import JobService
    from overlord.services.provisioning import ProvisioningService
    from overlord.services.tenants import TenantService


class ApiContext:
    def __init__(self, container: Container) -> None:
        self._container = container

    @property
    def settings(self) -> Settings:
        settings: Settings = self._container.settings()
        return settings

    @property
    def max_payload_bytes(self) -> int:
        return self.settings.max_payload_bytes

    @property
    def pulls_backend_state(self) -> bool:
        """Whether reads must ask the backend for news: the local and memory runners only
        report when asked; on AWS, Batch pushes every change through EventBridge."""
        return self.settings.profile is not Profile.AWS

    def provisioning(self) -> ProvisioningService:
        service: ProvisioningService = self._container.provisioning()
        return service

    def tenants(self) -> TenantService:
        service: TenantService = self._container.tenants()
        return service

    def catalog(self) -> CatalogService:
        service: CatalogService = self._container.catalog()
        return service

    def jobs(self) -> JobService:
        service: JobService = self._container.jobs()
        return service

    def batches(self) -> BatchService:
        service: BatchService = self._container.batches()
        return service

    def datasets(self) -> DatasetService:
        service: DatasetService = self._container.datasets()
        return service


@frozen
class ApiCall:
    request: ApiRequest
    context: ApiContext
