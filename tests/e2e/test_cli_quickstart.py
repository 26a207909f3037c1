"""``overlord quickstart`` on a fresh machine: local profile, every connector, a sample job run
to the end, safe to repeat."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen

from overlord.container import Container
from overlord.entrypoints.cli.quickstart import QuickstartResult, land_sample_observations
from overlord.settings import Settings
from tests.e2e.conftest import child_env, run_in_process, run_subprocess

BUNDLED = ["bank-reports", "batch-manager", "marketplace", "weather"]


@frozen
class Quickstarted:
    """Two ``quickstart -o json`` runs on one fresh home, and that home's container."""

    first: dict[str, Any]
    second: dict[str, Any]
    container: Container
    home: Path


@pytest.fixture(scope="module")
def quickstarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quickstarted]:
    """A quickstart runs every connector's sample end to end (about ten seconds), so the tests
    that only read what two runs reported and left share one pair of them."""
    home = tmp_path_factory.mktemp("quickstarted") / "home"
    runs = []
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("OVERLORD_")]:
            patch.delenv(name)
        for _ in range(2):
            done = run_in_process(
                "--home", str(home), "--profile", "local", "-o", "json", "quickstart"
            )
            assert (done.exit_code, done.stderr) == (0, "")
            runs.append(json.loads(done.stdout))
        container = Container.from_settings(Settings(profile="local", home=home))
        yield Quickstarted(runs[0], runs[1], container, home)
        container.shutdown_resources()


def test_quickstart_provisions_acme_with_every_connector_then_reports_all_unchanged(
    quickstarted: Quickstarted,
) -> None:
    report, again, container = quickstarted.first, quickstarted.second, quickstarted.container

    assert report["tenant"] == "acme"
    assert [c["connector"] for c in report["connectors"]] == BUNDLED
    weather = report["connectors"][-1]["resources"]
    assert {r["action"] for r in weather} == {"created", "unchanged"}  # shared database
    assert {r["action"] for r in report["connectors"][0]["resources"]} == {"created"}

    actions = {r["action"] for c in again["connectors"] for r in c["resources"]}
    assert actions == {"unchanged"}
    assert container.object_store().describe_bucket("overlord-acme-weather") is not None


def test_quickstart_runs_a_sample_job_and_a_second_run_finds_it(
    quickstarted: Quickstarted,
) -> None:
    first, second = quickstarted.first["job"], quickstarted.second["job"]
    container = quickstarted.container

    assert (first["tenant"], first["connector"], first["job_type"]) == ("acme", "weather", "ingest")
    assert (first["created"], first["status"]) == (True, "SUCCEEDED")
    [run] = first["runs"]
    assert (run["attempt"], run["status"], run["exit_code"]) == (1, "SUCCEEDED", 0)
    messages = [line["message"] for line in first["logs"]]
    assert messages[0].startswith("tenant acme: ingesting 2 station(s)")
    assert messages[-1] == "ingested 2 observation(s)"
    assert (second["job_id"], second["created"]) == (first["job_id"], False)
    assert second["logs"] == first["logs"]
    weather = container.jobs().list("acme", connector="weather")
    assert [job.id.value for job in weather if job.job_type == "ingest"] == [first["job_id"]]


def test_quickstart_ingests_the_bundled_bulk_zip_into_one_table_per_schedule_once(
    quickstarted: Quickstarted,
) -> None:
    first, second = quickstarted.first["dataset"], quickstarted.second["dataset"]
    container = quickstarted.container

    assert (first["status"], first["created"], first["period"]) == ("SUCCEEDED", True, "2026-03-31")
    assert first["files"] == [{"name": "call-reports-2026-03-31.zip", "bytes": 1758}]
    loads = {f["table"]: (f["files"], f["rows"], f["action"]) for f in first["folders"]}
    assert loads == {
        "call_por": (1, 3, "loaded"),  # four lines, one an exact duplicate
        "call_rc": (1, 3, "loaded"),
        "call_rcb": (2, 3, "loaded"),  # the two parts, joined on IDRSSD
        "call_ri": (1, 3, "loaded"),
    }
    assert first["errors"] == []
    assert (second["run_id"], second["created"]) == (first["run_id"], False)
    tables = container.table_sink()
    directory = {row["idrssd"]: row for row in tables.read("call_por")}
    assert directory[940311]["financial_institution_city"] == "AÑASCO"
    assert directory[940311]["financial_institution_zip_code"] == "00610"
    held = {row["idrssd"]: row["rcfd1754"] for row in tables.read("call_rcb")}
    assert held == {940311: 5_000_000_000, 2942690: None, 37: 1200}


