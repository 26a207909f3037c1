"""What calls the functions: the REST API, the EventBridge rules, S3; and the platform's
storage (its bucket, its table, its dead-letter queue).

Each caller gets a resource-based permission naming exactly its source (the API, the rule, the
platform's buckets in this account), so nothing else may invoke a function.
"""

from __future__ import annotations

import hashlib
import json

from overlord.adapters.aws.batch_events import EVENT_DETAIL_TYPE, EVENT_SOURCE
from overlord.adapters.aws.platform.intrinsics import Json, arn, get_att, ref, sub
from overlord.adapters.aws.platform.names import PlatformNames


def _permission(function: str, principal: str, source_arn: Json, **extra: object) -> Json:
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": ref(f"{function}Function"),
            "Principal": principal,
            "SourceArn": source_arn,
            **extra,
        },
    }


def rest_api(names: PlatformNames) -> dict[str, Json]:
    """A REST API whose every path and method is proxied to the API function (payload 1.0),
    deployed to one stage. The deployment's logical id carries a digest of the methods: a
    CloudFormation deployment is a snapshot, so a changed method must make a new one."""
    uri = sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
        "${ApiFunction.Arn}/invocations"
    )

    def method(resource: Json) -> Json:
        return {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": ref("RestApi"),
                "ResourceId": resource,
                "HttpMethod": "ANY",
                "AuthorizationType": ref("ApiAuthorization"),
                "Integration": {
                    "Type": "AWS_PROXY",
                    "IntegrationHttpMethod": "POST",
                    "Uri": uri,
                },
            },
        }

    methods = {
        "ApiRootMethod": method(get_att("RestApi", "RootResourceId")),
        "ApiProxyMethod": method(ref("ApiProxyResource")),
    }
    digest = hashlib.sha256(json.dumps(methods, sort_keys=True).encode()).hexdigest()[:8]
    return {
        "RestApi": {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Name": names.api,
                "Description": f"Overlord platform {names.namespace}",
                "EndpointConfiguration": {"Types": ["REGIONAL"]},
            },
        },
        "ApiProxyResource": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": ref("RestApi"),
                "ParentId": get_att("RestApi", "RootResourceId"),
                "PathPart": "{proxy+}",
            },
        },
        **methods,
        f"ApiDeployment{digest}": {
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": sorted(methods),
            "Properties": {"RestApiId": ref("RestApi"), "StageName": ref("ApiStageName")},
        },
        "ApiPermission": _permission(
            "Api",
            "apigateway.amazonaws.com",
            arn("execute-api", "${RestApi}/*"),
        ),
    }


def rules(names: PlatformNames) -> dict[str, Json]:
    """Batch's state changes of the platform's queues to the tracking function, and the
    maintenance schedule (sweep often, reconcile less often) to the maintenance function."""
    queues = arn("batch", f"job-queue/{names.prefix}")
    found: dict[str, Json] = {
        "JobStateChangeRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": names.rule("job-state-change"),
                "Description": "AWS Batch job state changes of the platform's queues",
                "EventPattern": {
                    "source": [EVENT_SOURCE],
                    "detail-type": [EVENT_DETAIL_TYPE],
                    "detail": {"jobQueue": [{"prefix": queues}]},
                },
                "State": "ENABLED",
                "Targets": [{"Id": "tracking", "Arn": get_att("JobStateChangeFunction", "Arn")}],
            },
        },
        "JobStateChangePermission": _permission(
            "JobStateChange", "events.amazonaws.com", get_att("JobStateChangeRule", "Arn")
        ),
    }
    for task, logical in (("sweep", "Sweep"), ("reconcile", "Reconcile")):
        found[f"{logical}Rule"] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": names.rule(task),
                "Description": f"Overlord maintenance: {task}",
                "ScheduleExpression": ref(f"{logical}Schedule"),
                "State": "ENABLED",
                "Targets": [
                    {
                        "Id": task,
                        "Arn": get_att("MaintenanceFunction", "Arn"),
                        "Input": json.dumps({"task": task}),
                    }
                ],
            },
        }
        found[f"{logical}Permission"] = _permission(
            "Maintenance", "events.amazonaws.com", get_att(f"{logical}Rule", "Arn")
        )
    # Tenants' buckets are made by provisioning, not by the stack: S3 may invoke the function
    # for any of the platform's buckets, in this account only.
    found["ObjectCreatedPermission"] = _permission(
        "ObjectCreated",
        "s3.amazonaws.com",
        sub(f"arn:${{AWS::Partition}}:s3:::{names.prefix}*"),
        SourceAccount=ref("AWS::AccountId"),
    )
    return found


def bucket(names: PlatformNames) -> dict[str, Json]:
    """The platform's own bucket: private four ways (no ACLs, Block Public Access, encryption,
    TLS only), its deployment packages expiring once no rollback can need them."""
    return {
        "PlatformBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": names.bucket,
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "old-packages",
                            "Status": "Enabled",
                            "Prefix": "lambda/",
                            "ExpirationInDays": 90,
                        }
                    ]
                },
            },
        },
        "PlatformBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": ref("PlatformBucket"),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [
                                get_att("PlatformBucket", "Arn"),
                                sub("${PlatformBucket.Arn}/*"),
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
    }


def storage(names: PlatformNames, *, dynamodb: bool) -> dict[str, Json]:
    """The dead-letter queue every asynchronous delivery falls back to, and, on DynamoDB, the
    platform database's table (keys as `DynamoDocumentStore` makes them)."""
    found: dict[str, Json] = {
        "DeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": names.dead_letters,
                "MessageRetentionPeriod": 14 * 24 * 3600,
                "SqsManagedSseEnabled": True,
            },
        }
    }
    if dynamodb:
        found["PlatformTable"] = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": names.platform_table,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
            },
        }
    return found
