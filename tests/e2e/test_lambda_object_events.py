"""The object-created handler fed S3 event notifications as S3 sends them: a dataset folder's
manifest that landed submits the folder's process job, once; every other object is ignored;
an unreadable record is refused without holding up the others.

The aws-profile tests run against the tests' moto server: the tenant is provisioned there, the
folders are written by the real upload stage, and the process job goes to AWS Batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import boto3
import pytest
from dependency_injector import providers

from overlord.container import Container
from overlord.domain.errors import BackendError, InvalidInput
from overlord.domain.manifests import FolderManifest
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.entrypoints.lambdas.object_events import ObjectCreated, created_object
from overlord.ports.object_store import ObjectStore
from overlord.samples.call_report_bulk import bulk_zip
from overlord.services.dataset_upload import upload_period
from overlord.settings import Settings
from overlord.testing import provisioned_memory_container

TENANT, CONNECTOR, DATASET, PERIOD = "acme", "bank-reports", "call-reports", "2026-03-31"


def s3_record(bucket: str, key: str, event: str = "ObjectCreated:Put") -> dict[str, Any]:
    """One record of an S3 event notification, as S3 writes it: the key URL-encoded as in a
    form (``quote_plus``, slashes kept)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-04-30T09:30:00.000Z",
        "eventName": event,
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:overlord-gather"},
        "requestParameters": {"sourceIPAddress": "10.0.12.7"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "overlord-folders",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": 512,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "sequencer": "0062E99A88DC407460",
            },
        },
    }


def notification(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def upload_sample(container: Container, tmp_path: Path) -> tuple[str, list[FolderManifest]]:
    """The sample period's folders written to the tenant's bucket by the upload stage, as the
    gather stage writes them: the tenant's bucket and the manifests written."""
    spec = container.datasets().dataset(TENANT, CONNECTOR, DATASET)
    bucket = container.jobs().target(TENANT, CONNECTOR).names["bucket"]
    archive = tmp_path / "call-reports.zip"
    archive.write_bytes(bulk_zip())
    files = container.unpacker().unpack(archive, tmp_path / "unpacked")
    kept = [f for f in files if spec.table_of(f.name) is not None]
    report = upload_period(
        container.object_store(),
        bucket,
        DATASET,
        PERIOD,
        kept,
        lambda name: spec.table_of(name) or "",
    )
    return bucket, sorted(report.written, key=lambda m: m.table)


@pytest.fixture
def memory() -> Container:
    return provisioned_memory_container(TENANT, CONNECTOR)


def test_each_manifest_submits_its_folders_process_job_once(
    memory: Container, tmp_path: Path
) -> None:
    bucket, manifests = upload_sample(memory, tmp_path)
    handlers = LambdaHandlers(memory)
    event = notification(*(s3_record(bucket, m.key) for m in manifests))

    first = handlers.object_created(event)
    again = handlers.object_created(event)

    assert len(first["submitted"]) == len(manifests) == 4
    assert again == first
    assert (first["ignored"], first["refused"]) == (0, 0)
    assert len(memory.job_runner().submitted) == 4
    jobs = [memory.jobs().get(TENANT, job_id) for job_id in first["submitted"]]
    assert [(j.job_type, j.payload["table"]) for j in jobs] == [
        ("process", m.table) for m in manifests
    ]
    assert {j.payload["checksum"] for j in jobs} == {m.checksum for m in manifests}


def test_the_gather_stage_and_the_event_name_the_same_process_job(
    memory: Container, tmp_path: Path
) -> None:
    bucket, [first, *_] = upload_sample(memory, tmp_path)
    submitted = memory.datasets().submit_folder(TENANT, CONNECTOR, first)

    answer = LambdaHandlers(memory).object_created(notification(s3_record(bucket, first.key)))

    assert answer["submitted"] == [submitted.job.id.value]
    assert len(memory.job_runner().submitted) == 1


def test_objects_that_are_not_manifests_or_not_in_an_owned_bucket_are_ignored(
    memory: Container, tmp_path: Path
) -> None:
    bucket, [manifest, *_] = upload_sample(memory, tmp_path)
    data_file = manifest.prefix + manifest.files[0].name
    event = notification(
        s3_record(bucket, data_file),
        s3_record(bucket, "incoming/0123/FFIEC CDR Call Bulk POR 03312026.zip"),
        s3_record("somebody-elses-bucket", manifest.key),
        s3_record(bucket, manifest.key, event="ObjectRemoved:Delete"),
        s3_record(bucket, "raw/a//b/_manifest.json"),  # a key S3 allows and Overlord never writes
    )

    answer = LambdaHandlers(memory).object_created(event)

    assert answer == {"submitted": [], "ignored": 5, "refused": 0}
    assert memory.job_runner().submitted == []


def test_a_bad_record_is_refused_and_the_others_are_still_handled(
    memory: Container, tmp_path: Path
) -> None:
    bucket, manifests = upload_sample(memory, tmp_path)
    stray = "raw/call-reports/2026-03-31/call_zz/_manifest.json"  # no such folder was written
    misplaced = "raw/call-reports/2026-06-30/call_rc/_manifest.json"
    store = memory.object_store()
    store.put_object(bucket, misplaced, store.get_object(bucket, manifests[1].key))
    event = notification(
        s3_record(bucket, manifests[0].key),
        "not a record",
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}}},
        s3_record("Not_A_Bucket", manifests[0].key),
        s3_record(bucket, stray),
        s3_record(bucket, misplaced),  # holds the manifest of another folder
        s3_record(bucket, manifests[2].key),
    )

    answer = LambdaHandlers(memory).object_created(event)

    assert answer["refused"] == 5
    assert answer["ignored"] == 0
    assert len(answer["submitted"]) == 2
    tables = [memory.jobs().get(TENANT, j).payload["table"] for j in answer["submitted"]]
    assert tables == [manifests[0].table, manifests[2].table]


