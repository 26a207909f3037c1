"""The composition root: settings and profile in, adapters and services out.

The only module that knows every adapter. Adapters and services are imported inside builder
functions so that choosing the local profile never imports boto3, and a Lambda handler importing
the container pays only for what its profile and its request use. On the aws profile every
adapter gets the container's one `AwsClients`, which makes each boto3 client on its first call.
The AWS adapters that only some operations need (Batch, EventBridge Scheduler, Step Functions)
get their settings as functions and check them on first use, so a read that never schedules
anything builds its services without the scheduler's settings. A missing or unusable setting
is a `ConfigurationError`, the operator's to fix. Tests override providers rather than patching
modules:

    container = Container.from_settings(Settings(profile="memory"))
    with container.clock.override(FixedClock(start)):
        ...
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from overlord.settings import Profile, Settings

# dependency-injector imports, when they are installed, the libraries behind features Overlord
# does not use: settings from pydantic, configuration from YAML, wiring into FastAPI, Starlette
# or Werkzeug. Pydantic alone, which typer brings into every deployment package, costs 20-30 ms
# of each Lambda cold start. They are kept out of its import (it does without them, as when they
# are missing); anything that imports them later gets them as usual.
_UNUSED_BY_INJECTOR = frozenset(
    {"pydantic", "pydantic_settings", "yaml", "fastapi", "fast_depends", "starlette", "werkzeug"}
)


class _Unavailable:
    """An import finder that has the listed top-level modules not found."""

    def __init__(self, names: frozenset[str]) -> None:
        self._names = names

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in self._names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


@contextlib.contextmanager
def _without(names: frozenset[str]) -> Iterator[None]:
    finder = _Unavailable(names)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


with _without(_UNUSED_BY_INJECTOR - sys.modules.keys()):
    from dependency_injector import containers, providers

if TYPE_CHECKING:
    from overlord.adapters.aws.clients import AwsClients
    from overlord.domain.infrastructure import ScheduleTarget
    from overlord.domain.job_events import JobStateChange
    from overlord.ports.archives import Unpacker
    from overlord.ports.clock import Clock, IdFactory
    from overlord.ports.compute import ComputeProvisioner
    from overlord.ports.document_store import DocumentStore
    from overlord.ports.job_runner import JobRunner
    from overlord.ports.lambda_packager import LambdaPackager
    from overlord.ports.object_store import ObjectStore
    from overlord.ports.partitions import PartitionWriter
    from overlord.ports.payload_validator import PayloadValidator
    from overlord.ports.scheduler import Scheduler
    from overlord.ports.secrets import Secrets
    from overlord.ports.source import Source
    from overlord.ports.stacks import PlatformStacks
    from overlord.ports.table_sink import TableSink
    from overlord.ports.tasks import TaskRegistry, TaskRunner
    from overlord.ports.workflow import StepFunction, Workflow
    from overlord.services.batch_steps import BatchSteps
    from overlord.services.batch_store import BatchStore
    from overlord.services.batches import BatchService
    from overlord.services.catalog import CatalogService
    from overlord.services.dataset_load import Cleaners
    from overlord.services.datasets import DatasetService
    from overlord.services.follow_ups import FollowUps
    from overlord.services.job_repository import JobRepository
    from overlord.services.jobs import JobService
    from overlord.services.maintenance import MaintenanceService
    from overlord.services.packaging import PackagingService
    from overlord.services.provisioning import ProvisioningService
    from overlord.services.registry import TenantRegistry
    from overlord.services.replacement import Replacement
    from overlord.services.tenants import TenantService
    from overlord.services.tracking import TrackingService


T = TypeVar("T")


def _profile(settings: Settings) -> str:
    return settings.profile.value


def _home(settings: Settings) -> Path:
    from overlord.adapters.local.home import usable_home

    return usable_home(settings.home)


def _document_kind(settings: Settings) -> str:
    return settings.documents.value


def _memory_objects() -> ObjectStore:
    from overlord.adapters.memory.object_store import MemoryObjectStore

    return MemoryObjectStore()


class ObjectEvents:
    """The local profile's object-created events: the local object store tells every
    subscriber of each object it wrote, as S3 tells ``object_created_handler`` on AWS."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[str, str], object]] = []

    def subscribe(self, listener: Callable[[str, str], object]) -> None:
        self._listeners.append(listener)

    def __call__(self, bucket: str, key: str) -> None:
        for listener in list(self._listeners):
            listener(bucket, key)


