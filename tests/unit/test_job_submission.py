"""Submitting jobs once, on the memory adapters."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from overlord.container import Container
from overlord.domain.errors import (
    IllegalTransition,
    InvalidInput,
    InvalidPayload,
    NotFound,
    PayloadTooLarge,
    Throttled,
)
from overlord.domain.jobs import JobStatus
from overlord.domain.template_parsing import template_to_mapping


@pytest.fixture
def provisioned(container: Container) -> Container:
    for connector in ("weather", "marketplace"):
        container.provisioning().apply("acme", connector)
    container.provisioning().apply("globex", "weather")
    return container


def runner(container: Container) -> Any:
    return container.job_runner()


def test_the_same_request_returns_the_existing_job(provisioned: Container) -> None:
    jobs = provisioned.jobs()
    first = jobs.submit("acme", "weather", "ingest", {"stations": ["KSEA"], "window": 7})
    again = jobs.submit("acme", "weather", "ingest", {"window": 7, "stations": ["KSEA"]})

    assert (first.created, again.created) == (True, False)
    assert again.job.id == first.job.id
    assert len(runner(provisioned).submitted) == 1
    assert first.job.status is JobStatus.SUBMITTED


def test_an_idempotency_key_makes_an_equal_payload_a_new_job(provisioned: Container) -> None:
    jobs = provisioned.jobs()
    first = jobs.submit("acme", "weather", "ingest", {})
    second = jobs.submit("acme", "weather", "ingest", {}, idempotency_key="rerun-1")

    assert second.created
    assert second.job.id != first.job.id


def test_many_identical_requests_at_once_make_one_backend_job(provisioned: Container) -> None:
    jobs = provisioned.jobs()
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def submit() -> None:
        barrier.wait()
        results.append(jobs.submit("acme", "weather", "ingest", {"n": 1}).created)

    threads = [threading.Thread(target=submit) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 15 + [True]
    assert len(runner(provisioned).submitted) == 1
    assert len(jobs.list("acme")) == 1


def test_the_backend_job_carries_the_job_id_in_its_name_and_tags(provisioned: Container) -> None:
    job = provisioned.jobs().submit("acme", "weather", "ingest", {"a": 1}).job
    request = runner(provisioned).submitted[0]

    assert request.job_name == f"overlord-{job.id}"
    assert ("overlord:job-id", job.id.value) in request.tags
    assert ("OVERLORD_PAYLOAD", '{"a":1}') in request.environment
    assert request.queue == "overlord-acme-weather"


def test_a_large_payload_travels_as_a_stored_reference(provisioned: Container) -> None:
    payload = {"items": ["x" * 100] * 400}
    job = provisioned.jobs().submit("acme", "weather", "ingest", payload).job
    env = dict(runner(provisioned).submitted[0].environment)

    assert "OVERLORD_PAYLOAD" not in env
    bucket, _, key = env["OVERLORD_PAYLOAD_REF"].partition("/")
    assert (bucket, key) == ("overlord-acme-weather", f"jobs/{job.id}/payload.json")
    assert provisioned.object_store().get_object(bucket, key).startswith(b'{"items"')


def test_a_connector_the_catalog_does_not_know_is_named_unknown_not_one_to_provision(
    provisioned: Container,
) -> None:
    jobs = provisioned.jobs()
    known = ", ".join(t.name.value for t in provisioned.catalog().list())

    with pytest.raises(NotFound) as caught:
        jobs.submit("acme", "nosuch", "ingest", {})

    assert caught.value.message == f"unknown connector 'nosuch'; the catalog has {known}"
    assert "tenants init" not in caught.value.message
    assert jobs.list("acme") == []


def test_bad_requests_are_refused_and_write_nothing(provisioned: Container) -> None:
    jobs = provisioned.jobs()
    with pytest.raises(PayloadTooLarge):
        jobs.submit("acme", "weather", "ingest", {"blob": "x" * 300_000})
    with pytest.raises(NotFound, match="no job type"):
        jobs.submit("acme", "weather", "nope", {})
    with pytest.raises(NotFound, match="tenants init"):
        jobs.submit("acme", "bank-reports", "gather", {})
    with pytest.raises(InvalidInput):
        jobs.submit("acme", "weather", "ingest", {"x": float("nan")})
    with pytest.raises(InvalidInput):
        jobs.submit("../x", "weather", "ingest", {})

    assert jobs.list("acme") == []
    assert runner(provisioned).submitted == []


@pytest.mark.parametrize(
    ("connector", "job_type", "payload", "message"),
    [
        ("marketplace", "submit-feed", {}, "payload: 'items' is a required property"),
        (
            "marketplace",
            "submit-feed",
            {"items": [{"sku": "A-1", "price": "9.50"}]},
            "payload.items[0].price: '9.50' is not of type 'number'",
        ),
        ("weather", "ingest", {"stations": [5]}, "payload.stations[0]: 5 is not of type 'string'"),
    ],
)
def test_a_payload_its_job_type_refuses_is_refused_naming_the_field_and_writes_nothing(
    provisioned: Container, connector: str, job_type: str, payload: Any, message: str
) -> None:
    jobs = provisioned.jobs()
    buckets = [
        provisioned.object_store().list_objects(f"overlord-acme-{c}")
        for c in ("weather", "marketplace")
    ]

    with pytest.raises(InvalidPayload) as caught:
        jobs.submit("acme", connector, job_type, payload)

    assert caught.value.message == message
    assert isinstance(caught.value, InvalidInput)
    assert jobs.list("acme") == []
    assert runner(provisioned).submitted == []
    assert [
        provisioned.object_store().list_objects(f"overlord-acme-{c}")
        for c in ("weather", "marketplace")
    ] == buckets
    schedule = provisioned.scheduler().describe_schedule(
        "overlord-acme", "marketplace-check-feed-status"
    )
    assert schedule is not None
    assert not schedule.enabled  # a refused submit-feed switched no follow-up on


def test_a_payload_over_the_limit_is_refused_for_its_size_before_its_schema_is_read(
    provisioned: Container,
) -> None:
    with pytest.raises(PayloadTooLarge):
        provisioned.jobs().submit("acme", "weather", "ingest", {"stations": "x" * 300_000})


def test_a_job_type_without_a_schema_takes_any_object(container: Container) -> None:
    data = template_to_mapping(container.catalog().get("weather"))
    data["version"] += 1
    del data["job_types"]["ingest"]["payload_schema"]
    container.catalog().add(data)
    container.provisioning().apply("acme", "weather")

    result = container.jobs().submit("acme", "weather", "ingest", {"stations": [5]})

    assert result.created


def test_a_backend_failure_leaves_the_job_submit_failed_with_the_reason(
    provisioned: Container,
) -> None:
    runner(provisioned).fail_next_submits(1, Throttled("Too many requests"))

    result = provisioned.jobs().submit("acme", "weather", "ingest", {})

    assert result.job.status is JobStatus.SUBMIT_FAILED
    stored = provisioned.jobs().get("acme", result.job.id.value)
    assert (stored.status, stored.status_reason) == (JobStatus.SUBMIT_FAILED, "Too many requests")


def test_another_tenants_job_is_not_visible(provisioned: Container) -> None:
    job = provisioned.jobs().submit("acme", "weather", "ingest", {}).job

    with pytest.raises(NotFound):
        provisioned.jobs().get("globex", job.id.value)


def test_cancel_stops_the_backend_job_and_records_why(provisioned: Container) -> None:
    job = provisioned.jobs().submit("acme", "weather", "ingest", {}).job

    cancelled = provisioned.jobs().cancel("acme", job.id.value, "not needed")

    assert cancelled.status is JobStatus.CANCELLED
    assert provisioned.jobs().get("acme", job.id.value).status_reason == "not needed"


def test_cancelling_a_job_that_already_finished_on_the_backend_records_how_it_finished(
    provisioned: Container,
) -> None:
    job = provisioned.jobs().submit("acme", "weather", "ingest", {}).job
    assert job.backend_job_id is not None
    runner(provisioned).advance(job.backend_job_id, JobStatus.RUNNING, attempt=1)
    runner(provisioned).advance(job.backend_job_id, JobStatus.SUCCEEDED, exit_code=0)

    with pytest.raises(IllegalTransition):
        provisioned.jobs().cancel("acme", job.id.value)

    assert provisioned.jobs().get("acme", job.id.value).status is JobStatus.SUCCEEDED


@pytest.mark.parametrize(
    "call",
    [
        lambda jobs: jobs.submit("initech", "weather", "ingest", {}),
        lambda jobs: jobs.list("initech"),
        lambda jobs: jobs.get("initech", "0" * 32),
    ],
    ids=["submit", "list", "get"],
)
def test_an_unknown_tenant_is_named_as_such(provisioned: Container, call: Any) -> None:
    with pytest.raises(NotFound, match="no tenant 'initech'"):
        call(provisioned.jobs())

    assert not provisioned.document_store().database_exists("overlord-initech")
