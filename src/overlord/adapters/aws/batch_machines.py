"""The Amazon States Language of a batch pipeline: chunks by reference, a last state that
settles the batch, and a Distributed Map over a chunk list in S3 for large batches.

Each step invokes the step Lambda (``pipeline_step_handler``) with a `StepCall` that names the
batch, its attempt and a chunk number, never item ids: the Lambda reads the chunk's items from
the batch's records and writes their outcomes back, so no state carries more than a few
hundred bytes whatever the chunk size. Lambda's own failures and Overlord's backend errors are
retried with backoff; anything else the step raises is caught and ends its chunk only.

A batch of fewer chunks than the pipeline's ``distributed_from_chunks`` maps over the input's
``chunks`` inline; a larger one (its input names ``chunk_list``, a JSON array of
``{"chunk": n}`` in S3) runs a Distributed Map, whose child executions each take one chunk, at
most ``max_concurrency`` at once, and whose failed children count against the tolerated
failure percentage. Either way a last Task sends the step Lambda a `FinishCall`, which fails
the items of chunks that broke for good and settles the batch, as the original system's last
Lambda updated its BatchTable; its failure, if the map itself failed, travels with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from overlord.adapters.aws.state_machines import (
    CHUNK_SUCCEEDED_STATE,
    LAMBDA_RETRY_ERRORS,
    StepTargetKind,
    failure_state,
    outcome_states,
    sqs_task,
)
from overlord.domain.step_calls import FINISH_ACTION

if TYPE_CHECKING:
    from overlord.domain.pipelines import PipelineSpec

CHOOSE_STATE = "Chunk list"
INLINE_STATE = "Chunks"
DISTRIBUTED_STATE = "Chunks from S3"
DISTRIBUTED_DONE = "Chunks from S3 done"
FINISH_STATE = "Finish batch"
FINISH_FAILED_STATE = "Finish failed batch"
MAP_FAILED_STATE = "Chunks failed"
# Overlord's own errors worth another try: its record store or a backend was briefly away.
OVERLORD_RETRY_ERRORS = ("BackendError", "Throttled", "OutcomeUnknown")
_BATCH = {
    "tenant.$": "$.tenant",
    "connector.$": "$.connector",
    "batch_id.$": "$.batch_id",
    "attempt.$": "$.attempt",
}


def batch_state_machine_definition(
    spec: PipelineSpec, target: str, kind: StepTargetKind
) -> dict[str, Any]:
    """The definition of a ``by_reference`` spec (see the module docstring).

    >>> from overlord.domain.pipelines import PipelineSpec
    >>> spec = PipelineSpec(name="p", steps=("fetch",), chunk_size=10, by_reference=True,
    ...                     distributed_from_chunks=40)
    >>> list(batch_state_machine_definition(spec, "arn:aws:lambda:us-east-1:1:function:s",
    ...                                     StepTargetKind.LAMBDA)["States"])
    ['Chunk list', 'Chunks', 'Chunks from S3', 'Chunks from S3 done', 'Finish batch', \
'Finish failed batch', 'Chunks failed']
    """
    selector = {"chunk.$": "$$.Map.Item.Value.chunk", **_BATCH}
    catch_map = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": FINISH_FAILED_STATE}
    ]
    states: dict[str, Any] = {
        INLINE_STATE: {
            "Type": "Map",
            "ItemsPath": "$.chunks",
            "ItemSelector": selector,
            "MaxConcurrency": spec.max_concurrency,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": spec.steps[0],
                "States": _steps(spec, target, kind, catch=True),
            },
            "ResultPath": "$.outcomes",
            "Next": FINISH_STATE,
            "Catch": catch_map,
        }
    }
    start = INLINE_STATE
    if spec.distributed_from_chunks is not None:
        start = CHOOSE_STATE
        states = {
            CHOOSE_STATE: {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.chunk_list", "IsPresent": True, "Next": DISTRIBUTED_STATE}
                ],
                "Default": INLINE_STATE,
            },
            **states,
            DISTRIBUTED_STATE: _distributed(spec, target, kind, selector, catch_map),
            DISTRIBUTED_DONE: {
                "Type": "Pass",
                "Result": [],
                "ResultPath": "$.outcomes",
                "Next": FINISH_STATE,
            },
        }
    states[FINISH_STATE] = _finish(spec, target, kind, failed=False)
    states[FINISH_FAILED_STATE] = _finish(spec, target, kind, failed=True)
    states[MAP_FAILED_STATE] = {
        "Type": "Fail",
        "Error": "Overlord.ChunksFailed",
        "Cause": "the map over the batch's chunks failed; its records say which items",
    }
    return {
        "Comment": f"Overlord batch pipeline {spec.name}: {' -> '.join(spec.steps)}",
        "StartAt": start,
        "States": states,
    }


def _distributed(
    spec: PipelineSpec,
    target: str,
    kind: StepTargetKind,
    selector: dict[str, Any],
    catch_map: list[dict[str, Any]],
) -> dict[str, Any]:
    partition = _partition(target)
    return {
        "Type": "Map",
        "ItemReader": {
            "Resource": f"arn:{partition}:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket.$": "$.chunk_list.bucket", "Key.$": "$.chunk_list.key"},
        },
        "ItemSelector": selector,
        "MaxConcurrency": spec.max_concurrency,
        "ToleratedFailurePercentage": spec.tolerated_failure_percentage,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": distributed_state(spec.steps[0]),
            # No catch: a chunk whose step failed for good fails its child execution, which is
            # what the tolerated failure percentage counts.
            "States": _steps(spec, target, kind, catch=False),
        },
        "ResultPath": None,
        "Next": DISTRIBUTED_DONE,
        "Catch": catch_map,
    }


def distributed_state(step: str) -> str:
    """A step's state name in the Distributed Map: state names are unique machine-wide."""
    return f"{step} (distributed)"


