"""The Lambda handlers: thin functions over one container built on the first invocation.

`LambdaHandlers` holds the handlers' logic over a given container, which is what tests and
``overlord serve`` use; the module-level functions are what Lambda calls, and build their
container from the same ``OVERLORD_*`` settings as the CLI, once per execution environment.

A setting missing or unusable (`ConfigurationError`) is logged at error level with the setting's
name, for CloudWatch; the API handler then answers 500 ``configuration`` as the routes do, the
others raise so that the invocation fails visibly (Lambda's error metric, retries, dead letters).

Each handler imports what only it needs on its first call (the API's routes and Powertools'
resolver, the Batch event reader, the schedule tick reader, the S3 notification reader), so a
cold start of one Lambda function does not pay for the others'.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from overlord.domain.errors import ConfigurationError, InvalidInput
from overlord.entrypoints.lambdas.structured_logs import invocation, lambda_logger

if TYPE_CHECKING:
    from overlord.container import Container
    from overlord.entrypoints.api.app import HttpApi
    from overlord.services.batch_steps import BatchSteps
    from overlord.services.batches import BatchService
    from overlord.services.datasets import DatasetService
    from overlord.services.jobs import JobService
    from overlord.services.maintenance import MaintenanceService
    from overlord.services.tracking import TrackingService

_log = logging.getLogger(__name__)


class LambdaHandlers:
    """Every handler over one container.

    >>> from overlord.testing import provisioned_memory_container
    >>> handlers = LambdaHandlers(provisioned_memory_container("acme", "weather"))
    >>> tick = {"tenant": "acme", "connector": "weather", "job_type": "ingest",
    ...         "payload": {}, "scheduled_time": "2026-01-01T00:07:00Z"}
    >>> handlers.schedule(tick)["created"], handlers.schedule(tick)["created"]
    (True, False)
    """

    def __init__(self, container: Container) -> None:
        self._container = container
        self._http_api: HttpApi | None = None
        self._lock = threading.Lock()

    def _api(self) -> HttpApi:
        """The routes over the container, made on the first API event (one per handlers)."""
        with self._lock:
            if self._http_api is None:
                from overlord.entrypoints.api.app import HttpApi

                self._http_api = HttpApi(self._container)
            return self._http_api

    def api(self, event: Any, lambda_context: Any = None) -> dict[str, Any]:
        """An API Gateway proxy event, REST (v1) or HTTP API (v2), answered by the routes."""
        return self._api().handle(event, lambda_context)

    def job_state_change(self, event: Any, lambda_context: Any = None) -> dict[str, Any]:
        """An EventBridge "Batch Job State Change" event applied to the job's record.

        Tracking is idempotent and forward-only, so a replayed or late event changes nothing.
        An event that is not about an Overlord job is acknowledged and ignored: retrying it
        could never succeed. Backend failures are raised, so that Lambda retries the event.
        """
        from overlord.container import job_state_change_from_event

        try:
            change = job_state_change_from_event(event)
        except InvalidInput as exc:
            _log.warning("event ignored: %s", exc.message)
            return {"applied": False, "reason": exc.message}
        keys = {
            "tenant": change.tenant,
            "job_id": change.job_id,
            "attempt": change.attempt,
            "status": change.status.value,
        }
        tracking: TrackingService = self._container.tracking()
        job = tracking.apply(change)
        if job is None:
            _log.info("state change for no job this platform follows", extra=keys)
            return {"applied": False, "job_id": change.job_id}
        keys["connector"] = job.connector.value
        _log.info("job state recorded: %s", job.status.value, extra=keys)
        return {"applied": True, "job_id": job.id.value, "status": job.status.value}

    def schedule(self, event: Any, lambda_context: Any = None) -> dict[str, Any]:
        """An EventBridge Scheduler tick submitted once, however often it is delivered."""
        from overlord.entrypoints.lambdas.schedule_ticks import tick_from_event

        tick = tick_from_event(event, lambda_context)
        target = tick.target
        jobs: JobService = self._container.jobs()
        result = jobs.submit(
            target.tenant,
            target.connector,
            target.job_type,
            target.payload,
            idempotency_key=tick.idempotency_key,
        )
        job = result.job
        _log.info(
            "schedule tick submitted" if result.created else "schedule tick already submitted",
            extra={
                "tenant": target.tenant,
                "connector": target.connector,
                "job_id": job.id.value,
                "status": job.status.value,
            },
        )
        return {"job_id": job.id.value, "status": job.status.value, "created": result.created}

    def pipeline_step(self, event: Any, lambda_context: Any = None) -> dict[str, Any]:
        """A batch pipeline's Step Functions task: one step over one chunk (`StepCall`), or,
        once the chunks are done, ``{"action": "finish", ...}`` settling the batch.

        Errors are raised: the state machine retries what is worth retrying and records the
        rest as the chunk's failure, so a malformed call fails its chunk visibly."""
        from overlord.domain.step_calls import FINISH_ACTION, FinishCall, StepCall

        if isinstance(event, dict) and event.get("action") == FINISH_ACTION:
            finish = FinishCall.from_payload(event)
            batches: BatchService = self._container.batches()
            record = batches.finish(finish)
            keys = {"tenant": record.tenant, "batch_id": record.id, "status": record.status.value}
            _log.info("batch settled", extra=keys)
            return {"batch_id": record.id, "status": record.status.value, **record.counts}
        call = StepCall.from_payload(event)
        steps: BatchSteps = self._container.batch_steps()
        report = steps.run(call)
        batch = call.batch
        _log.info(
            "step %s ran %d items of chunk %d",
            call.step,
            report.ran,
            call.chunk,
            extra={
                "tenant": batch.tenant if batch else None,
                "batch_id": batch.batch_id if batch else None,
                "failed": report.failed,
            },
        )
        return report.to_json()

    def object_created(self, event: Any, lambda_context: Any = None) -> dict[str, Any]:
        """An S3 event notification: each dataset folder's manifest that landed submits the
        folder's process job, once; see `overlord.entrypoints.lambdas.object_events` for what
        is ignored, what is refused and what is retried."""
        from overlord.entrypoints.lambdas.object_events import object_records, submit_folders

        records = object_records(event)  # a malformed event builds nothing
        datasets: DatasetService = self._container.datasets()
        return submit_folders(records, datasets).to_json()

    def maintenance(self, event: Any, lambda_context: Any = None) -> dict[str, Any]:
        """A scheduled sweep of stuck jobs or reconcile of records with AWS Batch.

        Both are idempotent, so a redelivered invocation repeats no repair that took hold.
        """
        from overlord.entrypoints.lambdas.maintenance_tasks import task_from_event

        task = task_from_event(event)
        service: MaintenanceService = self._container.maintenance()
        resumed = []
        if task.task == "sweep":
            repairs = service.sweep(task.tenant)
            batches: BatchService = self._container.batches()
            resumed = batches.sweep(task.tenant)  # interrupted batches continue
        else:
            repairs = service.reconcile(task.tenant)
        for batch in resumed:
            _log.info(
                "batch resumed as attempt %d",
                batch.attempt,
                extra={"tenant": batch.tenant, "batch_id": batch.batch_id, "items": batch.items},
            )
        actions = Counter(repair.action.value for repair in repairs)
        if resumed:
            actions["resumed-batch"] = len(resumed)
        for repair in repairs:
            _log.info(
                "%s: %s",
                repair.action.value,
                repair.detail,
                extra={"tenant": repair.tenant, "job_id": repair.job_id, "task": task.task},
            )
        return {
            "task": task.task,
            "repairs": len(repairs) + len(resumed),
            "actions": dict(sorted(actions.items())),
        }