def _local_objects(settings: Settings, events: ObjectEvents) -> ObjectStore:
    from overlord.adapters.local.object_store import LocalObjectStore

    return LocalObjectStore(_home(settings) / "objects", on_created=events)


def _aws_clients() -> AwsClients:
    from overlord.adapters.aws.clients import AwsClients

    return AwsClients()


def _s3_objects(settings: Settings, clients: AwsClients) -> ObjectStore:
    from overlord.adapters.aws.object_store import S3ObjectStore

    return S3ObjectStore(clients=clients, notify_arn=settings.object_created_arn or None)


def _memory_documents() -> DocumentStore:
    from overlord.adapters.memory.document_store import MemoryDocumentStore

    return MemoryDocumentStore()


def _closing(build: Callable[..., T], *args: Any) -> Iterator[T]:
    """A collaborator that holds connections, a pool or threads: built on first use like the
    rest, and closed by `Container.shutdown_resources` (the CLI does at the end of each
    invocation) rather than left to the process's exit."""
    built = build(*args)
    try:
        yield built
    finally:
        close = getattr(built, "close", None)
        if close is not None:
            close()


def _sqlite_documents(settings: Settings) -> DocumentStore:
    from overlord.adapters.local.document_store import SqliteDocumentStore

    return SqliteDocumentStore(_home(settings) / "documents")


def _mongo_documents(settings: Settings) -> DocumentStore:
    from overlord.adapters.mongo.document_store import MongoDocumentStore
    from overlord.domain.errors import ConfigurationError

    if not settings.mongo_uri:
        raise ConfigurationError(
            "OVERLORD_MONGO_URI is required when OVERLORD_DOCUMENT_STORE=mongo",
            setting="OVERLORD_MONGO_URI",
        )
    return MongoDocumentStore.from_uri(_secret(settings.mongo_uri))


def _secret(value: str) -> str:
    if value.startswith(("secretsmanager:", "arn:aws:secretsmanager:")):
        from overlord.adapters.aws.secrets import resolve_secret

        return resolve_secret(value)
    return value


def _dynamodb_documents(clients: AwsClients) -> DocumentStore:
    from overlord.adapters.aws.document_store import DynamoDocumentStore

    return DynamoDocumentStore(clients=clients)


def _memory_compute() -> ComputeProvisioner:
    from overlord.adapters.memory.compute import MemoryComputeProvisioner

    return MemoryComputeProvisioner()


def _local_compute(settings: Settings) -> ComputeProvisioner:
    from overlord.adapters.local.compute import LocalComputeProvisioner

    return LocalComputeProvisioner(_home(settings) / "compute")


def _batch_compute(settings: Settings, clients: AwsClients) -> ComputeProvisioner:
    from overlord.adapters.aws.batch_settings import BatchSettings
    from overlord.adapters.aws.compute import BatchComputeProvisioner

    return BatchComputeProvisioner(partial(BatchSettings.from_settings, settings), clients=clients)


def _memory_scheduler() -> Scheduler:
    from overlord.adapters.memory.scheduler import MemoryScheduler

    return MemoryScheduler()


def _local_scheduler(settings: Settings) -> Scheduler:
    from overlord.adapters.local.scheduler import LocalScheduler

    return LocalScheduler(_home(settings) / "schedules")


def _eventbridge_scheduler(settings: Settings, clients: AwsClients) -> Scheduler:
    from overlord.adapters.aws.scheduler import EventBridgeScheduler, SchedulerTargetSettings

    return EventBridgeScheduler(
        partial(SchedulerTargetSettings.from_settings, settings), clients=clients
    )


def _memory_runner(clock: Clock) -> JobRunner:
    from overlord.adapters.memory.job_runner import MemoryJobRunner

    return MemoryJobRunner(clock)


def _local_runner(settings: Settings, clock: Clock) -> JobRunner:
    from overlord.adapters.local.job_runner import LocalJobRunner

    return LocalJobRunner(_home(settings) / "jobs", clock, home=_home(settings))


def _batch_runner(clients: AwsClients) -> JobRunner:
    from overlord.adapters.aws.job_runner import BatchJobRunner

    return BatchJobRunner(clients=clients)


