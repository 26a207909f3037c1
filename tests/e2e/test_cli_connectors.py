"""``overlord connectors``: the catalog as people and scripts see it, and adding templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from overlord.domain.template_parsing import parse_template
from tests.e2e.conftest import Cli, tree

GOOD = """\
name = "news"
version = 1
description = "Headlines from a [bold]feed[/bold]"

[compute.job_definition]
image = "python:3.11-slim"
command = ["python", "-m", "news"]

[job_types.fetch]
command = ["python", "-m", "news", "fetch"]

[schedules.hourly]
expression = "rate(1 hour)"
job_type = "fetch"
"""

JOB_DEFINITION = '[compute.job_definition]\nimage = "x"\ncommand = ["run"]\n'
FETCH = '[job_types.fetch]\ncommand = ["f"]\n'
FETCH_SCHEMA = '[job_types.fetch.payload_schema]\ntype = "object"\nrequired = ["feeds"]\n'

# file name, content, what the one line must say after "error: <file>: "
BAD = [
    (
        "memory.toml",
        f'name = "news"\nversion = 1\n{JOB_DEFINITION}memory_mib = 1\n',
        "compute.job_definition.memory_mib: expected an integer from 128",
    ),
    ("syntax.toml", 'name = "news"\nversion =\n', "cannot be parsed ("),
    (
        "upper.json",
        '{"name": "News", "version": 1, "compute": {}}',
        "name: invalid connector name 'News'",
    ),
    ("list.json", "[1, 2]", "expected an object at the top level"),
    (
        "unknown.toml",
        f'name = "news"\nversion = 1\nbogus = 3\n{JOB_DEFINITION}',
        "bogus: unknown field",
    ),
    (
        "reference.toml",
        f'name = "news"\nversion = 1\n{JOB_DEFINITION}'
        '[schedules.nightly]\nexpression = "rate(1 day)"\njob_type = "missing"\n',
        "schedules.nightly.job_type: no job type 'missing' in job_types",
    ),
    (
        "expression.toml",
        f'name = "news"\nversion = 1\n{JOB_DEFINITION}[job_types.fetch]\ncommand = ["f"]\n'
        '[schedules.nightly]\nexpression = "every day"\njob_type = "fetch"\n',
        "schedules.nightly",
    ),
    (
        "version.toml",
        f'name = "news"\nversion = 0\n{JOB_DEFINITION}',
        "version: expected an integer",
    ),
    ("compute.toml", 'name = "news"\nversion = 1\n', "connector template: 'compute' is missing"),
    ("empty.toml", "", "connector template: 'name' is missing"),
    ("empty.json", "{}", "connector template: 'name' is missing"),
    (
        "cron.toml",
        f'name = "news"\nversion = 1\n{JOB_DEFINITION}{FETCH}'
        '[schedules.nightly]\nexpression = "cron(99 99 * * ? *)"\njob_type = "fetch"\n',
        "schedules.nightly: expression 'cron(99 99 * * ? *)': minutes value '99' is outside 0-59",
    ),
    (
        "schema.toml",
        f'name = "news"\nversion = 1\n{JOB_DEFINITION}{FETCH}'
        '[job_types.fetch.payload_schema]\ntype = "objekt"\n',
        "job_types.fetch.payload_schema.type: 'objekt' is not valid under any of the given schemas",
    ),
    (
        "schedule-payload.toml",
        f'name = "news"\nversion = 1\n{JOB_DEFINITION}{FETCH}{FETCH_SCHEMA}'
        '[schedules.nightly]\nexpression = "rate(1 day)"\njob_type = "fetch"\n',
        "schedules.nightly.payload: 'feeds' is a required property "
        "(the payload_schema of job type 'fetch')",
    ),
]


def test_list_shows_the_bundled_catalog(cli: Cli) -> None:
    listed = json.loads(cli("connectors", "list", output="json").stdout)
    table = cli("connectors", "list").stdout

    assert [c["name"] for c in listed] == [
        "bank-reports",
        "batch-manager",
        "marketplace",
        "weather",
    ]
    weather = listed[-1]
    assert weather == {
        "name": "weather",
        "version": 3,
        "placement": "dedicated",
        "job_types": ["ingest", "gather", "process", "partition"],
        "schedules": [{"name": "poll-observations", "expression": "rate(7 minutes)"}],
        "source": "bundled",
    }
    assert "poll-observations" in table
    assert "bundled" in table


def test_show_as_json_is_the_template_mapping(cli: Cli) -> None:
    done = cli("connectors", "show", "weather", output="json")

    assert done.exit_code == 0
    shown = json.loads(done.stdout)
    assert parse_template(shown).name.value == "weather"
    assert shown["schedules"]["poll-observations"]["expression"] == "rate(7 minutes)"
    schema = shown["job_types"]["ingest"]["payload_schema"]
    assert schema["properties"]["stations"]["items"] == {
        "type": "string",
        "pattern": "^[A-Z0-9]{3,5}$",
    }


def test_show_as_a_table_reads_like_a_summary(cli: Cli) -> None:
    done = cli("connectors", "show", "marketplace")

    assert done.exit_code == 0
    for words in ("marketplace version 3", "placement: dedicated", "job types", "rate(5 minutes)"):
        assert words in done.stdout
    assert "payload (* required)" in done.stdout
    assert "items*: [object]" in done.stdout
    assert "feed_id: string" in done.stdout


def test_show_prints_each_job_types_payload_fields_compactly(cli: Cli) -> None:
    lines = cli("connectors", "show", "weather").stdout.splitlines()

    start = next(i for i, line in enumerate(lines) if line.startswith("ingest "))
    cells = [line.rstrip().rsplit("  ", 1)[-1].strip() for line in lines[start : start + 3]]
    assert cells == ["stations: [string]", "hour: string", "fail: boolean"]


def test_add_a_good_template_then_again_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    file = tmp_path / "news.toml"
    file.write_text(GOOD, encoding="utf-8")

    added = cli("connectors", "add", str(file), output="json")
    again = cli("connectors", "add", str(file))

    assert (added.exit_code, added.stderr) == (0, "")
    assert json.loads(added.stdout) == {"connector": "news", "version": 1, "changed": True}
    assert again.exit_code == 0
    assert "already in the catalog" in again.stdout
    listed = json.loads(cli("connectors", "list", output="json").stdout)
    assert {c["name"]: c["source"] for c in listed}["news"] == "added"
    shown = cli("connectors", "show", "news").stdout
    assert "Headlines from a [bold]feed[/bold]" in shown  # printed as written, not as markup
    assert cli("tenants", "init", "acme", "news").exit_code == 0


@pytest.mark.parametrize(("name", "content", "says"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_template_is_one_line_naming_file_and_path_and_changes_nothing(
    cli: Cli, home: Path, tmp_path: Path, name: str, content: str, says: str
) -> None:
    catalog = cli("connectors", "list", output="json").stdout
    before = tree(home)
    file = tmp_path / name
    file.write_text(content, encoding="utf-8")

    done = cli("connectors", "add", str(file))

    assert done.exit_code == 2
    assert len(done.error_lines) == 1
    assert done.error_lines[0].startswith(f"error: {file}: {says}")
    assert done.stdout == ""
    assert tree(home) == before
    assert cli("connectors", "list", output="json").stdout == catalog


def test_a_changed_template_needs_a_new_version(cli: Cli, tmp_path: Path) -> None:
    file = tmp_path / "news.toml"
    file.write_text(GOOD, encoding="utf-8")
    cli("connectors", "add", str(file))
    file.write_text(GOOD.replace("Headlines", "Stories"), encoding="utf-8")

    refused = cli("connectors", "add", str(file))
    bumped = file.read_text(encoding="utf-8").replace("version = 1", "version = 2")
    file.write_text(bumped, encoding="utf-8")
    accepted = cli("connectors", "add", str(file), output="json")

    assert refused.exit_code == 2
    assert len(refused.error_lines) == 1
    assert "increase 'version'" in refused.stderr
    assert json.loads(accepted.stdout)["version"] == 2


def test_a_missing_template_file_is_bad_input(cli: Cli, home: Path) -> None:
    done = cli("connectors", "add", "nowhere.toml")

    assert done.exit_code == 2
    assert done.error_lines == ["error: no template file 'nowhere.toml'"]
    assert tree(home) == {}


def test_an_unknown_connector_is_bad_input(cli: Cli, home: Path) -> None:
    done = cli("connectors", "show", "nosuch")

    assert done.exit_code == 2
    assert done.error_lines == [
        "error: no connector 'nosuch' in the catalog "
        "(known: bank-reports, batch-manager, marketplace, weather)"
    ]
    assert tree(home) == {}