class FlakyObjects:
    """An object store whose next ``failures`` reads fail as an S3 outage would."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.failures = 0

    def get_object(self, bucket: str, key: str) -> bytes:
        if self.failures:
            self.failures -= 1
            raise BackendError("S3 is unavailable")
        return self.inner.get_object(bucket, key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_backend_failure_is_raised_after_the_other_records_were_tried(
    memory: Container, tmp_path: Path
) -> None:
    objects = FlakyObjects(memory.object_store())
    memory.object_store.override(providers.Object(objects))
    bucket, manifests = upload_sample(memory, tmp_path)
    event = notification(*(s3_record(bucket, m.key) for m in manifests[:3]))
    objects.failures = 1

    with pytest.raises(BackendError, match="unavailable"):
        LambdaHandlers(memory).object_created(event)
    tried = len(memory.job_runner().submitted)
    retried = LambdaHandlers(memory).object_created(event)  # what Lambda's retry does

    assert tried == 2  # the records after the failed one were handled
    assert len(retried["submitted"]) == 3
    assert len(memory.job_runner().submitted) == 3  # and were not submitted again


def test_a_key_is_decoded_as_s3_encodes_it(memory: Container, tmp_path: Path) -> None:
    bucket, [manifest, *_] = upload_sample(memory, tmp_path)
    record = s3_record(bucket, manifest.key)
    record["s3"]["object"]["key"] = quote(manifest.key, safe="")  # every '/' as %2F

    answer = LambdaHandlers(memory).object_created(notification(record))

    assert len(answer["submitted"]) == 1
    spaced = s3_record(bucket, "incoming/ab/FFIEC CDR Call+Bulk.zip")
    assert spaced["s3"]["object"]["key"] == "incoming/ab/FFIEC+CDR+Call%2BBulk.zip"
    assert created_object(spaced) == ObjectCreated(bucket, "incoming/ab/FFIEC CDR Call+Bulk.zip")


def test_the_test_event_s3_sends_when_notifications_are_configured_is_acknowledged(
    memory: Container,
) -> None:
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-04-30T09:00:00.000Z",
        "Bucket": "overlord-acme-bank-reports",
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }

    answer = LambdaHandlers(memory).object_created(test_event)

    assert answer == {"submitted": [], "ignored": 0, "refused": 0}


@pytest.mark.parametrize(
    "event",
    [None, [], "Records", {}, {"Records": None}, {"Records": {"0": {}}}, {"records": []}],
)
def test_an_event_that_is_not_a_notification_is_refused(memory: Container, event: Any) -> None:
    with pytest.raises(InvalidInput, match="S3 event notification"):
        LambdaHandlers(memory).object_created(event)


# on the aws profile, against moto


@pytest.fixture
def aws(aws_account: dict[str, str], tmp_path: Path) -> Iterator[Container]:
    container = Container.from_settings(Settings.load(aws_account, tmp_path / "absent.toml"))
    container.provisioning().apply(TENANT, CONNECTOR)
    yield container
    container.shutdown_resources()


def test_on_aws_a_manifest_uploaded_to_s3_submits_its_process_job_to_batch_once(
    aws: Container, tmp_path: Path
) -> None:
    bucket, manifests = upload_sample(aws, tmp_path)
    handlers = LambdaHandlers(aws)
    manifest = manifests[0]
    event = notification(s3_record(bucket, manifest.key))

    first = handlers.object_created(event)
    again = handlers.object_created(event)

    [job_id] = first["submitted"]
    assert again["submitted"] == [job_id]
    job = aws.jobs().get(TENANT, job_id)
    assert (job.job_type, job.payload["table"], job.payload["checksum"]) == (
        "process",
        manifest.table,
        manifest.checksum,
    )
    assert job.backend_job_id is not None
    [described] = boto3.client("batch").describe_jobs(jobs=[job.backend_job_id])["jobs"]
    assert described["tags"]["overlord:job-id"] == job_id
    assert [j.id.value for j in aws.jobs().list(TENANT)] == [job_id]


def test_on_aws_other_objects_and_other_buckets_are_ignored(aws: Container, tmp_path: Path) -> None:
    bucket, [manifest, *_] = upload_sample(aws, tmp_path)
    s3 = boto3.client("s3")
    stranger = f"{bucket}-not-ours"
    s3.create_bucket(Bucket=stranger)
    s3.put_object(Bucket=stranger, Key=manifest.key, Body=b"{}")
    event = notification(
        s3_record(bucket, manifest.prefix + manifest.files[0].name),
        s3_record(stranger, manifest.key),
    )

    answer = LambdaHandlers(aws).object_created(event)

    assert answer == {"submitted": [], "ignored": 2, "refused": 0}
    assert aws.jobs().list(TENANT) == []
