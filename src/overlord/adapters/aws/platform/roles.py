"""The roles AWS services assume for the platform: Batch's jobs, EventBridge Scheduler, Step
Functions. The stack makes them, so `tenants init` finds every ``OVERLORD_*_ROLE_ARN`` set."""

from __future__ import annotations

from overlord.adapters.aws.platform import policies
from overlord.adapters.aws.platform.functions import capability_statements, role
from overlord.adapters.aws.platform.intrinsics import Json, arn, sub
from overlord.adapters.aws.platform.names import BATCH_LOG_GROUP, PlatformNames
from overlord.adapters.aws.platform.policies import statement
from overlord.settings import DocumentStoreKind

# What a job's own code does through Overlord (a dataset's gather stage submits the process
# jobs of the folders it uploaded; the job-side SDK reads payloads from the tenant's bucket).
JOB_CAPABILITIES = ("documents", "objects", "jobs", "secrets")


def service_roles(names: PlatformNames, store: DocumentStoreKind) -> dict[str, Json]:
    schedule = arn("lambda", f"function:{names.function('schedule')}")
    step = arn("lambda", f"function:{names.function('pipeline-step')}")
    step_versions = arn("lambda", f"function:{names.function('pipeline-step')}:*")
    return {
        "BatchExecutionRole": role(
            names.role("batch-execution"),
            "ecs-tasks.amazonaws.com",
            "Overlord Batch jobs: pull the image, write the job's log",
            [
                statement("PullToken", ["ecr:GetAuthorizationToken"], ["*"]),
                statement(
                    "PullImages",
                    [
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                    [arn("ecr", "repository/*")],
                ),
                statement(
                    "JobLogs",
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [arn("logs", f"log-group:{BATCH_LOG_GROUP}:*")],
                ),
            ],
        ),
        "BatchJobRole": role(
            names.role("batch-job"),
            "ecs-tasks.amazonaws.com",
            "Overlord Batch jobs: what a job's code does through Overlord",
            capability_statements(JOB_CAPABILITIES, names, store),
        ),
        "SchedulerRole": role(
            names.role("scheduler"),
            "scheduler.amazonaws.com",
            "EventBridge Scheduler: deliver a schedule's tick to the schedule function",
            [
                statement("InvokeSchedule", ["lambda:InvokeFunction"], [schedule]),
                *policies.dead_letters(names),
            ],
            this_account=True,
        ),
        "PipelineRole": role(
            names.role("pipeline"),
            "states.amazonaws.com",
            "Step Functions: run batch pipelines",
            [
                statement("InvokeSteps", ["lambda:InvokeFunction"], [step, step_versions]),
                statement(
                    "ChildExecutions",
                    ["states:StartExecution"],
                    [arn("states", f"stateMachine:{names.prefix}*")],
                ),
                statement(
                    "FollowChildExecutions",
                    ["states:DescribeExecution", "states:StopExecution"],
                    [arn("states", f"execution:{names.prefix}*")],
                ),
                statement(
                    "ChunkLists",
                    ["s3:GetObject"],
                    [sub(f"arn:${{AWS::Partition}}:s3:::{names.prefix}*/*")],
                ),
            ],
            this_account=True,
        ),
    }