def _memory_workflow(steps: Mapping[str, StepFunction], clock: Clock) -> Workflow:
    from overlord.adapters.memory.workflow import MemoryWorkflow

    return MemoryWorkflow(steps, clock)


def _local_workflow(
    settings: Settings, steps: Mapping[str, StepFunction], clock: Clock
) -> Workflow:
    from overlord.adapters.local.workflow import LocalWorkflow

    return LocalWorkflow(_home(settings) / "workflows", steps, clock)


def _stepfunctions_workflow(settings: Settings, clients: AwsClients) -> Workflow:
    from overlord.adapters.aws.workflow import StepFunctionsSettings, StepFunctionsWorkflow

    return StepFunctionsWorkflow(
        partial(StepFunctionsSettings.from_settings, settings), clients=clients
    )


def _cloudformation_stacks(clients: AwsClients) -> PlatformStacks:
    from overlord.adapters.aws.platform.stacks import CloudFormationStacks

    return CloudFormationStacks(clients)


def _task_registry() -> TaskRegistry:
    from overlord.tasks import default_registry

    return default_registry()


def _cleaner_registry() -> Cleaners:
    from overlord.cleaners import default_registry

    return default_registry()


def _unpacker() -> Unpacker:
    from overlord.adapters.archives import ZipUnpacker

    return ZipUnpacker()


def _task_runner(registry: TaskRegistry) -> TaskRunner:
    from overlord.adapters.tasks import InProcessTaskRunner

    return InProcessTaskRunner(registry)


def _task_steps(registry: TaskRegistry, steps: BatchSteps) -> Mapping[str, StepFunction]:
    from overlord.adapters.tasks import TaskSteps

    return TaskSteps(registry, steps.run)


def _memory_tables() -> TableSink:
    from overlord.adapters.memory.table_sink import MemoryTableSink

    return MemoryTableSink()


def _sql_tables(settings: Settings) -> TableSink:
    """``OVERLORD_TABLES_URL`` (a SQLAlchemy URL, or a secret naming one); else, on the local
    profile, a SQLite file beside the rest of the local state."""
    from overlord.adapters.sql.table_sink import SqlTableSink
    from overlord.domain.errors import ConfigurationError

    if settings.tables_url:
        return SqlTableSink(_secret(settings.tables_url))
    if settings.profile is not Profile.LOCAL:
        raise ConfigurationError(
            "OVERLORD_TABLES_URL is required for tables on the aws profile",
            setting="OVERLORD_TABLES_URL",
        )
    return SqlTableSink(f"sqlite:///{(_home(settings) / 'tables.sqlite3').resolve()}")


def _memory_source() -> Source:
    from overlord.adapters.memory.source import MemorySource

    return MemorySource()


def _web_source(secrets: Secrets) -> Source:
    from overlord.adapters.http.source import HttpSource
    from overlord.adapters.selenium.scraper import SeleniumScraper
    from overlord.adapters.source_by_kind import SourceByKind

    return SourceByKind(api=HttpSource(secrets=secrets), scrape=SeleniumScraper())


def _environ_secrets() -> Secrets:
    import os

    from overlord.adapters.local.secrets import EnvironSecrets

    return EnvironSecrets(os.environ)


def _secrets_manager() -> Secrets:
    from overlord.adapters.aws.secrets import SecretsManagerSecrets

    return SecretsManagerSecrets()


def _partition_writer(objects: ObjectStore) -> PartitionWriter:
    from overlord.adapters.parquet.partitions import ParquetPartitionWriter

    return ParquetPartitionWriter(objects)


def _system_clock() -> Clock:
    from overlord.adapters.system import SystemClock

    return SystemClock()


def _random_ids() -> IdFactory:
    from overlord.adapters.system import RandomIdFactory

    return RandomIdFactory()


def _payload_validator() -> PayloadValidator:
    from overlord.adapters.jsonschema.payload_validator import JsonSchemaPayloadValidator

    return JsonSchemaPayloadValidator()


def _lambda_packager(settings: Settings) -> LambdaPackager:
    from overlord.adapters.pip.lambda_package import PipLambdaPackager

    cache = settings.package_cache or Path.home() / ".cache" / "overlord" / "lambda-package"
    return PipLambdaPackager(cache)


