"""``overlord tenants``: init (plan and apply), list, show and delete, through the real CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest

from overlord.container import Container
from overlord.domain.tenants import Action, ResourceKind
from tests.e2e.conftest import Cli, tree


def test_init_reports_every_resource_as_kind_name_and_action(cli: Cli) -> None:
    done = cli("tenants", "init", "acme", "weather", output="json")

    assert (done.exit_code, done.stderr) == (0, "")
    report = json.loads(done.stdout)
    assert set(report) == {"tenant", "connector", "resources"}
    assert (report["tenant"], report["connector"]) == ("acme", "weather")
    for resource in report["resources"]:
        assert set(resource) == {"kind", "name", "action"}
        assert resource["kind"] in {k.value for k in ResourceKind}
        assert resource["action"] == Action.CREATED.value
    kinds = {r["kind"] for r in report["resources"]}
    assert kinds == {k.value for k in ResourceKind}


def test_plan_changes_nothing_and_the_apply_after_it_still_creates(cli: Cli, home: Path) -> None:
    before = tree(home)

    plan = cli("tenants", "init", "acme", "weather", "--plan", output="json")

    assert plan.exit_code == 0
    assert {r["action"] for r in json.loads(plan.stdout)["resources"]} == {"would-create"}
    assert tree(home) == before
    applied = json.loads(cli("tenants", "init", "acme", "weather", output="json").stdout)
    assert {r["action"] for r in applied["resources"]} == {"created"}
    assert [r["name"] for r in applied["resources"]] == [
        r["name"] for r in json.loads(plan.stdout)["resources"]
    ]


def test_a_second_init_reports_everything_unchanged(cli: Cli) -> None:
    cli("tenants", "init", "acme", "weather")

    again = cli("tenants", "init", "acme", "weather", output="json")
    table = cli("tenants", "init", "acme", "weather")

    assert {r["action"] for r in json.loads(again.stdout)["resources"]} == {"unchanged"}
    assert "applied acme/weather: 12 unchanged" in table.stdout
    assert "overlord-acme-weather" in table.stdout


def test_a_table_apply_names_each_resource_and_sums_up(cli: Cli) -> None:
    done = cli("tenants", "init", "globex", "marketplace")

    assert done.exit_code == 0
    assert "globex/marketplace" in done.stdout
    assert "overlord-globex/connectors/marketplace" in done.stdout
    assert "applied globex/marketplace: 13 created" in done.stdout


def test_list_shows_each_tenant_with_its_connectors(cli: Cli) -> None:
    assert json.loads(cli("tenants", "list", output="json").stdout) == []
    assert "no tenants yet" in cli("tenants", "list").stdout
    cli("tenants", "init", "acme", "weather")
    cli("tenants", "init", "acme", "marketplace")
    cli("tenants", "init", "globex", "weather")

    listed = json.loads(cli("tenants", "list", output="json").stdout)
    table = cli("tenants", "list").stdout

    assert [(t["name"], t["connectors"]) for t in listed] == [
        ("acme", ["marketplace", "weather"]),
        ("globex", ["weather"]),
    ]
    assert all(t["created_at"] for t in listed)
    assert "marketplace, weather" in table


def test_show_gives_configuration_versions_and_each_connectors_state(cli: Cli) -> None:
    cli("tenants", "init", "acme", "weather")

    shown = json.loads(cli("tenants", "show", "acme", output="json").stdout)
    table = cli("tenants", "show", "acme").stdout

    assert shown["name"] == "acme"
    assert [(c["connector"], c["template_version"]) for c in shown["configurations"]] == [
        ("weather", 3)
    ]
    (plan,) = shown["plans"]
    assert plan["connector"] == "weather"
    assert {r["action"] for r in plan["resources"]} == {"would-keep"}
    assert "configuration documents" in table
    assert "acme/weather: in sync" in table


def test_delete_refuses_a_bucket_with_objects_and_deletes_nothing(
    cli: Cli, home: Path, container: Container
) -> None:
    cli("tenants", "init", "acme", "weather")
    container.object_store().put_object("overlord-acme-weather", "observations/1.json", b"{}")
    before = tree(home)

    refused = cli("tenants", "delete", "acme", "--yes")

    assert refused.exit_code == 2
    assert refused.error_lines == [
        "error: bucket overlord-acme-weather is not empty: use --purge to delete its objects too"
    ]
    assert refused.stdout == ""
    assert tree(home) == before


def test_delete_with_purge_removes_everything_provisioning_made(
    cli: Cli, container: Container
) -> None:
    cli("tenants", "init", "acme", "weather")
    cli("tenants", "init", "acme", "bank-reports")
    container.object_store().put_object("overlord-acme-weather", "observations/1.json", b"{}")

    done = cli("tenants", "delete", "acme", "--purge", "--yes", output="json")

    assert (done.exit_code, done.stderr) == (0, "")
    deleted = json.loads(done.stdout)
    assert deleted["tenant"] == "acme"
    assert {r["action"] for r in deleted["resources"]} == {"deleted"}
    names = {(r["kind"], r["name"]) for r in deleted["resources"]}
    assert ("bucket", "overlord-acme-weather") in names
    assert ("database", "overlord-acme") in names
    assert json.loads(cli("tenants", "list", output="json").stdout) == []
    assert container.object_store().describe_bucket("overlord-acme-weather") is None
    assert container.object_store().describe_bucket("overlord-acme-bank-reports") is None
    assert not container.document_store().database_exists("overlord-acme")
    compute = container.compute()
    assert compute.describe_job_queue("overlord-acme-weather") is None
    assert compute.describe_compute_environment("overlord-acme-weather") is None
    assert compute.describe_job_definition("overlord-acme-weather") is None
    assert compute.count_compute_environments() == 0
    assert container.scheduler().list_schedules("overlord-acme") == []


def test_delete_in_a_pipe_proceeds_without_asking(cli: Cli) -> None:
    cli("tenants", "init", "acme", "weather")

    done = cli("tenants", "delete", "acme")

    assert done.exit_code == 0
    assert "deleted tenant acme" in done.stdout


def test_a_purge_in_a_pipe_without_yes_is_refused_and_deletes_nothing(
    cli: Cli, home: Path, container: Container
) -> None:
    cli("tenants", "init", "acme", "weather")
    container.object_store().put_object("overlord-acme-weather", "raw/kept.txt", b"data")
    before = tree(home)

    refused = cli("tenants", "delete", "acme", "--purge")

    assert refused.exit_code == 2
    assert refused.error_lines == [
        "error: --purge deletes every object in acme's buckets; pass --yes to confirm"
    ]
    assert tree(home) == before


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "code", "remaining"), [("n\n", 1, ["acme"]), ("y\n", 0, [])])
def test_delete_at_a_terminal_asks_first(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, answer: str, code: int, remaining: list[str]
) -> None:
    cli("tenants", "init", "acme", "weather")
    monkeypatch.setattr("sys.stdin", _Terminal(answer))

    done = cli("tenants", "delete", "acme")

    assert done.exit_code == code
    assert done.stderr.startswith("Delete tenant acme for good? [y/N]:")  # not on stdout
    if code:
        assert done.stderr.endswith("error: aborted\n")
    listed = json.loads(cli("tenants", "list", output="json").stdout)
    assert [t["name"] for t in listed] == remaining


def test_delete_of_an_unknown_tenant_is_bad_input(cli: Cli, home: Path) -> None:
    done = cli("tenants", "delete", "nobody", "--yes")

    assert done.exit_code == 2
    assert done.error_lines == ["error: no tenant 'nobody'"]
    assert tree(home) == {}


def test_an_invocation_leaves_no_file_of_its_home_open(cli: Cli, home: Path) -> None:
    # A process that runs many invocations (a test run, a service embedding the CLI) would
    # otherwise hold descriptors for every database it ever wrote to.
    def open_under_home() -> list[str]:
        found = []
        for entry in os.scandir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(entry.path)
                if target.startswith(str(home)):
                    found.append(target)
        return found

    assert cli("tenants", "init", "acme", "weather").exit_code == 0
    assert cli("tenants", "list").exit_code == 0

    assert open_under_home() == []