@functools.cache
def default_handlers() -> LambdaHandlers:
    """The handlers of this execution environment, built on its first invocation."""
    from overlord.container import Container
    from overlord.settings import Settings

    lambda_logger()
    return LambdaHandlers(Container.from_settings(Settings.load()))


def _run(
    handle: Callable[[LambdaHandlers], dict[str, Any]],
    context: Any,
    answer: Callable[[ConfigurationError], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run ``handle``; a `ConfigurationError` (from loading the settings, say) is answered by
    ``answer`` when given, else raised like any failure."""
    with invocation(context):
        try:
            return handle(default_handlers())
        except ConfigurationError as exc:
            _log.error(
                "misconfigured: %s",
                exc.message,
                extra={"code": exc.code, "setting": exc.setting},
            )
            if answer is None:
                raise
            return answer(exc)
        except Exception:
            # Raised on for Lambda to retry; logged here so the line carries the request id.
            _log.exception("invocation failed")
            raise


def _configuration_reply(exc: ConfigurationError) -> dict[str, Any]:
    """The API's 500 ``configuration`` answer, for when the routes could not even be built."""
    from overlord.entrypoints.api.app import plain_response
    from overlord.entrypoints.api.errors import reply_for

    return plain_response(reply_for(exc))


def api_handler(event: Any, context: Any) -> dict[str, Any]:
    return _run(lambda handlers: handlers.api(event, context), context, _configuration_reply)


def job_state_change_handler(event: Any, context: Any) -> dict[str, Any]:
    return _run(lambda handlers: handlers.job_state_change(event, context), context)


def schedule_handler(event: Any, context: Any) -> dict[str, Any]:
    return _run(lambda handlers: handlers.schedule(event, context), context)


def object_created_handler(event: Any, context: Any) -> dict[str, Any]:
    return _run(lambda handlers: handlers.object_created(event, context), context)


def maintenance_handler(event: Any, context: Any) -> dict[str, Any]:
    return _run(lambda handlers: handlers.maintenance(event, context), context)


def pipeline_step_handler(event: Any, context: Any) -> dict[str, Any]:
    return _run(lambda handlers: handlers.pipeline_step(event, context), context)
