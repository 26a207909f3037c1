"""Provisioning a tenant's connector on the memory adapters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from attrs import evolve
from dependency_injector import providers

from overlord.container import Container
from overlord.domain.connectors import ConnectorTemplate
from overlord.domain.errors import Conflict, InvalidName, InvalidTemplate, NotFound, QuotaExceeded
from overlord.domain.infrastructure import ScheduleDefinition
from overlord.domain.template_parsing import template_to_mapping
from overlord.domain.tenants import Action, ResourceKind
from overlord.services.provisioning import ProvisioningReport


def actions(report: ProvisioningReport) -> Counter[str]:
    return Counter(r.action.value for r in report.resources)


def by_kind(report: ProvisioningReport, kind: ResourceKind) -> list[tuple[str, Action]]:
    return [(r.name, r.action) for r in report.resources if r.kind is kind]


def test_first_apply_creates_every_kind_of_resource(container: Container) -> None:
    report = container.provisioning().apply("acme", "marketplace")

    assert {r.action for r in report.resources} == {Action.CREATED}
    assert {r.kind for r in report.resources} == set(ResourceKind)
    assert [n for n, _ in by_kind(report, ResourceKind.COLLECTION)] == [
        "overlord-acme/connectors",
        "overlord-acme/jobs",
        "overlord-acme/logs",
        "overlord-acme/marketplace_settings",
        "overlord-acme/marketplace_feeds",
        "overlord-acme/marketplace_items",
    ]
    assert by_kind(report, ResourceKind.BUCKET) == [("overlord-acme-marketplace", Action.CREATED)]
    assert by_kind(report, ResourceKind.SCHEDULE) == [
        ("overlord-acme/marketplace-check-feed-status", Action.CREATED)
    ]


def test_applying_twice_reports_everything_unchanged(container: Container) -> None:
    service = container.provisioning()
    first = service.apply("acme", "marketplace")
    second = service.apply("acme", "marketplace")

    assert actions(second) == {"unchanged": len(first.resources)}
    assert not second.changed


def test_a_plan_changes_nothing_and_says_what_would_happen(container: Container) -> None:
    service = container.provisioning()
    plan = service.apply("acme", "weather", plan=True)

    assert actions(plan) == {"would-create": len(plan.resources)}
    assert container.document_store().list_databases() == []
    assert container.object_store().describe_bucket("overlord-acme-weather") is None
    assert container.compute().describe_compute_environment("overlord-acme-weather") is None
    assert container.scheduler().list_schedules("overlord-acme") == []

    service.apply("acme", "weather")
    assert actions(service.apply("acme", "weather", plan=True)) == {
        "would-keep": len(plan.resources)
    }


def test_seed_documents_are_inserted_once(container: Container) -> None:
    service = container.provisioning()
    service.apply("acme", "weather")
    service.apply("acme", "weather")

    stations = container.document_store().find("overlord-acme", "weather_stations")
    assert [doc["_id"] for doc in stations] == ["KJFK", "KSEA"]


def test_a_deleted_seed_document_is_restored_and_reported(container: Container) -> None:
    service = container.provisioning()
    service.apply("acme", "weather")
    container.document_store().delete("overlord-acme", "weather_stations", "KSEA")

    report = service.apply("acme", "weather")

    assert ("overlord-acme/weather_stations", Action.UPDATED) in by_kind(
        report, ResourceKind.COLLECTION
    )
    assert container.document_store().get("overlord-acme", "weather_stations", "KSEA")


def test_a_new_template_version_updates_only_what_changed(container: Container) -> None:
    service = container.provisioning()
    service.apply("acme", "weather")
    data: dict[str, Any] = template_to_mapping(container.catalog().get("weather"))
    data["version"] += 1
    data["collections"][1]["indexes"].append({"fields": ["quality"], "unique": False})
    data["compute"]["job_definition"]["memory_mib"] = 1024
    container.catalog().add(data)

    report = service.apply("acme", "weather")

    changed = {(r.kind, r.name) for r in report.resources if r.action is Action.UPDATED}
    assert changed == {
        (ResourceKind.CONFIGURATION, "overlord-acme/connectors/weather"),
        (ResourceKind.COLLECTION, "overlord-acme/weather_observations"),
        (ResourceKind.JOB_DEFINITION, "overlord-acme-weather"),
    }
    definition = container.compute().describe_job_definition("overlord-acme-weather")
    assert definition is not None
    assert (definition.revision, definition.spec.memory_mib) == (2, 1024)
    config = container.document_store().get("overlord-acme", "connectors", "weather")
    assert config is not None
    assert config["template_version"] == data["version"]


def test_reprovisioning_keeps_a_schedule_a_job_switched_on(container: Container) -> None:
    service = container.provisioning()
    service.apply("acme", "marketplace")
    scheduler = container.scheduler()
    scheduler.set_enabled("overlord-acme", "marketplace-check-feed-status", True)

    report = service.apply("acme", "marketplace")

    assert not report.changed
    schedule = scheduler.describe_schedule("overlord-acme", "marketplace-check-feed-status")
    assert schedule is not None
    assert schedule.enabled


def test_only_prefixes_the_template_opts_in_are_public(container: Container) -> None:
    service = container.provisioning()
    service.apply("acme", "bank-reports")
    service.apply("acme", "marketplace")
    objects = container.object_store()

    public = objects.describe_bucket("overlord-acme-bank-reports")
    private = objects.describe_bucket("overlord-acme-marketplace")
    assert public is not None
    assert public.public_read_prefixes == ("public/",)
    assert private is not None
    assert private.public_read_prefixes == ()


def test_pooled_connectors_share_one_environment_and_queue(container: Container) -> None:
    service = container.provisioning()
    first = service.apply("acme", "bank-reports")
    second = service.apply("globex", "bank-reports")

    assert by_kind(first, ResourceKind.COMPUTE_ENVIRONMENT) == [
        ("overlord-pool-batch-jobs", Action.CREATED)
    ]
    assert by_kind(second, ResourceKind.COMPUTE_ENVIRONMENT) == [
        ("overlord-pool-batch-jobs", Action.UNCHANGED)
    ]
    assert by_kind(second, ResourceKind.JOB_DEFINITION) == [
        ("overlord-globex-bank-reports", Action.CREATED)
    ]
    queue = container.compute().describe_job_queue("overlord-pool-batch-jobs")
    assert queue is not None
    assert queue.spec.fair_share


def test_deleting_one_pool_tenant_keeps_the_pool_for_the_others(container: Container) -> None:
    service = container.provisioning()
    service.apply("acme", "bank-reports")
    service.apply("globex", "bank-reports")
    compute = container.compute()

    container.tenants().delete("acme", purge=True)
    assert compute.describe_job_queue("overlord-pool-batch-jobs") is not None

    container.tenants().delete("globex", purge=True)
    assert compute.describe_job_queue("overlord-pool-batch-jobs") is None
    assert compute.describe_compute_environment("overlord-pool-batch-jobs") is None


def test_dedicated_placement_stops_at_the_batch_quota_before_creating_anything(
    container: Container,
) -> None:
    from overlord.services.provisioning import ProvisioningService

    service = ProvisioningService(
        catalog=container.catalog(),
        registry=container.registry(),
        documents=container.document_store(),
        objects=container.object_store(),
        compute=container.compute(),
        scheduler=container.scheduler(),
        clock=container.clock(),
        namespace=container.namespace(),
        quota=2,
    )
    service.apply("acme", "weather")
    service.apply("acme", "marketplace")

    with pytest.raises(QuotaExceeded, match="pooled"):
        service.apply("globex", "weather")

    assert container.object_store().describe_bucket("overlord-globex-weather") is None
    assert not container.document_store().database_exists("overlord-globex")
    assert [t.name for t in container.tenants().list()] == ["acme"]


def test_unknown_connectors_and_bad_tenant_names_change_nothing(container: Container) -> None:
    service = container.provisioning()
    with pytest.raises(NotFound, match="known: bank-reports, batch-manager, marketplace, weather"):
        service.apply("acme", "nope")
    for bad in ("../x", "$where", "ACME", "\u0430cme", "a", "acme-"):
        with pytest.raises(InvalidName):
            service.apply(bad, "weather")
    assert container.document_store().list_databases() == []


class _FailingScheduler:
    """A scheduler whose writes fail: the crash between two provisioning writes."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def ensure_schedule(self, schedule: ScheduleDefinition) -> None:
        raise RuntimeError("scheduler unavailable")


