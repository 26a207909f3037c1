"""Least-privilege IAM: what each function (and each role AWS assumes for the platform) may do.

A function's permissions are the sum of the *capabilities* it uses (`FUNCTION_CAPABILITIES`), and
every capability names the platform's resources by their prefix (`PlatformNames.prefix`), so one
platform's functions can touch no other platform's tables, buckets, queues or schedules. Only
actions AWS authorises on no narrower resource name ``"Resource": "*"``, and those only read
(`UNSCOPED_READS` lists them); docs/deploy.md gives the reasons and a test holds the template to
them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from overlord.adapters.aws.platform.intrinsics import NO_VALUE, Json, arn, if_, ref, sub
from overlord.adapters.aws.platform.names import BATCH_LOG_GROUP, SECRET_PREFIX, PlatformNames

# Actions that accept no resource narrower than "*" (AWS's service authorisation reference);
# none of them changes anything.
UNSCOPED_READS = (
    "batch:DescribeComputeEnvironments",
    "batch:DescribeJobDefinitions",
    "batch:DescribeJobQueues",
    "batch:DescribeJobs",
    "batch:ListJobs",
    "batch:ListSchedulingPolicies",
    "dynamodb:ListTables",
    "ecr:GetAuthorizationToken",
    "scheduler:ListSchedules",
)

Capability = Callable[[PlatformNames], list[Json]]


def statement(
    sid: str, actions: Sequence[str], resources: Sequence[Any], condition: Json | None = None
) -> Json:
    found: Json = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": list(resources),
    }
    if condition is not None:
        found["Condition"] = condition
    return found


def _buckets(names: PlatformNames) -> list[Json]:
    return [sub(f"arn:${{AWS::Partition}}:s3:::{names.prefix}*")]


def _objects(names: PlatformNames) -> list[Json]:
    return [sub(f"arn:${{AWS::Partition}}:s3:::{names.prefix}*/*")]


def _tables(names: PlatformNames) -> list[Json]:
    return [
        arn("dynamodb", f"table/{names.platform_table}"),
        arn("dynamodb", f"table/{names.tenant_tables}"),
    ]


def documents(names: PlatformNames) -> list[Json]:
    """Read and write documents (TransactWriteItems is authorised item by item, through
    PutItem, DeleteItem and ConditionCheckItem)."""
    return [
        statement(
            "Documents",
            [
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
            ],
            _tables(names),
        ),
        statement("ListTables", ["dynamodb:ListTables"], ["*"]),
    ]


def databases(names: PlatformNames) -> list[Json]:
    """Create and drop the tenants' databases (provisioning, ``tenants delete``)."""
    return [
        statement("Databases", ["dynamodb:CreateTable", "dynamodb:DeleteTable"], _tables(names))
    ]


def mongo_secret(names: PlatformNames) -> list[Json]:
    """Read the MongoDB URI (a secret under ``overlord/``, as the template's parameter says)."""
    return [
        statement(
            "MongoUri",
            ["secretsmanager:GetSecretValue"],
            [arn("secretsmanager", "secret:${MongoUriSecretName}-*")],
        )
    ]


def objects(names: PlatformNames) -> list[Json]:
    """Read and write objects in the platform's buckets (payloads, chunk lists, datasets)."""
    return [
        statement(
            "Objects",
            ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            _objects(names),
        ),
        statement("ListObjects", ["s3:ListBucket"], _buckets(names)),
    ]


def buckets(names: PlatformNames) -> list[Json]:
    """Create, configure and delete tenants' buckets (`S3ObjectStore.ensure_bucket`), each
    notifying the object-created function."""
    return [
        statement(
            "Buckets",
            [
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:DeleteBucketPolicy",
                "s3:GetBucketNotification",
                "s3:GetBucketPolicy",
                "s3:ListBucketVersions",
                "s3:PutBucketNotification",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutEncryptionConfiguration",
            ],
            _buckets(names),
        ),
        statement("ObjectVersions", ["s3:DeleteObjectVersion"], _objects(names)),
    ]


def secrets(names: PlatformNames) -> list[Json]:
    """Credentials a recipe names (``overlord/<name>``) and secret settings."""
    return [
        statement(
            "Secrets",
            ["secretsmanager:GetSecretValue"],
            [arn("secretsmanager", f"secret:{SECRET_PREFIX}*")],
        )
    ]


def _batch(names: PlatformNames, kind: str) -> Json:
    return arn("batch", f"{kind}/{names.prefix}*")


def jobs(names: PlatformNames) -> list[Json]:
    """Submit jobs to the platform's queues and follow them (job ids are random: ``job/*``)."""
    return [
        statement(
            "SubmitJobs",
            ["batch:SubmitJob"],
            [_batch(names, "job-definition"), _batch(names, "job-queue")],
        ),
        statement(
            "ControlJobs", ["batch:TagResource", "batch:TerminateJob"], [arn("batch", "job/*")]
        ),
        statement(
            "ReadBatch",
            [
                "batch:DescribeComputeEnvironments",
                "batch:DescribeJobDefinitions",
                "batch:DescribeJobQueues",
                "batch:DescribeJobs",
                "batch:ListJobs",
            ],
            ["*"],
        ),
        statement(
            "JobLogs",
            ["logs:GetLogEvents"],
            [arn("logs", f"log-group:{BATCH_LOG_GROUP}:log-stream:*")],
        ),
    ]


