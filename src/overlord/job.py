"""The job-side SDK: what a job command needs from Overlord, whichever backend runs it.

A job runs as a plain process (a local subprocess, an AWS Batch container) that Overlord starts
with environment variables. How they are spelt, that a payload over 24 KiB arrives as a
reference into the tenant's bucket instead of inline, which object store that reference points
into, and which exit code means "not done yet" are Overlord's business, not the job author's:
job code asks this module, and the same code runs on every profile.

    from overlord import job

    ctx = job.current()                    # who the job runs for, and its payload
    stations = ctx.payload["stations"]
    ctx.progress(f"fetched 3 of {len(stations)} stations")   # a line in the job's logs
    if feed_still_processing:
        ctx.not_done_yet("feed still processing")   # ends the job; the poll runs again later

Run by hand, a job needs only its payload (the rest is None, the attempt 1):

>>> ctx = current({"OVERLORD_PAYLOAD": '{"stations": ["KSEA"]}', "OVERLORD_TENANT": "acme"})
>>> ctx.tenant, ctx.attempt, ctx.payload
('acme', 1, {'stations': ['KSEA']})
>>> ctx.progress("fetched 1 of 1 stations")
fetched 1 of 1 stations

Importing this module is cheap: the object store behind a payload reference (files on the
local profile, S3 on aws) is built only when a job has one, and only that profile's adapter.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from attrs import frozen

from overlord.domain import job_protocol as protocol
from overlord.domain.errors import InvalidInput, OverlordError

if TYPE_CHECKING:
    from overlord.ports.object_store import ObjectStore

__all__ = ["JobContext", "NotDoneYet", "current"]


class NotDoneYet(SystemExit):
    """Raised by `JobContext.not_done_yet`; uncaught, it ends the job as not done yet.

    A `SystemExit`, so that ``except Exception`` in job code does not swallow it."""

    def __init__(self, reason: str) -> None:
        super().__init__(protocol.NOT_DONE_EXIT_CODE)
        self.reason = reason


@frozen(kw_only=True)
class JobContext:
    """One run of a job: who it runs for, which attempt this is, and its payload.

    ``tenant``, ``connector``, ``job_type`` and ``job_id`` are None only when the command was
    started by hand rather than by Overlord. ``payload_ref`` is ``bucket/key`` when the payload
    was read from the tenant's bucket, None when it came inline.
    """

    tenant: str | None
    connector: str | None
    job_type: str | None
    job_id: str | None
    attempt: int
    payload: dict[str, Any]
    payload_ref: str | None = None

    def progress(self, message: str) -> None:
        """Record one line in the job's logs now (flushed, so tracking sees it as it happens;
        a line break inside ``message`` becomes a space, so one call is one log entry)."""
        print(protocol.one_line(message), flush=True)

    def not_done_yet(self, reason: str) -> NoReturn:
        """End the job as "not done yet": the work it checks on is unfinished.

        The job does not succeed, so its job type's follow-up schedule stays on and the next
        firing checks again; the backend does not retry it, and the job's status reason (and
        logs) read ``not done yet: <reason>``. Raises `NotDoneYet`; code after it never runs.
        """
        print(protocol.not_done_line(reason), flush=True)
        raise NotDoneYet(reason)


def current(
    environ: Mapping[str, str] | None = None, *, objects: ObjectStore | None = None
) -> JobContext:
    """The running job's context, read from ``environ`` (default: the process environment).

    A payload stored by reference is read through ``objects`` if given, else through the
    object store of the job's profile (``OVERLORD_PROFILE`` and ``OVERLORD_HOME``, which the
    runner sets). Call it once at the start and pass the context along: each call reads the
    payload again. `InvalidInput` when the payload is not a JSON object (or the attempt not a
    number), `NotFound` when the stored payload is missing, `BackendError` when the store fails.
    """
    environ = os.environ if environ is None else environ
    payload, ref = _payload(environ, objects)
    return JobContext(
        tenant=environ.get(protocol.TENANT) or None,
        connector=environ.get(protocol.CONNECTOR) or None,
        job_type=environ.get(protocol.JOB_TYPE) or None,
        job_id=environ.get(protocol.JOB_ID) or None,
        attempt=_attempt(environ),
        payload=payload,
        payload_ref=ref,
    )


def _attempt(environ: Mapping[str, str]) -> int:
    for name in (protocol.ATTEMPT, protocol.BATCH_ATTEMPT):
        value = environ.get(name)
        if value is None:
            continue
        if not value.strip().isdecimal() or int(value) < 1:
            raise InvalidInput(f"{name}={value[:40]!r} is not an attempt number (1, 2, ...)")
        return int(value)
    return 1


def _payload(
    environ: Mapping[str, str], objects: ObjectStore | None
) -> tuple[dict[str, Any], str | None]:
    ref = environ.get(protocol.PAYLOAD_REF)
    if ref is None:
        return _json_object(environ.get(protocol.PAYLOAD, "{}"), protocol.PAYLOAD), None
    where = f"{protocol.PAYLOAD_REF}={ref[:200]!r}"
    bucket, _, key = ref.partition("/")
    if not bucket or not key:
        raise InvalidInput(f"{where} is not bucket/key")
    store = _profile_objects(environ) if objects is None else objects
    try:
        data = store.get_object(bucket, key)
    except OverlordError as exc:
        raise type(exc)(f"{where}: {exc.message}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{where}: the stored payload is not UTF-8 text") from None
    return _json_object(text, where), ref


def _json_object(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object")
    return value


def _profile_objects(environ: Mapping[str, str]) -> ObjectStore:
    """The object store of the job's profile, chosen by the composition root as for the
    submitter; only that profile's adapter is imported (no boto3 on the local profile)."""
    from overlord.container import Container
    from overlord.settings import Settings

    store: ObjectStore = Container.from_settings(Settings.load(environ)).object_store()
    return store