def test_applying_again_after_a_crash_finishes_the_job(container: Container) -> None:
    real = container.scheduler()
    with container.scheduler.override(providers.Object(_FailingScheduler(real))):
        container.provisioning.reset()
        failing = container.provisioning()
        with pytest.raises(RuntimeError):
            failing.apply("acme", "marketplace")
    container.provisioning.reset()
    service = container.provisioning()

    report = service.apply("acme", "marketplace")

    assert [(r.kind, r.action) for r in report.resources if r.action is not Action.UNCHANGED] == [
        (ResourceKind.SCHEDULE, Action.CREATED)
    ]


def test_delete_refuses_a_full_bucket_without_purge_and_touches_nothing(
    container: Container,
) -> None:
    container.provisioning().apply("acme", "weather")
    objects = container.object_store()
    objects.put_object("overlord-acme-weather", "observations/a.json", b"{}")

    with pytest.raises(Conflict, match="--purge"):
        container.tenants().delete("acme")

    assert container.document_store().database_exists("overlord-acme")
    assert container.compute().describe_job_queue("overlord-acme-weather") is not None
    assert objects.get_object("overlord-acme-weather", "observations/a.json") == b"{}"


def test_delete_with_purge_removes_everything_provisioning_made(container: Container) -> None:
    service = container.provisioning()
    for connector in ("weather", "marketplace", "bank-reports"):
        service.apply("acme", connector)
    container.object_store().put_object("overlord-acme-weather", "observations/a.json", b"{}")

    deleted = container.tenants().delete("acme", purge=True)

    assert {r.action for r in deleted} == {Action.DELETED}
    compute, objects = container.compute(), container.object_store()
    for connector in ("weather", "marketplace", "bank-reports"):
        assert objects.describe_bucket(f"overlord-acme-{connector}") is None
        assert compute.describe_job_definition(f"overlord-acme-{connector}") is None
    assert compute.describe_compute_environment("overlord-acme-weather") is None
    assert container.scheduler().list_schedules("overlord-acme") == []
    assert not container.document_store().database_exists("overlord-acme")
    assert container.tenants().list() == []
    with pytest.raises(NotFound):
        container.tenants().delete("acme")


