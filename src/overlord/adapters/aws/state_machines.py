"""The Amazon States Language a pipeline runs with on AWS Step Functions.

Generated, never written by hand, so that the state machine always matches the `PipelineSpec`
it was made from and `ensure_pipeline` can tell a changed pipeline by comparing definitions.
Pure data in, pure data out: no AWS call here. It is Step Functions' language, so it lives with
the Step Functions adapter, out of the core.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from overlord.domain.batches import RequestStatus
from overlord.domain.errors import InvalidInput

if TYPE_CHECKING:
    from overlord.domain.pipelines import PipelineSpec


MAP_STATE = "Chunks"
CHUNK_SUCCEEDED_STATE = "chunk succeeded"  # a space: no step (a slug) can take these names
_FAILED_SUFFIX = " failed"
# What Lambda itself throws when it is busy or briefly broken: worth retrying with backoff. An
# error the step raises is not retried here; the batch decides whether to retry its items.
LAMBDA_RETRY_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


class StepTargetKind(enum.StrEnum):
    """What a step's Task state calls. ``LAMBDA`` (the step Lambda, by ARN) in production;
    ``SQS`` (send the call to a queue, by URL) lets an ASL engine that cannot run Lambdas, such
    as moto's, still execute the real state machine and show what each step received."""

    LAMBDA = "lambda"
    SQS = "sqs"
    # Send the call with a task token and wait for it to be answered (SendTaskSuccess or
    # SendTaskFailure), as a Lambda step waits for the Lambda: whoever reads the queue plays
    # the Lambda, and a step ends only when its work is done.
    SQS_CALLBACK = "sqs-callback"


def sqs_task(
    queue: str, partition: str, payload: dict[str, Any], kind: StepTargetKind
) -> dict[str, Any]:
    """A Task state's resource and parameters sending ``payload`` to ``queue``."""
    if kind is StepTargetKind.SQS_CALLBACK:
        return {
            "Resource": f"arn:{partition}:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": queue,
                "MessageBody": {**payload, "task_token.$": "$$.Task.Token"},
            },
        }
    return {
        "Resource": f"arn:{partition}:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": queue, "MessageBody": payload},
    }


def failure_state(step: str) -> str:
    return f"{step}{_FAILED_SUFFIX}"


def state_machine_definition(
    spec: PipelineSpec,
    step_target_arn: str,
    kind: StepTargetKind = StepTargetKind.LAMBDA,
) -> dict[str, Any]:
    """The Amazon States Language of ``spec``: a Map over the input's ``chunks``; in each chunk,
    one Task per step in order, each calling the step target with a `StepCall` payload. A step's
    error is caught and ends only its chunk, with a `chunk_outcomes.chunk_failed` document; the
    execution's output is the list of chunk documents.

    >>> from overlord.domain.pipelines import PipelineSpec
    >>> spec = PipelineSpec(name="acme-orders", steps=("fetch", "load"), chunk_size=100)
    >>> definition = state_machine_definition(spec, "arn:aws:lambda:eu-west-1:1:function:step")
    >>> list(definition["States"]["Chunks"]["ItemProcessor"]["States"])
    ['fetch', 'load', 'chunk succeeded', 'fetch failed', 'load failed']
    """
    if not isinstance(step_target_arn, str) or not step_target_arn:
        raise InvalidInput("step target: expected a Lambda ARN or queue URL")
    kind = StepTargetKind(kind)
    if spec.by_reference:
        from overlord.adapters.aws.batch_machines import batch_state_machine_definition

        return batch_state_machine_definition(spec, step_target_arn, kind)
    states: dict[str, Any] = {}
    for position, step in enumerate(spec.steps):
        is_last = position == len(spec.steps) - 1
        task = _task(spec, step, step_target_arn, kind)
        task["Next"] = CHUNK_SUCCEEDED_STATE if is_last else spec.steps[position + 1]
        states[step] = task
    states.update(outcome_states(spec.steps))
    return {
        "Comment": f"Overlord pipeline {spec.name}: {' -> '.join(spec.steps)}",
        "StartAt": MAP_STATE,
        "States": {
            MAP_STATE: {
                "Type": "Map",
                "ItemsPath": "$.chunks",
                "ItemSelector": {"chunk.$": "$$.Map.Item.Index", "items.$": "$$.Map.Item.Value"},
                "MaxConcurrency": spec.max_concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": spec.steps[0],
                    "States": states,
                },
                "End": True,
            }
        },
    }


def _task(spec: PipelineSpec, step: str, target: str, kind: StepTargetKind) -> dict[str, Any]:
    payload = {
        "pipeline": spec.name,
        "step": step,
        "execution.$": "$$.Execution.Name",
        "chunk.$": "$.chunk",
        "items.$": "$.items",
    }
    partition = target.split(":")[1] if target.startswith("arn:") else "aws"
    task: dict[str, Any] = {"Type": "Task"}
    if kind is StepTargetKind.LAMBDA:
        task["Resource"] = f"arn:{partition}:states:::lambda:invoke"
        task["Parameters"] = {"FunctionName": target, "Payload": payload}
        task["Retry"] = [
            {
                "ErrorEquals": list(LAMBDA_RETRY_ERRORS),
                "IntervalSeconds": 2,
                "MaxAttempts": 6,
                "BackoffRate": 2.0,
                "MaxDelaySeconds": 60,
                "JitterStrategy": "FULL",
            }
        ]
    else:
        # SendMessage is not throttled on standard queues; nothing here is worth a retry.
        task.update(sqs_task(target, partition, payload, kind))
    # The chunk travels on unchanged from step to step: what a step returns is not kept.
    task["ResultPath"] = None
    task["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": failure_state(step)}
    ]
    return task


def outcome_states(steps: tuple[str, ...]) -> dict[str, Any]:
    """The states a chunk ends in: succeeded, or failed at one of ``steps`` with the error the
    step's catch caught; each passes the chunk on with its status for the finish call."""
    states: dict[str, Any] = {
        CHUNK_SUCCEEDED_STATE: {
            "Type": "Pass",
            "Parameters": {"chunk.$": "$.chunk", "status": RequestStatus.SUCCEEDED.value},
            "End": True,
        }
    }
    for step in steps:
        states[failure_state(step)] = {
            "Type": "Pass",
            "Parameters": {
                "chunk.$": "$.chunk",
                "status": RequestStatus.FAILED.value,
                "step": step,
                "failure.$": "$.failure",
            },
            "End": True,
        }
    return states
