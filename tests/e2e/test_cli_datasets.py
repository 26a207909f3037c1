"""``overlord datasets`` on the local profile: every stage a real job (a subprocess), tables in
SQLite under the home, and the scraping recipe in a real headless Chromium against a copy of
the FFIEC's bulk download page served on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overlord.container import Container
from overlord.samples.call_report_bulk import bulk_zip
from tests.bulk_site import BulkSite, serving
from tests.e2e.conftest import Cli, tree

RUN = ("datasets", "run", "acme", "bank-reports", "call-reports")


@pytest.fixture
def provisioned(cli: Cli) -> Cli:
    assert cli("tenants", "init", "acme", "bank-reports").exit_code == 0
    return cli


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "calls.zip"
    path.write_bytes(bulk_zip())
    return path


@pytest.fixture
def site() -> Iterator[BulkSite]:
    with serving() as running:
        yield running


def run_json(cli: Cli, *args: str) -> dict[str, Any]:
    done = cli(*args, output="json")
    assert done.exit_code == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def loads(run: dict[str, Any]) -> dict[str, tuple[int, int | None, str]]:
    return {f["table"]: (f["files"], f["rows"], f["action"]) for f in run["folders"]}


def test_a_run_from_an_archive_loads_every_table_and_a_repeat_is_the_same_run(
    provisioned: Cli, archive: Path, container: Container
) -> None:
    args = (*RUN, "--archive", str(archive), "--param", "period=2026-03-31", "--wait")
    first = run_json(provisioned, *args)
    again = run_json(provisioned, *args)

    assert (first["status"], first["period"], first["errors"]) == ("SUCCEEDED", "2026-03-31", [])
    assert first["files"] == [{"name": "calls.zip", "bytes": archive.stat().st_size}]
    assert loads(first) == {
        "call_por": (1, 3, "loaded"),
        "call_rc": (1, 3, "loaded"),
        "call_rcb": (2, 3, "loaded"),
        "call_ri": (1, 3, "loaded"),
    }
    assert again["run_id"] == first["run_id"]
    assert sorted(container.table_sink().tables()) == ["call_por", "call_rc", "call_rcb", "call_ri"]
    shown = run_json(provisioned, "datasets", "show", "acme", first["run_id"])
    assert shown == first
    [listed] = run_json(provisioned, "datasets", "status", "acme", "bank-reports", "call-reports")
    assert listed == first


def test_another_run_of_the_same_files_loads_nothing_again(
    provisioned: Cli, archive: Path, container: Container
) -> None:
    base = (*RUN, "--archive", str(archive), "--param", "period=2026-03-31", "--wait")
    first = run_json(provisioned, *base)
    second = run_json(provisioned, *base, "--idempotency-key", "once-more")

    assert second["run_id"] != first["run_id"]
    assert second["status"] == "SUCCEEDED"
    assert {action for _, _, action in loads(second).values()} == {"unchanged"}
    assert len(container.table_sink().read("call_rcb")) == 3


def test_gather_then_process_one_folder(provisioned: Cli, archive: Path) -> None:
    gathered = run_json(
        provisioned,
        "datasets",
        "gather",
        "acme",
        "bank-reports",
        "call-reports",
        "--archive",
        str(archive),
        "-p",
        "period=2026-03-31",
        "--wait",
    )
    assert gathered["status"] == "SUCCEEDED"
    assert [f["job_id"] for f in gathered["folders"]] == ["", "", "", ""]

    folder = "raw/call-reports/2026-03-31/call_ri/"
    args = ("datasets", "process", "acme", "bank-reports", "call-reports", "--folder", folder)
    first = run_json(provisioned, *args)
    second = run_json(provisioned, *args)
    assert (first["created"], second["created"]) == (True, False)
    assert second["job_id"] == first["job_id"]
    waited = provisioned("jobs", "show", first["job_id"], output="json")
    assert waited.exit_code == 0


def test_the_datasets_of_the_tenant_are_listed(provisioned: Cli) -> None:
    [found] = run_json(provisioned, "datasets", "list", "acme")
    assert found == {
        "tenant": "acme",
        "connector": "bank-reports",
        "dataset": "call-reports",
        "source": "scrape",
        "cadence": "cron(0 6 ? * MON *)",
        "timezone": "America/New_York",
        "cleaner": "call-reports",
        "table": "{table}",
        "keys": ["idrssd", "reporting_period"],
        "cursor": None,  # only an API dataset has one
    }
    assert run_json(provisioned, "datasets", "list") == [found]
    table = provisioned("datasets", "list", "acme")
    assert table.stdout.splitlines()[0].split() == [
        "tenant",
        "connector",
        "dataset",
        "source",
        "cadence",
        "table",
        "cleaner",
    ]
    assert run_json(provisioned, "datasets", "status", "acme") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((*RUN, "--param", "period"), "--param 'period': expected NAME=VALUE"),
        ((*RUN, "-p", "a=1", "-p", "a=2"), "--param a is given twice"),
        ((*RUN, "-p", "period=../x"), "period '../x'"),
        ((*RUN, "--source-url", "file:///etc"), "source URL"),
        ((*RUN, "--archive", "missing.zip"), "--archive missing.zip: cannot read it"),
        (("datasets", "run", "acme", "bank-reports", "nope"), "has no dataset 'nope'"),
        (("datasets", "run", "../x", "bank-reports", "call-reports"), "tenant"),
        (("datasets", "run", "globex", "bank-reports", "call-reports"), "no tenant 'globex'"),
        (
            ("datasets", "process", "acme", "bank-reports", "call-reports", "--folder", "x/"),
            "is not a folder of dataset call-reports",
        ),
        (
            (
                "datasets",
                "process",
                "acme",
                "bank-reports",
                "call-reports",
                "--folder",
                "raw/call-reports/2026-03-31/call_rc/",
            ),
            "is not complete",
        ),
        (("datasets", "show", "acme", "0" * 32), "no job"),
        ((*RUN, "--start", "yesterday", "--end", "today"), "--start 'yesterday': expected an ISO"),
        (
            (*RUN, "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-02T00:00:00Z"),
            "a time window applies to API sources",
        ),
        (
            ("datasets", "partitions", "acme", "bank-reports", "call-reports"),
            "declares no partitioning",
        ),
        (
            (
                "datasets",
                "partition",
                "acme",
                "bank-reports",
                "call-reports",
                "--start",
                "2026-01-01",
                "--end",
                "2026-01-02",
            ),
            "declares no partitioning",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    provisioned: Cli, home: Path, args: tuple[str, ...], message: str
) -> None:
    before = tree(home)
    done = provisioned(*args)

    assert done.exit_code == 2, done.stderr
    [line] = done.error_lines
    assert line.startswith("error: ")
    assert message in line
    assert tree(home) == before


def test_a_scraped_run_drives_chromium_through_the_bundled_recipe_on_a_mirror(
    provisioned: Cli, site: BulkSite, container: Container
) -> None:
    site.fail_next(1)  # the first page load answers 503: retried
    run = run_json(provisioned, *RUN, "--source-url", site.url, "--wait", "--timeout", "300")

    assert run["status"] == "SUCCEEDED", run["errors"]
    assert run["period"] == "2026-03-31"  # the newest the page offers, listed second
    assert run["files"][0]["name"] == "FFIEC CDR Call Bulk All Schedules 03312026.zip"
    assert {table: rows for table, (_, rows, _) in loads(run).items()} == {
        "call_por": 3,
        "call_rc": 3,
        "call_rcb": 3,
        "call_ri": 3,
    }
    [download] = site.downloads
    assert (download["ListBox1"], download["Format"]) == ("ReportingSeriesSinglePeriod", "TSV")
    older = run_json(
        provisioned, *RUN, "--source-url", site.url, "-p", "period=2025-12-31", "--wait"
    )
    assert older["status"] == "SUCCEEDED", older["errors"]
    assert older["files"][0]["name"] == "FFIEC CDR Call Bulk All Schedules 12312025.zip"
    periods = {
        row["reporting_period"].isoformat() for row in container.table_sink().read("call_rc")
    }
    assert periods == {"2025-12-31", "2026-03-31"}


def test_a_period_the_page_does_not_offer_fails_the_run_with_the_pages_choices(
    provisioned: Cli, site: BulkSite
) -> None:
    done = provisioned(*RUN, "--source-url", site.url, "-p", "period=2020-03-31", "--wait")

    assert done.exit_code == 1
    assert "2020-03-31" in done.stderr
    assert "the newest offered are 2026-03-31, 2025-12-31" in done.stderr
