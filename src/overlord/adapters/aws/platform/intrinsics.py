"""CloudFormation's intrinsic functions as small builders, so the template code reads as what
it means (``arn("lambda", "function:x")``) rather than as nested dictionaries."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

NO_VALUE: Json = {"Ref": "AWS::NoValue"}


def ref(name: str) -> Json:
    return {"Ref": name}


def get_att(resource: str, attribute: str) -> Json:
    return {"Fn::GetAtt": [resource, attribute]}


def sub(text: str) -> Json:
    return {"Fn::Sub": text}


def if_(condition: str, then: Any, otherwise: Any) -> Json:
    return {"Fn::If": [condition, then, otherwise]}


def arn(service: str, resource: str, *, regional: bool = True, account: bool = True) -> Json:
    """``arn:PARTITION:service:REGION:ACCOUNT:resource`` with the stack's own partition, Region
    and account, so the template deploys unchanged in any account and partition.

    >>> arn("lambda", "function:acme-api")
    {'Fn::Sub': 'arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:acme-api'}
    """
    region = "${AWS::Region}" if regional else ""
    owner = "${AWS::AccountId}" if account else ""
    return sub(f"arn:${{AWS::Partition}}:{service}:{region}:{owner}:{resource}")
