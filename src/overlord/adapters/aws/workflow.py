"""AWS Step Functions behind the Workflow port: one STANDARD state machine per pipeline.

The definition is generated from the `PipelineSpec` (`overlord.adapters.aws.state_machines`), so
``ensure_pipeline`` compares definitions and updates only when the pipeline changed. Executions
are named by their request, which makes Step Functions itself the idempotency ledger: a start
that meets ``ExecutionAlreadyExists`` answers with the first execution's ARN, built from the
state machine's ARN and the name (that is the ARN format Step Functions documents).

State machine ARNs are built from the name as well, with the account and partition of the role
the state machines run as (Step Functions only accepts a role of its own account), so starting
an execution costs one call and needs no listing. The settings are checked on first use, so
building the workflow for a request that starts no pipeline needs none of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from functools import cached_property
from typing import TYPE_CHECKING, Any

from attrs import frozen

from overlord.adapters.aws.clients import AwsClients, backend_error, error_code
from overlord.adapters.aws.state_machines import StepTargetKind, state_machine_definition
from overlord.domain.chunk_outcomes import (
    ChunkOutcome,
    ItemOutcome,
    chunk_outcomes,
    failure_text,
    item_outcomes,
)
from overlord.domain.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    OverlordError,
    PayloadTooLarge,
    QuotaExceeded,
)
from overlord.domain.pipelines import (
    ExecutionRequest,
    ExecutionState,
    ExecutionStatus,
    PipelineSpec,
)
from overlord.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import (
        DescribeExecutionOutputTypeDef,
        DescribeStateMachineOutputTypeDef,
    )

# Step Functions refuses execution input (and any state's data) above 256 KiB.
MAX_INPUT_BYTES = 256 * 1024
STOP_ERROR = "Overlord.Stopped"
_ERRORS: dict[str, type[OverlordError]] = {
    "StateMachineDoesNotExist": NotFound,
    "ExecutionDoesNotExist": NotFound,
    "StateMachineAlreadyExists": Conflict,
    "ExecutionAlreadyExists": Conflict,
    "StateMachineDeleting": Conflict,
    "ExecutionLimitExceeded": QuotaExceeded,
    "StateMachineLimitExceeded": QuotaExceeded,
    "InvalidArn": InvalidInput,
    "InvalidName": InvalidInput,
    "InvalidDefinition": InvalidInput,
    "InvalidExecutionInput": InvalidInput,
    "ValidationException": InvalidInput,
}
_STATUSES = {
    "RUNNING": ExecutionStatus.RUNNING,
    # A redrive of a failed execution is about to run it again.
    "PENDING_REDRIVE": ExecutionStatus.RUNNING,
    "SUCCEEDED": ExecutionStatus.SUCCEEDED,
    "FAILED": ExecutionStatus.FAILED,
    "TIMED_OUT": ExecutionStatus.FAILED,
    "ABORTED": ExecutionStatus.ABORTED,
}


@frozen(kw_only=True)
class StepFunctionsSettings:
    """What every pipeline's steps call, and the role its state machine runs as.

    ``step_target_kind`` is `StepTargetKind.LAMBDA` (the step Lambda's ARN) except in tests
    against an engine that cannot run Lambdas (`StepTargetKind.SQS`, a queue URL)."""

    step_target_arn: str
    role_arn: str
    step_target_kind: StepTargetKind = StepTargetKind.LAMBDA

    def __attrs_post_init__(self) -> None:
        # The state machines' ARNs are built from the role's partition and account.
        parts = self.role_arn.split(":")
        if len(parts) < 6 or parts[0] != "arn" or not parts[4]:
            raise ConfigurationError(
                f"OVERLORD_PIPELINE_ROLE_ARN {self.role_arn!r} is not an IAM role ARN",
                setting="OVERLORD_PIPELINE_ROLE_ARN",
            )

    @classmethod
    def require(cls, step_target_arn: str | None, role_arn: str | None) -> StepFunctionsSettings:
        """`ConfigurationError` naming the first required setting left unset."""
        if not step_target_arn or not role_arn:
            named = {
                "OVERLORD_PIPELINE_STEP_ARN": step_target_arn,
                "OVERLORD_PIPELINE_ROLE_ARN": role_arn,
            }
            missing = [name for name, value in named.items() if not value]
            raise ConfigurationError(
                "Step Functions pipelines need OVERLORD_PIPELINE_STEP_ARN (the pipeline step "
                "Lambda) and OVERLORD_PIPELINE_ROLE_ARN (a role Step Functions may assume); "
                f"not set: {', '.join(missing)}",
                setting=missing[0],
            )
        return cls(step_target_arn=step_target_arn, role_arn=role_arn)

    @classmethod
    def from_settings(cls, settings: Settings) -> StepFunctionsSettings:
        return cls.require(settings.pipeline_step_arn, settings.pipeline_role_arn)


@contextmanager
def _boundary(what: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        kind = _ERRORS.get(error_code(exc) or "")
        if kind is None:
            raise backend_error(exc, what) from exc
        raise kind(f"{what}: {exc.response.get('Error', {}).get('Message', '')}") from exc
    except BotoCoreError as exc:
        raise backend_error(exc, what) from exc


class StepFunctionsWorkflow:
    """Pipelines as Step Functions state machines named after them.

    ``settings`` may be a function making them, called on the first call that needs them.

    >>> workflow = StepFunctionsWorkflow(StepFunctionsSettings.require(step_arn, role_arn))
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        settings: StepFunctionsSettings | Callable[[], StepFunctionsSettings],
        client: SFNClient | None = None,
        *,
        clients: AwsClients | None = None,
    ) -> None:
        """Without ``client``, the Step Functions client of ``clients``, made on first use."""
        self._given_settings = settings
        self._given_client = client
        self._clients = clients

    @cached_property
    def _client(self) -> SFNClient:
        if self._given_client is not None:
            return self._given_client
        made: SFNClient = (self._clients or AwsClients()).client("stepfunctions")
        return made

    def _settings(self) -> StepFunctionsSettings:
        """The settings, made (and so checked) on the first call."""
        if not isinstance(self._given_settings, StepFunctionsSettings):
            self._given_settings = self._given_settings()
        return self._given_settings

    def ensure_pipeline(self, spec: PipelineSpec) -> None:
        settings = self._settings()
        definition = state_machine_definition(
            spec, settings.step_target_arn, settings.step_target_kind
        )
        arn = self._state_machine_arn(spec.name)
        what = f"state machine {spec.name}"
        current = self._describe_state_machine(arn)
        if current is None:
            try:
                with _boundary(what):
                    self._client.create_state_machine(
                        name=spec.name,
                        definition=json.dumps(definition),
                        roleArn=settings.role_arn,
                        type="STANDARD",
                        tags=[{"key": "managed-by", "value": "overlord"}],
                    )
                return
            except Conflict:
                current = self._describe_state_machine(arn)  # created meanwhile: compare it
        if current is not None and _same(current, definition, settings.role_arn):
            return
        with _boundary(what):
            self._client.update_state_machine(
                stateMachineArn=arn, definition=json.dumps(definition), roleArn=settings.role_arn
            )

    def start(self, request: ExecutionRequest) -> str:
        document = json.dumps(request.to_input(), separators=(",", ":"))
        if len(document.encode("utf-8")) > MAX_INPUT_BYTES:
            raise PayloadTooLarge(
                f"execution {request.name}: its input is over Step Functions' 256 KiB; "
                "start the batch in smaller parts"
            )
        from botocore.exceptions import ClientError

        arn = self._state_machine_arn(request.pipeline)
        with _boundary(f"execution {request.name} of pipeline {request.pipeline}"):
            try:
                started = self._client.start_execution(
                    stateMachineArn=arn, name=request.name, input=document
                )
            except ClientError as exc:
                # Running or finished, with this input or another: the name is the request.
                if error_code(exc) == "ExecutionAlreadyExists":
                    return self._execution_arn(request.pipeline, request.name)
                raise
        return started["executionArn"]

    def describe(self, execution_id: str) -> ExecutionState | None:
        found = self._describe_execution(execution_id)
        return None if found is None else _state(found)

    def stop(self, execution_id: str, reason: str) -> None:
        found = self._describe_execution(execution_id)
        if found is None or _status(found).finished:
            return
        try:
            with _boundary(f"execution {execution_id}"):
                self._client.stop_execution(
                    executionArn=execution_id, error=STOP_ERROR, cause=reason[:32768]
                )
        except (NotFound, InvalidInput):
            # It finished (or went) between the two calls: what stop promises already holds.
            again = self._describe_execution(execution_id)
            if again is not None and not _status(again).finished:
                raise

    def _describe_state_machine(self, arn: str) -> DescribeStateMachineOutputTypeDef | None:
        try:
            with _boundary(f"state machine {arn}"):
                return self._client.describe_state_machine(stateMachineArn=arn)
        except NotFound:
            return None

    def _describe_execution(self, execution_id: str) -> DescribeExecutionOutputTypeDef | None:
        if not execution_id.startswith("arn:"):
            return None
        try:
            with _boundary(f"execution {execution_id}"):
                return self._client.describe_execution(executionArn=execution_id)
        except (NotFound, InvalidInput):
            return None  # an ARN of something else, or of nothing: never given out here

    def _state_machine_arn(self, name: str) -> str:
        return f"{self._states_prefix()}:stateMachine:{name}"

    def _execution_arn(self, pipeline: str, name: str) -> str:
        return f"{self._states_prefix()}:execution:{pipeline}:{name}"

    def _states_prefix(self) -> str:
        """``arn:PARTITION:states:REGION:ACCOUNT``, of the role's account (see the module)."""
        parts = self._settings().role_arn.split(":")
        return f"arn:{parts[1]}:states:{self._client.meta.region_name}:{parts[4]}"


