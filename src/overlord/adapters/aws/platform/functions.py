"""One Lambda function per handler, each with its own role, log group and settings.

Every function runs the same package with the same ``OVERLORD_*`` settings (`environment`), so
each builds the container the CLI would; what differs is its handler, its size and, above all,
its role: a function may do only what its handler does (`FunctionSpec.capabilities`).
"""

from __future__ import annotations

from attrs import frozen

from overlord.adapters.aws.platform import policies
from overlord.adapters.aws.platform.intrinsics import Json, arn, get_att, if_, ref, sub
from overlord.adapters.aws.platform.names import PlatformNames
from overlord.domain.lambda_package import DEFAULT_RUNTIME
from overlord.domain.lambda_package import RUNTIMES as PACKAGE_RUNTIMES
from overlord.settings import DocumentStoreKind

HANDLERS_MODULE = "overlord.entrypoints.lambdas"
# The runtimes a package can be built for (`overlord package --runtime`), the default first.
RUNTIMES = (DEFAULT_RUNTIME, *sorted(set(PACKAGE_RUNTIMES) - {DEFAULT_RUNTIME}))


@frozen(kw_only=True)
class FunctionSpec:
    """``key`` names the function (``{namespace}-{key}``) and its logical ids."""

    key: str
    logical: str
    handler: str
    description: str
    memory_mib: int
    timeout_seconds: int
    capabilities: tuple[str, ...]

    @property
    def handler_path(self) -> str:
        return f"{HANDLERS_MODULE}.{self.handler}"


# What each handler does decides what its role may do: provisioning (the API's PUT and DELETE
# routes) is the API's alone; the event handlers read and write records and submit jobs.
FUNCTIONS = (
    FunctionSpec(
        key="api",
        logical="Api",
        handler="api_handler",
        description="Overlord HTTP API (REST API proxy)",
        memory_mib=512,
        timeout_seconds=29,  # API Gateway answers 504 after 29 s whatever the function does
        capabilities=(
            "documents",
            "databases",
            "objects",
            "buckets",
            "jobs",
            "compute",
            "schedules",
            "pipelines",
            "secrets",
        ),
    ),
    FunctionSpec(
        key="job-state-change",
        logical="JobStateChange",
        handler="job_state_change_handler",
        description="Records AWS Batch job state changes (EventBridge)",
        memory_mib=256,
        timeout_seconds=60,
        capabilities=("documents", "jobs", "follow_ups", "dead_letters"),
    ),
    FunctionSpec(
        key="schedule",
        logical="Schedule",
        handler="schedule_handler",
        description="Submits a schedule's job once per tick (EventBridge Scheduler)",
        memory_mib=256,
        timeout_seconds=60,
        capabilities=("documents", "objects", "jobs", "follow_ups", "dead_letters"),
    ),
    FunctionSpec(
        key="maintenance",
        logical="Maintenance",
        handler="maintenance_handler",
        description="Sweeps stuck jobs and batches, reconciles records with AWS Batch",
        memory_mib=512,
        timeout_seconds=300,
        capabilities=(
            "documents",
            "objects",
            "jobs",
            "follow_ups",
            "pipelines",
            "dead_letters",
        ),
    ),
    FunctionSpec(
        key="pipeline-step",
        logical="PipelineStep",
        handler="pipeline_step_handler",
        description="Runs one batch pipeline step over one chunk (Step Functions)",
        memory_mib=1024,
        timeout_seconds=900,
        capabilities=("documents", "objects", "secrets"),
    ),
    FunctionSpec(
        key="object-created",
        logical="ObjectCreated",
        handler="object_created_handler",
        description="Processes dataset folders as their manifests land (S3 notifications)",
        memory_mib=1024,
        timeout_seconds=300,
        capabilities=("documents", "objects", "jobs", "dead_letters"),
    ),
)

_CAPABILITIES: dict[str, policies.Capability] = {
    "databases": policies.databases,
    "objects": policies.objects,
    "buckets": policies.buckets,
    "jobs": policies.jobs,
    "compute": policies.compute,
    "schedules": policies.schedules,
    "follow_ups": policies.follow_ups,
    "pipelines": policies.pipelines,
    "secrets": policies.secrets,
    "dead_letters": policies.dead_letters,
}


def capability_statements(
    capabilities: tuple[str, ...], names: PlatformNames, store: DocumentStoreKind
) -> list[Json]:
    """The statements of ``capabilities`` on this document store: ``documents`` is DynamoDB
    tables or the MongoDB URI's secret, and ``databases`` is nothing on MongoDB (a database
    appears with its first document)."""
    found: list[Json] = []
    for capability in capabilities:
        if capability == "documents":
            mongo = store is DocumentStoreKind.MONGO
            found += policies.mongo_secret(names) if mongo else policies.documents(names)
        elif capability == "databases":
            if store is DocumentStoreKind.DYNAMODB:
                found += policies.databases(names)
        else:
            found += _CAPABILITIES[capability](names)
    return found


