"""Settings that name a Secrets Manager secret resolve to its value, against moto over HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from overlord.adapters.aws.secrets import resolve_secret
from overlord.domain.errors import InvalidInput, NotFound


@pytest.fixture
def secrets(aws_endpoint: str) -> Any:
    return boto3.client("secretsmanager")


def new_secret(secrets: Any, value: str) -> tuple[str, str]:
    """(name, ARN) of a fresh secret holding ``value``."""
    name = f"overlord/test/{uuid.uuid4().hex[:12]}"
    arn = secrets.create_secret(Name=name, SecretString=value)["ARN"]
    return name, arn


def test_a_plain_value_is_returned_unchanged_without_calling_aws() -> None:
    for value in ("mongodb://localhost:27017", "", "secretsmanager", "arn:aws:s3:::bucket"):
        assert resolve_secret(value) == value


def test_a_text_secret_resolves_by_name_and_by_arn(secrets: Any) -> None:
    name, arn = new_secret(secrets, "mongodb+srv://user:pw@cluster/db")
    assert resolve_secret(f"secretsmanager:{name}") == "mongodb+srv://user:pw@cluster/db"
    assert resolve_secret(arn) == "mongodb+srv://user:pw@cluster/db"
    assert resolve_secret(f"secretsmanager:{arn}", client=secrets).startswith("mongodb+srv://")


def test_a_json_secret_with_one_field_resolves_to_that_field(secrets: Any) -> None:
    name, _ = new_secret(secrets, json.dumps({"uri": "mongodb://one"}))
    assert resolve_secret(f"secretsmanager:{name}") == "mongodb://one"


def test_a_field_selector_picks_one_field(secrets: Any) -> None:
    value = {"uri": "mongodb://db", "user": "overlord", "port": 27017}
    name, arn = new_secret(secrets, json.dumps(value))
    assert resolve_secret(f"secretsmanager:{name}#user") == "overlord"
    assert resolve_secret(f"{arn}#uri") == "mongodb://db"
    assert resolve_secret(f"secretsmanager:{name}#port") == "27017"
    with pytest.raises(InvalidInput, match="several fields"):
        resolve_secret(f"secretsmanager:{name}")
    with pytest.raises(NotFound, match="no field 'password'"):
        resolve_secret(f"secretsmanager:{name}#password")


def test_a_selector_on_a_text_secret_is_refused(secrets: Any) -> None:
    name, _ = new_secret(secrets, "not json")
    with pytest.raises(InvalidInput, match="not a JSON object"):
        resolve_secret(f"secretsmanager:{name}#field")


def test_a_missing_secret_is_not_found_with_its_name(aws_endpoint: str) -> None:
    missing = f"overlord/missing/{uuid.uuid4().hex[:8]}"
    with pytest.raises(NotFound, match=f"secret '{missing}' does not exist"):
        resolve_secret(f"secretsmanager:{missing}")
    with pytest.raises(InvalidInput):
        resolve_secret("secretsmanager:")
