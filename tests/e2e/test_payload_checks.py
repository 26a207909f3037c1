"""A payload its job type's schema refuses: one line and exit 2 from the CLI, a 400 with code
``invalid_payload`` from the API, both naming the offending field, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from overlord.container import Container
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.settings import Settings
from tests.e2e.api_events import HTTP, REST, Gateway
from tests.e2e.conftest import Cli, tree

REFUSED = {
    "submit-feed without items": (
        ["acme", "marketplace", "submit-feed", "--payload", "{}"],
        "error: payload: 'items' is a required property",
    ),
    "a station that is a number": (
        ["acme", "weather", "ingest", "--payload", '{"stations": ["KSEA", 5]}'],
        "error: payload.stations[1]: 5 is not of type 'string'",
    ),
    "a sku that is blank": (
        ["acme", "marketplace", "submit-feed", "--payload", '{"items": [{"sku": " "}]}'],
        "error: payload.items[0].sku: ' ' does not match",
    ),
}


@pytest.mark.parametrize(("args", "says"), REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_payload_is_one_line_naming_the_field_and_writes_nothing(
    cli: Cli, home: Path, args: list[str], says: str
) -> None:
    for connector in ("weather", "marketplace"):
        assert cli("tenants", "init", "acme", connector).exit_code == 0
    before = tree(home)

    done = cli("jobs", "submit", *args)

    assert (done.exit_code, done.stdout) == (2, "")
    assert len(done.error_lines) == 1
    assert done.error_lines[0].startswith(says), done.stderr
    assert tree(home) == before
    assert cli("jobs", "list", "--tenant", "acme", output="json").stdout.strip() == "[]"


@pytest.fixture(params=[REST, HTTP])
def api(request: pytest.FixtureRequest) -> tuple[Gateway, Container]:
    container = Container.from_settings(Settings(profile="memory"))
    gateway = Gateway(LambdaHandlers(container).api, request.param)
    assert gateway.put("/tenants/acme/connectors/marketplace").status == 200
    return gateway, container


def test_the_api_answers_400_invalid_payload_with_the_path_and_writes_nothing(
    api: tuple[Gateway, Container],
) -> None:
    gateway, container = api

    refused = gateway.post(
        "/tenants/acme/connectors/marketplace/jobs/submit-feed",
        json={"items": [{"sku": "A-1", "price": "9.50"}]},
    )

    assert (refused.status, refused.error_code) == (400, "invalid_payload")
    assert refused.body["error"]["message"] == (
        "payload.items[0].price: '9.50' is not of type 'number'"
    )
    assert container.jobs().list("acme") == []
    assert container.job_runner().submitted == []


def test_the_api_still_accepts_what_the_schema_allows(api: tuple[Gateway, Container]) -> None:
    gateway, _ = api

    accepted = gateway.post(
        "/tenants/acme/connectors/marketplace/jobs/submit-feed",
        json={"items": [{"sku": "A-1", "price": 9.5, "quantity": 3}], "note": "extra keys pass"},
    )

    assert accepted.status == 202
