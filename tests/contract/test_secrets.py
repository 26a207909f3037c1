"""The Secrets contract over every adapter: environment variables and Secrets Manager (moto)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

import boto3
import pytest

from overlord.adapters.aws.secrets import SecretsManagerSecrets
from overlord.adapters.local.secrets import EnvironSecrets
from overlord.domain.errors import NotFound
from overlord.ports.secrets import Secrets


class Harness(Protocol):
    secrets: Secrets

    def put(self, name: str, value: str) -> None: ...


class EnvironHarness:
    def __init__(self) -> None:
        self.environ: dict[str, str] = {}
        self.secrets: Secrets = EnvironSecrets(self.environ)

    def put(self, name: str, value: str) -> None:
        self.environ[f"OVERLORD_SECRET_{name.upper()}"] = value


class SecretsManagerHarness:
    def __init__(self) -> None:
        self.prefix = f"overlord-test-{uuid.uuid4().hex[:8]}/"
        self.client = boto3.client("secretsmanager")
        self.secrets: Secrets = SecretsManagerSecrets(prefix=self.prefix)

    def put(self, name: str, value: str) -> None:
        self.client.create_secret(Name=self.prefix + name, SecretString=value)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Harness]] = {
    "environ": lambda request: EnvironHarness(),
    "secretsmanager": lambda request: (
        request.getfixturevalue("aws_endpoint"),
        SecretsManagerHarness(),
    )[1],
}


@pytest.fixture(params=sorted(FACTORIES))
def harness(request: pytest.FixtureRequest) -> Harness:
    return FACTORIES[request.param](request)


def test_a_stored_secret_is_read_back_by_name(harness: Harness) -> None:
    harness.put("WEATHER_API", "s3cr3t-value")
    assert harness.secrets.get("WEATHER_API") == "s3cr3t-value"


def test_a_missing_secret_is_not_found_naming_it(harness: Harness) -> None:
    with pytest.raises(NotFound, match="MISSING_KEY") as caught:
        harness.secrets.get("MISSING_KEY")
    assert caught.value.code == "not_found"


def test_the_error_never_holds_another_secrets_value(harness: Harness) -> None:
    harness.put("PRESENT", "v4lue-n0t-t0-leak")
    with pytest.raises(NotFound) as caught:
        harness.secrets.get("ABSENT")
    assert "v4lue-n0t-t0-leak" not in str(caught.value)


def test_a_name_that_is_not_a_plain_name_is_not_found(harness: Harness) -> None:
    for name in ("", "../etc", "a b", "1abc"):
        with pytest.raises(NotFound):
            harness.secrets.get(name)


def test_secrets_are_kept_apart_by_name(harness: Harness) -> None:
    harness.put("ONE", "first")
    harness.put("TWO", "second")
    assert (harness.secrets.get("ONE"), harness.secrets.get("TWO")) == ("first", "second")