def _packaging(packager: LambdaPackager) -> PackagingService:
    from overlord.services.packaging import PackagingService

    return PackagingService(packager)


def _bundled_templates(settings: Settings) -> list[Any]:
    from overlord.adapters.local.template_files import bundled_templates, load_template_file

    templates = bundled_templates()
    for path in settings.connectors_path:
        templates.append(load_template_file(path))
    return templates


class OnFirstUse:
    """Stands in for what ``provider`` makes, and makes it when one of its attributes is first
    read: a service holds every collaborator its methods may need, and a request that calls none
    of a collaborator's methods never builds it (nor imports its adapter, nor makes its boto3
    client). Attribute reads only: the collaborators are ports, used through their methods.
    """

    __slots__ = ("__built", "__lock", "__provider")

    def __init__(self, provider: Callable[[], Any]) -> None:
        self.__provider = provider
        self.__lock = threading.Lock()
        self.__built: Any = None

    def __target(self) -> Any:
        if self.__built is None:
            with self.__lock:
                if self.__built is None:
                    self.__built = self.__provider()
        return self.__built

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_OnFirstUse__"):  # a copy made without __init__
            raise AttributeError(name)
        return getattr(self.__target(), name)

    def __repr__(self) -> str:
        return f"OnFirstUse({self.__built if self.__built is not None else self.__provider!r})"


def _on_first_use(provider: providers.Provider[Any]) -> providers.Provider[Any]:
    return providers.Factory(OnFirstUse, provider.provider)


# The services, imported when first built: a handler that answers a job's GET imports neither
# the batch nor the provisioning services.


def _batch_store(*args: Any, **kwargs: Any) -> BatchStore:
    from overlord.services.batch_store import BatchStore

    return BatchStore(*args, **kwargs)


def _batch_steps(**kwargs: Any) -> BatchSteps:
    from overlord.services.batch_steps import BatchSteps

    return BatchSteps(**kwargs)


def _catalog(*args: Any, **kwargs: Any) -> CatalogService:
    from overlord.services.catalog import CatalogService

    return CatalogService(*args, **kwargs)


def _provisioning(**kwargs: Any) -> ProvisioningService:
    from overlord.services.provisioning import ProvisioningService

    return ProvisioningService(**kwargs)


def _tenants(**kwargs: Any) -> TenantService:
    from overlord.services.tenants import TenantService

    return TenantService(**kwargs)


def _job_records(**kwargs: Any) -> JobRepository:
    from overlord.services.job_repository import JobRepository

    return JobRepository(**kwargs)


def _registry(*args: Any) -> TenantRegistry:
    from overlord.services.registry import TenantRegistry

    return TenantRegistry(*args)


def _replacement(**kwargs: Any) -> Replacement:
    from overlord.services.replacement import Replacement

    return Replacement(**kwargs)


def _follow_ups(**kwargs: Any) -> FollowUps:
    from overlord.services.follow_ups import FollowUps

    return FollowUps(**kwargs)


def _tracking(**kwargs: Any) -> TrackingService:
    from overlord.services.tracking import TrackingService

    return TrackingService(**kwargs)


def _jobs(**kwargs: Any) -> JobService:
    from overlord.services.jobs import JobService

    return JobService(**kwargs)


def _maintenance(**kwargs: Any) -> MaintenanceService:
    from overlord.services.maintenance import MaintenanceService

    return MaintenanceService(**kwargs)


def _batches(**kwargs: Any) -> BatchService:
    from overlord.services.batches import BatchService

    return BatchService(**kwargs)


