"""S3 event notifications read record by record, and the folders they say landed submitted.

S3 delivers ``{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": ...},
"object": {"key": ...}}}, ...]}`` with each key URL-encoded as in a form (``+`` for a space,
``%2B`` for a plus), so keys are decoded with `urllib.parse.unquote_plus`, strictly: a key
that is not UTF-8 once decoded was not sent by S3. When a notification is first configured, S3
sends ``{"Event": "s3:TestEvent", ...}``, which names no object and is read as no records.

The event as a whole must be a notification (`object_records`, else `InvalidInput`, which fails
the invocation visibly). `submit_folders` then reads each record on its own (`created_object`)
and hands each object to `DatasetService.folder_created`. A record is

- **submitted** when it names a folder's manifest in a bucket a connector owns. Submissions are
  idempotent (a process job's id comes from the folder's manifest), so a redelivered event, or
  one for a folder the gather stage already submitted, submits nothing new;
- **ignored** when its object is not such a manifest, is in a bucket nobody owns, was removed
  rather than created, or has a key Overlord never writes;
- **refused** when it cannot be read or its object cannot be processed (gone since, not a
  manifest, another folder's manifest, a dataset no longer declared): logged and counted, never
  raised, since a retry could never succeed, and never in the way of the records after it.

A backend failure is not the record's: the other records are still handled, then the first such
failure is raised, so that Lambda retries the event (the folders already submitted are found
again, not submitted twice).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from attrs import frozen

from overlord.domain.errors import InvalidInput, InvalidName, NotFound, OverlordError
from overlord.domain.names import validate_object_key

if TYPE_CHECKING:
    from overlord.services.datasets import DatasetService

_log = logging.getLogger(__name__)

TEST_EVENT = "s3:TestEvent"
CREATED = "ObjectCreated:"
MAX_RECORDS = 1000  # S3 sends one record per notification; a queue batches a few at most
# S3's rules for a bucket created since 2018: what a record names is one, or is not from S3.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@frozen
class ObjectCreated:
    bucket: str
    key: str  # decoded, as the object store names it


def object_records(event: object) -> Sequence[object]:
    """The records of a notification, unread; InvalidInput when it is not one."""
    if isinstance(event, Mapping) and event.get("Event") == TEST_EVENT and "Records" not in event:
        return ()
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise InvalidInput('an S3 event notification is a JSON object like {"Records": [...]}')
    if len(records) > MAX_RECORDS:
        raise InvalidInput(f"{len(records)} records: at most {MAX_RECORDS} in one event")
    return records


def _text(holder: object, key: str, where: str) -> str:
    value = holder.get(key) if isinstance(holder, Mapping) else None
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"record has no {where}")
    return value


def created_object(record: object) -> ObjectCreated | None:
    """The object a record says was created; None for another kind of record (a removal, an
    object Overlord could never have written); InvalidInput for a record S3 would not send."""
    if not isinstance(record, Mapping):
        raise InvalidInput("record is not a JSON object")
    name = record.get("eventName")
    if name is not None and not isinstance(name, str):
        raise InvalidInput("record's eventName is not a string")
    if name is not None and not name.startswith(CREATED):
        return None  # a notification configured for removals too: not an arrival
    s3 = record.get("s3")
    bucket = _text(s3.get("bucket") if isinstance(s3, Mapping) else None, "name", "s3.bucket.name")
    if not _BUCKET.fullmatch(bucket):
        raise InvalidInput(f"record's bucket {bucket[:70]!r} is not an S3 bucket name")
    encoded = _text(s3.get("object") if isinstance(s3, Mapping) else None, "key", "s3.object.key")
    try:
        key = unquote_plus(encoded, errors="strict")
        key.encode("utf-8")  # a lone surrogate, which no UTF-8 (and no S3 key) holds
    except UnicodeError:
        raise InvalidInput(f"record's key {encoded[:70]!r} is not URL-encoded UTF-8") from None
    try:
        validate_object_key(key)
    except InvalidName:
        return None  # a key S3 allows but Overlord never writes ('a//b', '..'): not ours
    return ObjectCreated(bucket, key)


@frozen
class Handled:
    """What one event's records came to: the process jobs submitted (or found, for a repeat)."""

    submitted: tuple[str, ...] = ()
    ignored: int = 0
    refused: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"submitted": list(self.submitted), "ignored": self.ignored, "refused": self.refused}


def submit_folders(records: Sequence[object], datasets: DatasetService) -> Handled:
    """Submit the process job of every folder whose manifest a record names; see the module.
    Raises the first backend failure once every record has been tried."""
    submitted: list[str] = []
    ignored = refused = 0
    failure: OverlordError | None = None
    for index, record in enumerate(records):
        keys: dict[str, Any] = {"record": index}
        try:
            created = created_object(record)
            result = None
            if created is not None:
                keys.update(bucket=created.bucket, key=created.key[:300])
                result = datasets.folder_created(created.bucket, created.key)
        except (InvalidInput, NotFound) as exc:
            refused += 1
            _log.warning("object refused: %s", exc.message, extra=keys)
            continue
        except OverlordError as exc:
            _log.warning("object not handled, to retry: %s", exc.message, extra=keys)
            failure = failure or exc
            continue
        if result is None:
            ignored += 1
            _log.info("object ignored: not a folder manifest of a dataset", extra=keys)
            continue
        job = result.job
        submitted.append(job.id.value)
        _log.info(
            "folder submitted" if result.created else "folder already submitted",
            extra={
                **keys,
                "tenant": job.tenant.value,
                "connector": job.connector.value,
                "job_id": job.id.value,
                "status": job.status.value,
            },
        )
    if failure is not None:
        raise failure
    return Handled(tuple(submitted), ignored, refused)
