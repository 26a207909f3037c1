"""The platform's CloudFormation template, built from its namespace and document store.

`platform_template` gives the whole stack: one function per Lambda handler with its role and
log group, the REST API, the Batch state-change rule, the maintenance schedule, the roles AWS
services assume for the platform, the platform's bucket, its dead-letter queue and, on
DynamoDB, its table. Every parameter has a default, so the template deploys as it is; what only
the account can know (Batch's subnets, say) is a parameter left empty until a connector needs it.

`bootstrap_template` is the first step of a stack that keeps its own code: the platform bucket
alone, which `overlord deploy` creates, fills with the package, then grows into the full stack.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from overlord.adapters.aws.platform.functions import FUNCTIONS, RUNTIMES, function_resources
from overlord.adapters.aws.platform.intrinsics import Json, get_att, ref, sub
from overlord.adapters.aws.platform.names import PlatformNames
from overlord.adapters.aws.platform.roles import service_roles
from overlord.adapters.aws.platform.wiring import bucket, rest_api, rules, storage
from overlord.domain.errors import InvalidInput
from overlord.domain.names import Namespace
from overlord.settings import DocumentStoreKind

TEMPLATE_FORMAT = "2010-09-09"
DEFAULT_CODE_KEY = "lambda/overlord.zip"
DOCUMENT_STORES = (DocumentStoreKind.DYNAMODB, DocumentStoreKind.MONGO)
_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827]
_COMPUTE_TYPES = ["", "FARGATE", "FARGATE_SPOT", "EC2", "SPOT"]
# Resources that hold data: said explicitly, a destroyed platform keeps none of them (`overlord
# destroy --purge` empties the buckets first, which CloudFormation cannot delete otherwise).
_STATEFUL = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup")


@frozen(kw_only=True)
class TemplateOptions:
    namespace: Namespace
    document_store: DocumentStoreKind = DocumentStoreKind.DYNAMODB

    def __attrs_post_init__(self) -> None:
        if self.document_store not in DOCUMENT_STORES:
            raise InvalidInput(
                f"document store {self.document_store.value!r}: a deployed platform keeps its "
                "documents in dynamodb or mongo"
            )

    @property
    def names(self) -> PlatformNames:
        return PlatformNames(self.namespace)


def _text(description: str, default: str, **more: Any) -> Json:
    return {"Type": "String", "Default": default, "Description": description, **more}


def parameters(options: TemplateOptions) -> dict[str, Json]:
    names = options.names
    found: dict[str, Json] = {
        "CodeBucket": _text("Bucket holding the Lambda package", names.bucket),
        "CodeKey": _text("Key of the Lambda package (overlord package)", DEFAULT_CODE_KEY),
        "LambdaRuntime": _text(
            "The runtime the package was built for (overlord package --runtime)",
            RUNTIMES[0],
            AllowedValues=list(RUNTIMES),
        ),
        "LogRetentionDays": {
            "Type": "Number",
            "Default": 30,
            "AllowedValues": _RETENTION_DAYS,
            "Description": "Days the functions' logs are kept",
        },
        "LogLevel": _text(
            "Functions' log level", "INFO", AllowedValues=["DEBUG", "INFO", "WARNING", "ERROR"]
        ),
        "ApiStageName": _text("Stage of the REST API", "v1", AllowedPattern="^[A-Za-z0-9_]+$"),
        "ApiAuthorization": _text(
            "AWS_IAM: callers sign requests (operators); NONE: put your own authorizer in front",
            "AWS_IAM",
            AllowedValues=["AWS_IAM", "NONE"],
        ),
        "BatchSubnets": _text("Comma-separated subnet ids for AWS Batch (connectors' jobs)", ""),
        "BatchSecurityGroups": _text("Comma-separated security group ids for AWS Batch", ""),
        "BatchComputeType": _text(
            "Compute type forced on every environment (empty: each template's own)",
            "",
            AllowedValues=_COMPUTE_TYPES,
        ),
        "BatchServiceRoleArn": _text(
            "AWS Batch service role (empty: Batch's service-linked role)",
            "",
            AllowedPattern="^(arn:[a-z-]+:iam::[0-9]{12}:role/.+)?$",
        ),
        "BatchInstanceRoleName": _text(
            "EC2/SPOT environments only: a role with an instance profile of the same name",
            "",
            AllowedPattern="^[A-Za-z0-9+=,.@_-]{0,64}$",
        ),
        "TablesUrl": _text(
            "Where dataset tables are loaded: secretsmanager:overlord/NAME naming a SQLAlchemy "
            "URL (empty: no tables)",
            "",
        ),
        "DefaultTenant": _text("Tenant of POST /stateMachineInit without an authorizer", ""),
        "DefaultConnector": _text("Connector of POST /stateMachineInit", "batch-manager"),
        "DefaultPipeline": _text("Pipeline a batch naming none runs (empty: the default)", ""),
        "MaxPayloadBytes": {
            "Type": "Number",
            "Default": 262144,
            "MinValue": 1,
            "Description": "Largest job payload accepted, in bytes",
        },
        "SweepSchedule": _text("How often stuck jobs and batches are swept", "rate(5 minutes)"),
        "ReconcileSchedule": _text("How often records are reconciled with Batch", "rate(1 hour)"),
    }
    if options.document_store is DocumentStoreKind.MONGO:
        found["MongoUriSecretName"] = _text(
            "Secrets Manager secret holding the MongoDB URI (text, or JSON of one field)",
            "overlord/mongo-uri",
            AllowedPattern="^[A-Za-z0-9/_+=.@-]+$",
        )
    return found


def _not_empty(parameter: str) -> Json:
    return {"Fn::Not": [{"Fn::Equals": [ref(parameter), ""]}]}


def outputs(options: TemplateOptions) -> dict[str, Json]:
    names = options.names
    found: dict[str, Json] = {
        "Namespace": {"Description": "OVERLORD_NAMESPACE", "Value": names.namespace.value},
        "DocumentStore": {
            "Description": "OVERLORD_DOCUMENT_STORE",
            "Value": options.document_store.value,
        },
        "PlatformBucketName": {"Value": ref("PlatformBucket")},
        "ApiUrl": {
            "Description": "The platform's HTTP API",
            "Value": sub(
                "https://${RestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${ApiStageName}/"
            ),
        },
        "DeadLetterQueueUrl": {"Value": ref("DeadLetterQueue")},
        "SchedulerRoleArn": {"Value": get_att("SchedulerRole", "Arn")},
        "PipelineRoleArn": {"Value": get_att("PipelineRole", "Arn")},
        "BatchJobRoleArn": {"Value": get_att("BatchJobRole", "Arn")},
        "BatchExecutionRoleArn": {"Value": get_att("BatchExecutionRole", "Arn")},
    }
    for spec in FUNCTIONS:
        found[f"{spec.logical}FunctionName"] = {"Value": ref(f"{spec.logical}Function")}
    if options.document_store is DocumentStoreKind.DYNAMODB:
        found["PlatformTableName"] = {"Value": ref("PlatformTable")}
    return found


def _description(options: TemplateOptions) -> str:
    return (
        f"Overlord platform {options.namespace} "
        f"(documents in {options.document_store.value}); made by `overlord template`"
    )


def platform_template(options: TemplateOptions) -> dict[str, Any]:
    """The whole platform's template.

    >>> template = platform_template(TemplateOptions(namespace=Namespace("acme")))
    >>> template["Resources"]["ApiFunction"]["Properties"]["FunctionName"]
    'acme-api'
    """
    names = options.names
    resources: dict[str, Json] = {}
    for spec in FUNCTIONS:
        resources.update(function_resources(spec, names, options.document_store))
    resources.update(rest_api(names))
    resources.update(rules(names))
    resources.update(service_roles(names, options.document_store))
    resources.update(bucket(names))
    dynamodb = options.document_store is DocumentStoreKind.DYNAMODB
    resources.update(storage(names, dynamodb=dynamodb))
    for resource in resources.values():
        if resource["Type"] in _STATEFUL:
            resource.update(DeletionPolicy="Delete", UpdateReplacePolicy="Delete")
    return {
        "AWSTemplateFormatVersion": TEMPLATE_FORMAT,
        "Description": _description(options),
        "Metadata": {
            "Overlord": {
                "namespace": names.namespace.value,
                "document_store": options.document_store.value,
            }
        },
        "Parameters": parameters(options),
        "Conditions": {
            "HasBatchServiceRole": _not_empty("BatchServiceRoleArn"),
            "HasBatchInstanceRole": _not_empty("BatchInstanceRoleName"),
        },
        "Resources": resources,
        "Outputs": outputs(options),
    }


def bootstrap_template(options: TemplateOptions) -> dict[str, Any]:
    """The stack's first step: the platform bucket as the full template makes it (same logical
    ids, same properties), so growing into the full stack leaves it untouched."""
    full = platform_template(options)
    kept = ("PlatformBucket", "PlatformBucketPolicy")
    return {
        "AWSTemplateFormatVersion": TEMPLATE_FORMAT,
        "Description": _description(options),
        "Metadata": full["Metadata"],
        "Resources": {key: full["Resources"][key] for key in kept},
        "Outputs": {key: full["Outputs"][key] for key in ("Namespace", "PlatformBucketName")},
    }