def compute(names: PlatformNames) -> list[Json]:
    """Make and remove tenants' compute environments, queues, job definitions and fair-share
    policies, and hand Batch the roles its jobs run as."""
    return [
        statement(
            "Compute",
            [
                "batch:CreateComputeEnvironment",
                "batch:CreateJobQueue",
                "batch:CreateSchedulingPolicy",
                "batch:DeleteComputeEnvironment",
                "batch:DeleteJobQueue",
                "batch:DeleteSchedulingPolicy",
                "batch:DeregisterJobDefinition",
                "batch:RegisterJobDefinition",
                "batch:TagResource",
                "batch:UpdateComputeEnvironment",
                "batch:UpdateJobQueue",
            ],
            [
                _batch(names, "compute-environment"),
                _batch(names, "job-queue"),
                _batch(names, "job-definition"),
                _batch(names, "scheduling-policy"),
            ],
        ),
        statement("ListFairShares", ["batch:ListSchedulingPolicies"], ["*"]),
        statement(
            "PassBatchRoles",
            ["iam:PassRole"],
            [
                arn("iam", f"role/{names.role('batch-execution')}", regional=False),
                arn("iam", f"role/{names.role('batch-job')}", regional=False),
                if_("HasBatchServiceRole", ref("BatchServiceRoleArn"), NO_VALUE),
                if_(
                    "HasBatchInstanceRole",
                    arn("iam", "role/${BatchInstanceRoleName}", regional=False),
                    NO_VALUE,
                ),
            ],
        ),
    ]


def _schedules(names: PlatformNames) -> Json:
    return arn("scheduler", f"schedule/{names.prefix}*/*")


def _pass_scheduler_role(names: PlatformNames) -> Json:
    return statement(
        "PassSchedulerRole",
        ["iam:PassRole"],
        [arn("iam", f"role/{names.role('scheduler')}", regional=False)],
        {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
    )


def schedules(names: PlatformNames) -> list[Json]:
    """Make and remove tenants' schedule groups and schedules."""
    return [
        statement(
            "ScheduleGroups",
            [
                "scheduler:CreateScheduleGroup",
                "scheduler:DeleteScheduleGroup",
                "scheduler:GetScheduleGroup",
            ],
            [arn("scheduler", f"schedule-group/{names.prefix}*")],
        ),
        statement(
            "Schedules",
            [
                "scheduler:CreateSchedule",
                "scheduler:DeleteSchedule",
                "scheduler:GetSchedule",
                "scheduler:UpdateSchedule",
            ],
            [_schedules(names)],
        ),
        statement("ListSchedules", ["scheduler:ListSchedules"], ["*"]),
        _pass_scheduler_role(names),
    ]


def follow_ups(names: PlatformNames) -> list[Json]:
    """Switch a connector's follow-up schedule on or off as its jobs start and end."""
    return [
        statement(
            "SwitchSchedules",
            ["scheduler:GetSchedule", "scheduler:UpdateSchedule"],
            [_schedules(names)],
        ),
        _pass_scheduler_role(names),
    ]


def _machines(names: PlatformNames) -> Json:
    return arn("states", f"stateMachine:{names.prefix}*")


def pipelines(names: PlatformNames) -> list[Json]:
    """Deploy a batch pipeline's state machine (`StepFunctionsWorkflow.ensure_pipeline`) and
    run it."""
    return [
        statement(
            "Pipelines",
            [
                "states:CreateStateMachine",
                "states:DescribeStateMachine",
                "states:StartExecution",
                "states:TagResource",
                "states:UpdateStateMachine",
            ],
            [_machines(names)],
        ),
        statement(
            "Executions",
            ["states:DescribeExecution", "states:StopExecution"],
            [arn("states", f"execution:{names.prefix}*:*")],
        ),
        statement(
            "PassPipelineRole",
            ["iam:PassRole"],
            [arn("iam", f"role/{names.role('pipeline')}", regional=False)],
            {"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}},
        ),
    ]


def lambda_logs(key: str) -> Capability:
    """Write the function's own log group (made by the stack, with its retention)."""

    def logs(names: PlatformNames) -> list[Json]:
        group = names.log_group(key)
        return [
            statement(
                "OwnLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [arn("logs", f"log-group:{group}:*")],
            )
        ]

    return logs


def dead_letters(names: PlatformNames) -> list[Json]:
    """Keep an event no retry could deliver (Lambda's asynchronous dead-letter queue)."""
    return [
        statement(
            "DeadLetters",
            ["sqs:SendMessage"],
            [arn("sqs", names.dead_letters)],
        )
    ]