def _same(current: DescribeStateMachineOutputTypeDef, definition: Any, role_arn: str) -> bool:
    try:
        deployed = json.loads(current["definition"])
    except (KeyError, ValueError):
        return False
    return bool(deployed == definition and current.get("roleArn") == role_arn)


def _status(found: DescribeExecutionOutputTypeDef) -> ExecutionStatus:
    # A status this code does not know yet is taken as still going: never finished by mistake.
    return _STATUSES.get(found["status"], ExecutionStatus.RUNNING)


def _state(found: DescribeExecutionOutputTypeDef) -> ExecutionState:
    status = _status(found)
    error: str | None = None
    if status is ExecutionStatus.ABORTED:
        error = found.get("cause") or found.get("error") or "stopped"
    elif status is ExecutionStatus.FAILED:
        failure = {"Error": found.get("error") or found["status"], "Cause": found.get("cause")}
        error = failure_text(failure)
    outcomes: tuple[ItemOutcome, ...] = ()
    chunk_states: tuple[ChunkOutcome, ...] = ()
    if "output" in found:
        try:
            chunks = json.loads(found["input"]).get("chunks", [])
            documents = json.loads(found["output"])
        except (AttributeError, TypeError, ValueError):
            chunks, documents = [], []
        if isinstance(documents, list):
            chunk_states = chunk_outcomes(documents)
            # Chunks by reference name no items: their outcomes are the chunks'.
            if isinstance(chunks, list) and all(isinstance(c, list) for c in chunks):
                outcomes = item_outcomes(chunks, documents)
    stopped = found.get("stopDate")
    return ExecutionState(
        execution_id=found["executionArn"],
        name=found["name"],
        pipeline=found["stateMachineArn"].rsplit(":", 1)[-1],
        status=status,
        started_at=found["startDate"].astimezone(UTC),
        stopped_at=stopped.astimezone(UTC) if stopped is not None else None,
        error=error,
        outcomes=outcomes,
        chunks=chunk_states,
    )