def _datasets(events: ObjectEvents, **kwargs: Any) -> DatasetService:
    from overlord.services.datasets import DatasetService

    service = DatasetService(**kwargs)
    events.subscribe(service.partition_created)
    return service


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    profile = providers.Callable(_profile, settings)
    document_kind = providers.Callable(_document_kind, settings)
    namespace = providers.Callable(lambda s: s.namespace_name, settings)

    clock = providers.Singleton(_system_clock)
    ids = providers.Singleton(_random_ids)
    # The aws profile's boto3 clients, each made on its first call and shared by the adapters.
    aws_clients = providers.Singleton(_aws_clients)

    object_events = providers.Singleton(ObjectEvents)
    object_store = providers.Selector(
        profile,
        memory=providers.Singleton(_memory_objects),
        local=providers.Singleton(_local_objects, settings, object_events),
        aws=providers.Singleton(_s3_objects, settings, aws_clients),
    )
    document_store = providers.Selector(
        document_kind,
        memory=providers.Singleton(_memory_documents),
        sqlite=providers.Resource(_closing, _sqlite_documents, settings),
        mongo=providers.Resource(_closing, _mongo_documents, settings),
        dynamodb=providers.Singleton(_dynamodb_documents, aws_clients),
    )
    compute = providers.Selector(
        profile,
        memory=providers.Singleton(_memory_compute),
        local=providers.Singleton(_local_compute, settings),
        aws=providers.Singleton(_batch_compute, settings, aws_clients),
    )
    scheduler = providers.Selector(
        profile,
        memory=providers.Singleton(_memory_scheduler),
        local=providers.Singleton(_local_scheduler, settings),
        aws=providers.Singleton(_eventbridge_scheduler, settings, aws_clients),
    )

    job_runner = providers.Selector(
        profile,
        memory=providers.Singleton(_memory_runner, clock),
        local=providers.Singleton(_local_runner, settings, clock),
        aws=providers.Singleton(_batch_runner, aws_clients),
    )

    # Batch tasks by name (`overlord.task`, the ``overlord.tasks`` entry points) and where they
    # run; every task is a pipeline step. On memory and local the steps run in process (a test
    # may override ``pipeline_steps`` with its own functions); on AWS in the step Lambda.
    task_registry = providers.Singleton(_task_registry)
    task_runner = providers.Resource(_closing, _task_runner, task_registry)
    batch_store = providers.Singleton(_batch_store, document_store, namespace)
    batch_steps = providers.Singleton(
        _batch_steps, store=batch_store, runner=task_runner, clock=clock
    )
    pipeline_steps: providers.Provider[Mapping[str, StepFunction]] = providers.Singleton(
        _task_steps, task_registry, batch_steps
    )
    workflow = providers.Selector(
        profile,
        memory=providers.Singleton(_memory_workflow, pipeline_steps, clock),
        local=providers.Resource(_closing, _local_workflow, settings, pipeline_steps, clock),
        aws=providers.Singleton(_stepfunctions_workflow, settings, aws_clients),
    )

    # The platform's own stack (`overlord deploy`): AWS only, whatever the profile, since it
    # is what puts a platform on AWS in the first place.
    platform_stacks = providers.Singleton(_cloudformation_stacks, aws_clients)

    # A recipe names its credential; the value comes from OVERLORD_SECRET_<NAME> on one
    # machine and from Secrets Manager (overlord/<name>) on AWS.
    secrets = providers.Selector(
        profile,
        memory=providers.Singleton(_environ_secrets),
        local=providers.Singleton(_environ_secrets),
        aws=providers.Singleton(_secrets_manager),
    )
    source = providers.Selector(
        profile,
        memory=providers.Singleton(_memory_source),
        local=providers.Singleton(_web_source, secrets),
        aws=providers.Singleton(_web_source, secrets),
    )
    partition_writer = providers.Singleton(_partition_writer, object_store)
    table_sink = providers.Selector(
        profile,
        memory=providers.Singleton(_memory_tables),
        local=providers.Resource(_closing, _sql_tables, settings),
        aws=providers.Resource(_closing, _sql_tables, settings),
    )

    templates = providers.Singleton(_bundled_templates, settings)
    payload_validator = providers.Singleton(_payload_validator)
    catalog = providers.Singleton(
        _catalog, templates, document_store, namespace, payloads=payload_validator
    )
    registry = providers.Singleton(_registry, document_store, namespace)
    provisioning = providers.Singleton(
        _provisioning,
        catalog=catalog,
        registry=registry,
        documents=document_store,
        objects=object_store,
        compute=compute,
        scheduler=scheduler,
        clock=clock,
        namespace=namespace,
    )
    tenants = providers.Singleton(
        _tenants,
        provisioning=provisioning,
        registry=registry,
        documents=document_store,
        objects=object_store,
        compute=compute,
        scheduler=scheduler,
        namespace=namespace,
    )

    job_records = providers.Singleton(_job_records, documents=document_store, namespace=namespace)
    # The job services' collaborators that only some of their calls use are built on first use
    # (`OnFirstUse`): reading a job builds the document store and nothing else.
    follow_ups = providers.Singleton(
        _follow_ups,
        jobs=job_records,
        documents=document_store,
        scheduler=_on_first_use(scheduler),
        namespace=namespace,
    )
    tracking = providers.Singleton(
        _tracking,
        jobs=job_records,
        runner=_on_first_use(job_runner),
        follow_ups=_on_first_use(follow_ups),
    )
    jobs = providers.Singleton(
        _jobs,
        jobs=job_records,
        documents=document_store,
        objects=_on_first_use(object_store),
        runner=_on_first_use(job_runner),
        follow_ups=_on_first_use(follow_ups),
        tracking=_on_first_use(tracking),
        clock=clock,
        namespace=namespace,
        max_payload_bytes=providers.Callable(lambda s: s.max_payload_bytes, settings),
        payloads=_on_first_use(payload_validator),
        catalog=catalog.provider,  # built only to explain a connector nobody provisioned
    )
    replacement = providers.Singleton(
        _replacement,
        jobs=jobs,
        records=job_records,
        runner=job_runner,
        clock=clock,
        namespace=namespace,
    )
    maintenance = providers.Singleton(
        _maintenance,
        jobs=jobs,
        records=job_records,
        tracking=tracking,
        follow_ups=follow_ups,
        replacement=replacement,
        registry=registry,
        runner=job_runner,
        clock=clock,
        namespace=namespace,
    )

    batches = providers.Singleton(
        _batches,
        documents=document_store,
        objects=object_store,
        workflow=workflow,
        tasks=task_registry,
        clock=clock,
        namespace=namespace,
        default_pipeline=providers.Callable(lambda s: s.default_pipeline, settings),
        max_items=providers.Callable(lambda s: s.max_batch_items, settings),
        store=batch_store,
        registry=registry,
    )

    # Datasets: each stage a job; the sources, the unpacker and the tables are built only by
    # the stage that uses them (a run's GET reads documents and nothing else).
    cleaner_registry = providers.Singleton(_cleaner_registry)
    unpacker = providers.Singleton(_unpacker)
    datasets = providers.Singleton(
        _datasets,
        jobs=jobs,
        documents=document_store,
        objects=_on_first_use(object_store),
        sources=_on_first_use(source),
        unpacker=_on_first_use(unpacker),
        tables=_on_first_use(table_sink),
        partitions=_on_first_use(partition_writer),
        cleaners=_on_first_use(cleaner_registry),
        events=object_events,
        registry=registry,
        clock=clock,
        namespace=namespace,
    )

    # The Lambda deployment zip, built on this machine whatever the profile.
    lambda_packager = providers.Singleton(_lambda_packager, settings)
    packaging = providers.Singleton(_packaging, lambda_packager)

    @classmethod
    def from_settings(cls, settings: Settings) -> Container:
        return cls(settings=providers.Object(settings))