def test_a_tenant_whose_provisioning_stopped_early_can_still_be_shown(
    container: Container,
) -> None:
    container.provisioning().apply("acme", "weather")
    container.document_store().drop_collection("overlord-acme", "connectors")

    detail = container.tenants().show("acme")

    assert detail.configurations == ()
    assert [report.connector for report in detail.connectors] == ["weather"]


def state(container: Container, tenant: str, connector: str) -> dict[str, Any]:
    """Everything provisioning writes, read back through the ports."""
    documents = container.document_store()
    compute = container.compute()
    name = f"overlord-{tenant}-{connector}"
    return {
        "documents": {
            database: {
                collection: sorted(documents.find(database, collection), key=lambda d: d["_id"])
                for collection in documents.list_collections(database)
            }
            for database in documents.list_databases()
        },
        "bucket": container.object_store().describe_bucket(name),
        "compute": (
            compute.count_compute_environments(),
            compute.count_job_queues(),
            compute.describe_job_definition(name),
        ),
        "schedules": container.scheduler().list_schedules(f"overlord-{tenant}"),
    }


def catalog_with(container: Container, template: ConnectorTemplate) -> None:
    """Serve ``template`` as if bundled: built in code, it never met the parser."""
    container.templates.override(providers.Object([template]))
    container.catalog.reset()
    container.provisioning.reset()


def broken_cron(template: ConnectorTemplate) -> ConnectorTemplate:
    (schedule,) = template.schedules
    return evolve(template, schedules=(evolve(schedule, expression="cron(99 99 * * ? *)"),))


def mismatched_schedule_payload(template: ConnectorTemplate) -> ConnectorTemplate:
    (schedule,) = template.schedules
    return evolve(template, schedules=(evolve(schedule, payload={"stations": [5]}),))


def invalid_payload_schema(template: ConnectorTemplate) -> ConnectorTemplate:
    job_types = tuple(
        evolve(j, payload_schema={"type": "strin"}) if j.name == "ingest" else j
        for j in template.job_types
    )
    return evolve(template, job_types=job_types)


BROKEN = {
    "cron out of range": (
        broken_cron,
        "schedules.poll-observations: expression 'cron(99 99 * * ? *)': minutes value '99'",
    ),
    "schedule payload against its schema": (
        mismatched_schedule_payload,
        "schedules.poll-observations.payload.stations[0]: 5 is not of type 'string'",
    ),
    "invalid payload schema": (
        invalid_payload_schema,
        "job_types.ingest.payload_schema.type: 'strin' is not valid",
    ),
}


@pytest.mark.parametrize(("breaks", "message"), BROKEN.values(), ids=BROKEN.keys())
def test_an_apply_that_would_fail_validation_writes_nothing_and_its_plan_says_why(
    container: Container, breaks: Callable[[ConnectorTemplate], ConnectorTemplate], message: str
) -> None:
    weather = container.catalog().get("weather")
    container.provisioning().apply("acme", "weather")
    catalog_with(container, breaks(weather))
    before = state(container, "globex", "weather")

    with pytest.raises(InvalidTemplate) as planned:
        container.provisioning().apply("globex", "weather", plan=True)
    with pytest.raises(InvalidTemplate) as applied:
        container.provisioning().apply("globex", "weather")

    assert planned.value.message.startswith(message), planned.value.message
    assert applied.value.message == planned.value.message
    assert state(container, "globex", "weather") == before
    assert [t.name for t in container.tenants().list()] == ["acme"]