def _steps(spec: PipelineSpec, target: str, kind: StepTargetKind, *, catch: bool) -> dict[str, Any]:
    states: dict[str, Any] = {}
    name = (lambda step: step) if catch else distributed_state
    for position, step in enumerate(spec.steps):
        task = _call(
            target,
            kind,
            {
                "pipeline": spec.name,
                "step": step,
                "execution.$": "$$.Execution.Name",
                "chunk.$": "$.chunk",
                **_BATCH,
            },
        )
        task["ResultPath"] = None  # the chunk's reference travels on; results are in records
        last = position == len(spec.steps) - 1
        if catch:
            task["Catch"] = [
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.failure",
                    "Next": failure_state(step),
                }
            ]
            task["Next"] = CHUNK_SUCCEEDED_STATE if last else spec.steps[position + 1]
        elif last:
            task["End"] = True
        else:
            task["Next"] = name(spec.steps[position + 1])
        states[name(step)] = task
    if catch:
        states.update(outcome_states(spec.steps))
    return states


def _finish(
    spec: PipelineSpec, target: str, kind: StepTargetKind, *, failed: bool
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action": FINISH_ACTION,
        "pipeline": spec.name,
        "execution.$": "$$.Execution.Name",
        **_BATCH,
    }
    if failed:
        payload["failure.$"] = "$.failure"
    else:
        payload["outcomes.$"] = "$.outcomes"
    task = _call(target, kind, payload)
    task["ResultPath"] = None
    if failed:
        # The batch is settled; the execution still fails, so that it shows as broken.
        task["Next"] = MAP_FAILED_STATE
    else:
        task["OutputPath"] = "$.outcomes"  # the chunk documents, as every pipeline ends
        task["End"] = True
    return task


def _partition(target: str) -> str:
    return target.split(":")[1] if target.startswith("arn:") else "aws"


def _call(target: str, kind: StepTargetKind, payload: dict[str, Any]) -> dict[str, Any]:
    partition = _partition(target)
    if kind is StepTargetKind.LAMBDA:
        return {
            "Type": "Task",
            "Resource": f"arn:{partition}:states:::lambda:invoke",
            "Parameters": {"FunctionName": target, "Payload": payload},
            "Retry": [
                {
                    "ErrorEquals": list(LAMBDA_RETRY_ERRORS),
                    "IntervalSeconds": 2,
                    "MaxAttempts": 6,
                    "BackoffRate": 2.0,
                    "MaxDelaySeconds": 60,
                    "JitterStrategy": "FULL",
                },
                {
                    "ErrorEquals": list(OVERLORD_RETRY_ERRORS),
                    "IntervalSeconds": 5,
                    "MaxAttempts": 3,
                    "BackoffRate": 2.0,
                    "JitterStrategy": "FULL",
                },
            ],
        }
    return {"Type": "Task", **sqs_task(target, partition, payload, kind)}