def environment(names: PlatformNames, store: DocumentStoreKind) -> dict[str, object]:
    """The ``OVERLORD_*`` settings every function (and the CLI of an operator who copies them)
    needs on this platform. Optional ones left empty in the parameters are empty strings, which
    `Settings` reads as unset."""
    variables: dict[str, object] = {
        "OVERLORD_PROFILE": "aws",
        "OVERLORD_NAMESPACE": names.namespace.value,
        "OVERLORD_DOCUMENT_STORE": store.value,
        "OVERLORD_BATCH_SUBNETS": ref("BatchSubnets"),
        "OVERLORD_BATCH_SECURITY_GROUPS": ref("BatchSecurityGroups"),
        "OVERLORD_BATCH_COMPUTE_TYPE": ref("BatchComputeType"),
        "OVERLORD_BATCH_SERVICE_ROLE_ARN": ref("BatchServiceRoleArn"),
        "OVERLORD_BATCH_EXECUTION_ROLE_ARN": get_att("BatchExecutionRole", "Arn"),
        "OVERLORD_BATCH_JOB_ROLE_ARN": get_att("BatchJobRole", "Arn"),
        "OVERLORD_BATCH_INSTANCE_ROLE_ARN": if_(
            "HasBatchInstanceRole",
            arn("iam", "instance-profile/${BatchInstanceRoleName}", regional=False),
            "",
        ),
        # Built from the name, not read from the function: the schedule function's own
        # settings name it, which a reference would make a circular dependency.
        "OVERLORD_SCHEDULER_TARGET_ARN": arn("lambda", f"function:{names.function('schedule')}"),
        "OVERLORD_SCHEDULER_ROLE_ARN": get_att("SchedulerRole", "Arn"),
        "OVERLORD_SCHEDULER_DEAD_LETTER_ARN": get_att("DeadLetterQueue", "Arn"),
        "OVERLORD_PIPELINE_STEP_ARN": arn("lambda", f"function:{names.function('pipeline-step')}"),
        "OVERLORD_PIPELINE_ROLE_ARN": get_att("PipelineRole", "Arn"),
        "OVERLORD_OBJECT_CREATED_ARN": arn(
            "lambda", f"function:{names.function('object-created')}"
        ),
        "OVERLORD_TABLES_URL": ref("TablesUrl"),
        "OVERLORD_DEFAULT_TENANT": ref("DefaultTenant"),
        "OVERLORD_DEFAULT_CONNECTOR": ref("DefaultConnector"),
        "OVERLORD_DEFAULT_PIPELINE": ref("DefaultPipeline"),
        "OVERLORD_MAX_PAYLOAD_BYTES": ref("MaxPayloadBytes"),
        "POWERTOOLS_SERVICE_NAME": "overlord",
        "POWERTOOLS_LOG_LEVEL": ref("LogLevel"),
    }
    if store is DocumentStoreKind.MONGO:
        variables["OVERLORD_MONGO_URI"] = sub("secretsmanager:${MongoUriSecretName}")
    return variables


def assume_role_policy(service: str, *, this_account: bool = False) -> Json:
    """Only ``service`` may assume the role; with ``this_account``, only on behalf of this
    account (the confused-deputy guard for services that act for many accounts)."""
    trust: Json = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if this_account:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}
    return {"Version": "2012-10-17", "Statement": [trust]}


def role(
    name: str,
    service: str,
    description: str,
    statements: list[Json],
    *,
    this_account: bool = False,
) -> Json:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": name,
            "Description": description,
            "AssumeRolePolicyDocument": assume_role_policy(service, this_account=this_account),
            "Policies": [
                {
                    "PolicyName": "overlord",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                }
            ],
        },
    }


def function_resources(
    spec: FunctionSpec, names: PlatformNames, store: DocumentStoreKind
) -> dict[str, Json]:
    """The function, its role and its log group (made before the function and deleted after
    it, with a retention, so Lambda never makes one that keeps logs forever)."""
    name = names.function(spec.key)
    statements = policies.lambda_logs(spec.key)(names) + capability_statements(
        spec.capabilities, names, store
    )
    function: Json = {
        "Type": "AWS::Lambda::Function",
        "DependsOn": [f"{spec.logical}LogGroup"],
        "Properties": {
            "FunctionName": name,
            "Description": spec.description,
            "Runtime": ref("LambdaRuntime"),
            "Handler": spec.handler_path,
            "Code": {"S3Bucket": ref("CodeBucket"), "S3Key": ref("CodeKey")},
            "Role": get_att(f"{spec.logical}Role", "Arn"),
            "MemorySize": spec.memory_mib,
            "Timeout": spec.timeout_seconds,
            "Environment": {"Variables": environment(names, store)},
        },
    }
    if "dead_letters" in spec.capabilities:
        function["Properties"]["DeadLetterConfig"] = {
            "TargetArn": get_att("DeadLetterQueue", "Arn")
        }
    return {
        f"{spec.logical}Function": function,
        f"{spec.logical}Role": role(
            names.role(f"{spec.key}-function"),
            "lambda.amazonaws.com",
            f"Overlord {spec.key} function",
            statements,
        ),
        f"{spec.logical}LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": names.log_group(spec.key),
                "RetentionInDays": ref("LogRetentionDays"),
            },
        },
    }
