"""AWS Lambda handlers: ``overlord.entrypoints.lambdas.api_handler``, ``.job_state_change_handler``,
``.schedule_handler``, ``.maintenance_handler`` (scheduled sweep and reconcile),
``.pipeline_step_handler`` (a batch pipeline's steps on Step Functions) and
``.object_created_handler`` (S3 notifications: a dataset folder that landed is processed).

Importing this package builds nothing and reads no configuration: the first invocation of a
cold environment loads `Settings` from the ``OVERLORD_*`` variables, builds the container and
keeps it for the warm invocations that follow.
"""

from overlord.entrypoints.lambdas.handlers import (
    LambdaHandlers,
    api_handler,
    job_state_change_handler,
    maintenance_handler,
    object_created_handler,
    pipeline_step_handler,
    schedule_handler,
)

__all__ = [
    "LambdaHandlers",
    "api_handler",
    "job_state_change_handler",
    "maintenance_handler",
    "object_created_handler",
    "pipeline_step_handler",
    "schedule_handler",
]