def test_quickstart_lands_a_recorded_window_of_observations_in_the_table_and_hourly_partitions(
    quickstarted: Quickstarted,
) -> None:
    first, second = quickstarted.first["api_dataset"], quickstarted.second["api_dataset"]
    container = quickstarted.container

    assert (first["status"], first["created"]) == ("SUCCEEDED", True)
    assert first["window"] == "2026-01-05T06:00:00Z/2026-01-05T09:00:00Z"
    assert first["requests"] == 3  # both stations, and KSEA's second page
    part = "20260105T060000Z-20260105T090000Z"
    names = ["KJFK-00001.ndjson", "KSEA-00001.ndjson", "KSEA-00002.ndjson"]
    assert [f["name"] for f in first["files"]] == [f"{part}/{name}" for name in names]
    loads = [(f["table"], f["files"], f["rows"], f["action"]) for f in first["folders"]]
    assert loads == [(f"{part}/observations", 3, 7, "loaded"), ("partitions", 3, 7, "loaded")]
    hours = [(p["key"], p["rows"], p["published"]) for p in first["partitions"]]
    assert hours == [
        ("year=2026/month=01/day=05/hour=06", 2, True),
        ("year=2026/month=01/day=05/hour=07", 3, True),  # KSEA's 07:14 special report
        ("year=2026/month=01/day=05/hour=08", 2, True),
    ]
    assert (first["table_rows"], first["cursor"]) == (7, "2026-01-05T09:00:00Z")
    rows = {
        (r["station_id"], f"{r['observed_at']:%H:%M}"): r
        for r in container.table_sink().read("observations")
    }
    assert len(rows) == 7
    special = rows[("KSEA", "07:14")]
    assert (special["pressure_hpa"], special["wind_kph"]) == (1016.9, 25.92)  # from pascals
    assert special["description"] == "Mostly Cloudy"
    assert ("KSEA", "06:53") in rows  # from the page pagination.next led to
    bucket = "overlord-acme-weather"
    hour = container.partition_writer().read(
        bucket, "partitions/observations/", "year=2026/month=01/day=05/hour=07"
    )
    assert sorted((r["properties_stationId"], r["properties_temperature_value"]) for r in hour) == [
        ("KJFK", -2.8),
        ("KSEA", 6.7),
        ("KSEA", 7.2),
    ]

    # The server's port is part of the request: a new run, which lands nothing new.
    assert (second["status"], second["created"]) == ("SUCCEEDED", True)
    assert second["run_id"] != first["run_id"]
    assert [f["action"] for f in second["folders"]] == ["unchanged", "unchanged"]
    assert [f["job_id"] for f in second["folders"]] == [f["job_id"] for f in first["folders"]]
    assert second["partitions"] == first["partitions"]
    assert len(container.table_sink().read("observations")) == 7


def test_quickstart_leaves_its_sample_batch_for_batches_list(quickstarted: Quickstarted) -> None:
    done = run_in_process("--home", str(quickstarted.home), "-o", "json", "batches", "list", "acme")

    assert (done.exit_code, done.stderr) == (0, "")
    listed = [(b["batch_id"], b["status"], b["chunks"]) for b in json.loads(done.stdout)]
    assert listed == [("quickstart-sample", "SUCCEEDED", 2)]


