"""``--output/-o``, ``--profile`` and ``--home`` mean the same before the group and after any
command, as in the AWS CLI, kubectl and gh; the one written last wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_in_process


@pytest.fixture
def provisioned(home: Path) -> Path:
    assert (
        run_in_process("--home", str(home), "tenants", "init", "globex", "weather").exit_code == 0
    )
    return home


@pytest.mark.parametrize(
    "args",
    [
        ("tenants", "show", "globex", "--output", "json"),
        ("tenants", "show", "globex", "-o", "json"),
        ("tenants", "-o", "json", "show", "globex"),
        ("-o", "json", "tenants", "show", "globex"),
    ],
)
def test_output_json_works_wherever_it_is_written(provisioned: Path, args: tuple[str, ...]) -> None:
    outcome = run_in_process("--home", str(provisioned), *args)
    assert outcome.exit_code == 0, outcome.stderr
    assert json.loads(outcome.stdout)["name"] == "globex"


def test_connectors_show_takes_output_after_the_command(home: Path) -> None:
    outcome = run_in_process(
        "connectors", "show", "weather", "--output", "json", "--home", str(home)
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert json.loads(outcome.stdout)["name"] == "weather"


def test_home_after_the_command_is_the_home_used(provisioned: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    listed = run_in_process("tenants", "list", "-o", "json", "--home", str(elsewhere))
    assert listed.exit_code == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    here = run_in_process("tenants", "list", "-o", "json", "--home", str(provisioned))
    assert [tenant["name"] for tenant in json.loads(here.stdout)] == ["globex"]


def test_profile_after_the_command_chooses_the_backends(home: Path) -> None:
    # The memory profile keeps nothing between invocations and writes nothing under the home.
    outcome = run_in_process(
        "tenants", "init", "initech", "weather", "--profile", "memory", "--home", str(home)
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert not home.exists()


def test_the_option_written_last_wins(provisioned: Path) -> None:
    table = run_in_process(
        "--home", str(provisioned), "-o", "json", "tenants", "list", "-o", "table"
    )
    assert table.exit_code == 0
    assert table.stdout.lstrip().startswith("name")
    as_json = run_in_process(
        "--home", str(provisioned), "tenants", "-o", "table", "list", "-o", "json"
    )
    assert json.loads(as_json.stdout)[0]["name"] == "globex"


def test_a_value_that_looks_like_an_option_stays_a_value(provisioned: Path) -> None:
    def submit(*key: str) -> dict[str, object]:
        outcome = run_in_process(
            "--home", str(provisioned), "jobs", "submit", "globex", "weather", "ingest",
            "--payload", '{"stations": ["KSEA"]}', *key, "--output", "json",
        )  # fmt: skip
        assert outcome.exit_code == 0, outcome.stderr
        job: dict[str, object] = json.loads(outcome.stdout)
        return job

    # "-o" is the idempotency key here, not the output option: it makes a job of its own.
    assert submit("--idempotency-key", "-o")["job_id"] != submit()["job_id"]


def test_an_unknown_output_format_after_the_command_is_a_usage_error(home: Path) -> None:
    outcome = run_in_process("connectors", "list", "--output", "xml")
    assert outcome.exit_code == 2
    assert outcome.error_lines == [
        "error: Invalid value for '--output' / '-o': 'xml' is not one of 'table', 'json'."
    ]


def test_every_command_lists_the_global_options_in_its_help() -> None:
    outcome = run_in_process("jobs", "show", "--help")
    assert outcome.exit_code == 0
    assert "Global options" in outcome.stdout
    assert "--output" in outcome.stdout