# What entrypoints read in a backend's own words goes through here too, so that no entrypoint
# imports an adapter (an import contract holds them to it); each parser is imported when used.


def job_state_change_from_event(event: object) -> JobStateChange:
    """The state change an EventBridge "Batch Job State Change" event reports."""
    from overlord.adapters.aws.batch_events import job_state_change_from_event as parse

    return parse(event)


def schedule_target_from_input(text: str) -> ScheduleTarget | None:
    """An EventBridge Scheduler target's ``Input`` read back; None when Overlord did not make
    the schedule."""
    from overlord.adapters.aws.scheduler import target_from_input

    return target_from_input(text)


def platform_template(namespace: str, document_store: str) -> dict[str, Any]:
    """The platform's CloudFormation template (what `overlord deploy` deploys)."""
    from overlord.adapters.aws.platform.template import TemplateOptions
    from overlord.adapters.aws.platform.template import platform_template as build
    from overlord.domain.names import Namespace
    from overlord.settings import DocumentStoreKind

    return build(
        TemplateOptions(
            namespace=Namespace(namespace), document_store=DocumentStoreKind(document_store)
        )
    )


def read_template_file(path: str | Path) -> dict[str, Any]:
    """Plain data from a connector template file (``.toml`` or ``.json``)."""
    from overlord.adapters.local.template_files import read_template_data

    return read_template_data(path)