def test_quickstart_on_the_aws_profile_skips_the_api_dataset_its_jobs_could_not_reach() -> None:
    # Its jobs would run on AWS Batch, where 127.0.0.1 is not the machine serving the recording.
    result = QuickstartResult("acme")

    land_sample_observations(Container.from_settings(Settings(profile="aws")), result)

    assert result.api_dataset is None
    assert result.to_json()["api_dataset"] is None


def test_quickstart_on_the_memory_profile_keeps_nothing(tmp_path: Path) -> None:
    home = tmp_path / "state"

    done = run_in_process("--home", str(home), "--profile", "memory", "quickstart")

    assert done.exit_code == 0, done.stderr
    assert "memory profile" in done.stdout
    assert "sample job: acme/weather ingest, submitted" in done.stdout  # not run: no backend
    assert re.search(
        r"^sample API dataset: acme/weather observations, .*, started$", done.stdout, re.M
    )
    assert re.search(r"^run [0-9a-f]{32}: GATHERING$", done.stdout, re.M)
    assert not home.exists()


def test_quickstart_uses_the_local_profile_and_its_tables_end_with_steps_to_the_same_state(
    home: Path,
) -> None:
    first = run_in_process("--home", str(home), "quickstart")  # no --profile: local
    second = run_in_process("--home", str(home), "quickstart")

    assert (first.exit_code, first.stderr) == (0, "")
    assert "local profile" in first.stdout
    assert (home / "documents").is_dir()
    for connector in BUNDLED:
        assert f"applied acme/{connector}: " in first.stdout
        assert re.search(rf"^applied acme/{connector}: \d+ unchanged$", second.stdout, re.M)
    assert "created" in first.stdout
    assert "sample job: acme/weather ingest, submitted\n" in first.stdout
    assert "sample job: acme/weather ingest, already submitted by an earlier run" in second.stdout
    assert "stdout ingested 2 observation(s)" in second.stdout
    api = (
        "sample API dataset: acme/weather observations, 2026-01-05T06:00:00Z/2026-01-05T09:00:00Z"
        " of KSEA,KJFK from recorded api.weather.gov responses"
    )
    assert f"{api}, started\n" in first.stdout
    assert f"{api}, gathered again, nothing new landed\n" in second.stdout
    assert re.search(r"^year=2026/month=01/day=05/hour=07 +3 +1 +yes *$", second.stdout, re.M)
    assert "7 rows in table observations" in second.stdout
    assert "datasets partitions acme weather observations" in second.stdout
    assert "next steps:" in second.stdout
    hint = f"overlord --home {home} tenants show acme"  # local is the configured profile too
    assert hint in second.stdout
    shown = run_in_process(*hint.split()[1:])
    assert shown.exit_code == 0
    assert "acme/weather: in sync" in shown.stdout
    logs_hint = re.search(r"overlord .* jobs logs [0-9a-f]{32}", second.stdout)
    assert logs_hint is not None
    logs = run_in_process(*logs_hint.group().split()[1:])
    assert (logs.exit_code, logs.stderr) == (0, "")
    assert "ingested 2 observation(s)" in logs.stdout


def test_quickstart_as_a_module_prints_tables_and_the_way_on(tmp_path: Path) -> None:
    home = tmp_path / "home"

    first = run_subprocess(home, "quickstart")
    second = run_subprocess(home, "--output", "json", "quickstart")

    assert (first.exit_code, first.stderr) == (0, "")
    assert "overlord quickstart: tenant acme with 4 connectors" in first.stdout
    assert "overlord tenants show acme" in first.stdout
    assert "SUCCEEDED" in first.stdout
    assert second.exit_code == 0
    actions = {r["action"] for c in json.loads(second.stdout)["connectors"] for r in c["resources"]}
    assert actions == {"unchanged"}


def test_the_console_script_runs_quickstart(tmp_path: Path) -> None:
    script = shutil.which("overlord", path=str(Path(sys.executable).parent))
    assert script is not None, "the package is installed with its console script"
    home = tmp_path / "home"

    done = subprocess.run(
        [script, "quickstart"],
        env=child_env(home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert (done.returncode, done.stderr) == (0, "")
    assert "applied acme/weather" in done.stdout
    assert (home / "documents").is_dir()
