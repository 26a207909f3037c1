"""``overlord jobs`` on the local profile: real subprocess jobs, records in SQLite under a
temporary OVERLORD_HOME, every command through the real CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from overlord.adapters.memory.job_runner import MemoryJobRunner
from overlord.container import Container
from overlord.domain.errors import Throttled
from tests.e2e.conftest import Cli, Outcome, child_env, tree

STATIONS = '{"stations": ["KSEA", "KJFK"]}'
NAPPER = """
name = "sleepy"
version = 1
description = "A job that naps, for tests that need one still running"

[compute.job_definition]
image = "python:3.11-slim"
command = ["python"]

[job_types.nap]
command = ["python", "-c", "import time; print('napping', flush=True); time.sleep(60)"]
timeout_seconds = 120
"""


@pytest.fixture
def provisioned(cli: Cli) -> Cli:
    assert cli("tenants", "init", "acme", "weather").exit_code == 0
    return cli


@pytest.fixture
def napping(provisioned: Cli, tmp_path: Path) -> Cli:
    """acme also has a connector whose job sleeps for a minute (tests cancel it)."""
    template = tmp_path / "sleepy.toml"
    template.write_text(NAPPER, encoding="utf-8")
    assert provisioned("connectors", "add", str(template)).exit_code == 0
    assert provisioned("tenants", "init", "acme", "sleepy").exit_code == 0
    return provisioned


def data(done: Outcome) -> Any:
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)


def submit(cli: Cli, *args: str) -> Any:
    return json.loads(cli("jobs", "submit", *args, output="json").stdout)


def test_submit_to_a_connector_not_in_the_catalog_lists_the_known_ones(
    provisioned: Cli, home: Path
) -> None:
    before = tree(home)

    refused = provisioned("jobs", "submit", "acme", "nosuch", "ingest")

    assert refused.exit_code == 2
    assert refused.error_lines == [
        "error: unknown connector 'nosuch'; the catalog has "
        "bank-reports, batch-manager, marketplace, weather"
    ]
    assert tree(home) == before


def test_show_cuts_a_large_payload_in_the_table_and_keeps_it_whole_in_json(
    provisioned: Cli,
) -> None:
    payload = {"stations": [f"K{n:03d}" for n in range(5000)]}  # about 35 KB of JSON
    job_id = submit(provisioned, "acme", "weather", "ingest", "--payload", json.dumps(payload))[
        "job_id"
    ]

    table = provisioned("jobs", "show", job_id)
    shown = data(provisioned("jobs", "show", job_id, output="json"))

    assert table.exit_code == 0, table.stderr
    size = len(json.dumps(payload, separators=(",", ":")).encode())
    words = " ".join(table.stdout.split())  # Rich wraps long lines at the pipe width
    assert f"… ({size:,} bytes; --output json shows all)" in words
    assert "K0099" not in words
    assert len(table.stdout) < 2_000
    assert shown["payload"] == payload


def test_submit_answers_job_id_status_created_and_a_repeat_finds_the_same_job(
    provisioned: Cli,
) -> None:
    first = submit(provisioned, "acme", "weather", "ingest", "--payload", STATIONS)
    again = submit(
        provisioned, "acme", "weather", "ingest", "--payload", '{"stations":["KSEA","KJFK"]}'
    )

    assert set(first) == {"job_id", "status", "created"}
    assert (first["created"], again["created"]) == (True, False)
    assert again["job_id"] == first["job_id"]
    listed = data(provisioned("jobs", "list", output="json"))
    assert [job["job_id"] for job in listed] == [first["job_id"]]


def test_an_idempotency_key_and_a_payload_file_make_a_new_job(
    provisioned: Cli, tmp_path: Path
) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(STATIONS, encoding="utf-8")

    inline = submit(provisioned, "acme", "weather", "ingest", "--payload", STATIONS)
    from_file = submit(provisioned, "acme", "weather", "ingest", "--payload", f"@{payload}")
    rerun = submit(
        provisioned, "acme", "weather", "ingest", "--payload", f"@{payload}",
        "--idempotency-key", "rerun-2",
    )  # fmt: skip

    assert from_file["job_id"] == inline["job_id"]
    assert rerun["created"] is True
    assert rerun["job_id"] != inline["job_id"]
    shown = data(provisioned("jobs", "show", rerun["job_id"], output="json"))
    assert shown["idempotency_key"] == "rerun-2"


def test_wait_follows_the_job_to_success_then_show_and_logs_tell_what_it_did(
    provisioned: Cli,
) -> None:
    done = provisioned(
        "jobs", "submit", "acme", "weather", "ingest", "--payload", STATIONS, "--wait",
        output="json",
    )  # fmt: skip

    assert done.exit_code == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED"
    assert f"job {result['job_id']}: SUCCEEDED" in done.stderr  # progress, on stderr
    job_id = result["job_id"]
    shown = data(provisioned("jobs", "show", job_id, output="json"))
    assert shown["tenant"] == "acme"
    assert shown["payload"] == {"stations": ["KSEA", "KJFK"]}
    assert (
        shown["replacements"],
        shown["superseded_backend_job_ids"],
        shown["follow_up_pending"],
    ) == (0, [], False)  # nothing was stuck, and weather switches no schedule
    [run] = shown["runs"]
    assert (run["attempt"], run["status"], run["exit_code"]) == (1, "SUCCEEDED", 0)
    lines = data(provisioned("jobs", "logs", job_id, "--tenant", "acme", output="json"))
    messages = [line["message"] for line in lines]
    assert messages[0].startswith("tenant acme: ingesting 2 station(s)")
    assert messages[-1] == "ingested 2 observation(s)"
    assert "ingested 2 observation(s)" in provisioned("jobs", "logs", job_id).stdout
    table = provisioned("jobs", "show", job_id).stdout
    assert "SUCCEEDED" in table
    assert "exited with code 0" in table


def test_wait_exits_1_when_the_job_fails_after_its_retries(provisioned: Cli) -> None:
    done = provisioned(
        "jobs", "submit", "acme", "weather", "ingest", "--payload", '{"fail": true}', "--wait",
        output="json",
    )  # fmt: skip

    assert done.exit_code == 1
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED"
    assert done.error_lines[-1] == (
        f"error: job {result['job_id']} ended FAILED: exited with code 1"
    )
    shown = data(provisioned("jobs", "show", result["job_id"], output="json"))
    runs = shown["runs"]
    assert [(r["attempt"], r["status"]) for r in runs] == [(n, "FAILED") for n in (1, 2, 3)]
    logs = data(provisioned("jobs", "logs", result["job_id"], output="json"))
    assert {(line["attempt"], line["stream"]) for line in logs} == {
        (n, "stderr") for n in (1, 2, 3)
    }


def test_a_running_job_outlives_a_wait_that_gives_up_and_can_be_cancelled(
    napping: Cli,
) -> None:
    waited = napping("jobs", "submit", "acme", "sleepy", "nap", "--wait", "--timeout", "0.5")
    job_id = json.loads(napping("jobs", "list", output="json").stdout)[0]["job_id"]

    assert waited.exit_code == 1
    assert "still" in waited.error_lines[-1]
    assert "jobs watch" in waited.error_lines[-1]
    cancelled = data(napping("jobs", "cancel", job_id, "--reason", "not needed", output="json"))
    assert cancelled["status"] == "CANCELLED"
    shown = data(napping("jobs", "show", job_id, output="json"))
    assert (shown["status"], shown["status_reason"]) == ("CANCELLED", "not needed")
    again = napping("jobs", "cancel", job_id)
    assert again.exit_code == 2
    assert len(again.error_lines) == 1
    assert "already finished as CANCELLED" in again.stderr


def test_list_filters_by_tenant_and_status(cli: Cli) -> None:
    for tenant in ("acme", "globex"):
        assert cli("tenants", "init", tenant, "weather").exit_code == 0
    ok = submit(cli, "acme", "weather", "ingest", "--wait")
    failed = submit(cli, "globex", "weather", "ingest", "--payload", '{"fail": true}', "--wait")

    everything = data(cli("jobs", "list", output="json"))
    of_globex = data(cli("jobs", "list", "--tenant", "globex", output="json"))
    succeeded = data(cli("jobs", "list", "--status", "succeeded", output="json"))

    assert {j["job_id"] for j in everything} == {ok["job_id"], failed["job_id"]}
    assert [j["job_id"] for j in of_globex] == [failed["job_id"]]
    assert [j["job_id"] for j in succeeded] == [ok["job_id"]]
    table = cli("jobs", "list").stdout
    assert ok["job_id"] in table
    assert "acme/weather" in table
    assert "globex/weather" in table


def test_show_finds_a_job_in_its_tenant_only(cli: Cli) -> None:
    for tenant in ("acme", "globex"):
        cli("tenants", "init", tenant, "weather")
    job = submit(cli, "acme", "weather", "ingest")

    elsewhere = cli("jobs", "show", job["job_id"], "--tenant", "globex")

    assert elsewhere.exit_code == 2
    assert elsewhere.error_lines == [f"error: no job '{job['job_id']}' in tenant 'globex'"]


def test_watch_once_renders_the_current_jobs_and_stops(provisioned: Cli) -> None:
    job = submit(provisioned, "acme", "weather", "ingest", "--wait")

    table = provisioned("jobs", "watch", "--once")
    lines = provisioned("jobs", "watch", "--once", "--tenant", "acme", output="json")

    assert table.exit_code == 0
    assert job["job_id"] in table.stdout
    assert "SUCCEEDED" in table.stdout
    [snapshot] = lines.stdout.splitlines()
    assert [(j["job_id"], j["status"]) for j in json.loads(snapshot)] == [
        (job["job_id"], "SUCCEEDED")
    ]


def test_watch_refreshes_until_interrupted_and_ctrl_c_is_a_clean_exit(
    provisioned: Cli, home: Path
) -> None:
    job = submit(provisioned, "acme", "weather", "ingest", "--wait")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "overlord.entrypoints.cli", "-o", "json", "jobs", "watch"],
        env=child_env(home),
        cwd=home.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        first = json.loads(watcher.stdout.readline())
        watcher.send_signal(signal.SIGINT)
        _, stderr = watcher.communicate(timeout=60)
    finally:
        watcher.kill()

    assert [j["job_id"] for j in first] == [job["job_id"]]
    assert (watcher.returncode, stderr) == (0, "")


def test_with_nothing_to_repair_reconcile_and_sweep_change_nothing(provisioned: Cli) -> None:
    job = submit(provisioned, "acme", "weather", "ingest", "--wait")

    assert data(provisioned("jobs", "reconcile", output="json")) == []
    assert data(provisioned("jobs", "sweep", "--tenant", "acme", output="json")) == []
    assert "nothing to do" in provisioned("jobs", "sweep").stdout
    shown = data(provisioned("jobs", "show", job["job_id"], output="json"))
    assert shown["status"] == "SUCCEEDED"


def test_sweep_applies_the_job_types_policy_to_a_job_its_backend_never_starts(
    provisioned: Cli, container: Container
) -> None:
    # A backend that accepts jobs and never starts them: the job stays SUBMITTED.
    with container.job_runner.override(providers.Object(MemoryJobRunner())):
        job = container.jobs().submit("acme", "weather", "ingest", {"stations": ["KSEA"]}).job

    patient = data(provisioned("jobs", "sweep", output="json"))
    swept = data(provisioned("jobs", "sweep", "--threshold", "0", output="json"))

    assert patient == []  # weather's ingest counts as stuck after 600s
    [repair] = swept
    assert (repair["job_id"], repair["action"]) == (job.id.value, "failed")
    shown = data(provisioned("jobs", "show", job.id.value, output="json"))
    assert shown["status"] == "FAILED"
    assert shown["status_reason"].startswith("stuck: SUBMITTED for ")


def test_a_repeat_of_a_submission_the_backend_refused_reports_it_and_exits_1(
    provisioned: Cli, container: Container
) -> None:
    throttled = MemoryJobRunner()
    throttled.fail_next_submits(1, Throttled("Too Many Requests"))
    with container.job_runner.override(providers.Object(throttled)):
        job = container.jobs().submit("acme", "weather", "ingest", {}).job

    again = provisioned("jobs", "submit", "acme", "weather", "ingest", output="json")

    assert again.exit_code == 1
    assert json.loads(again.stdout) == {
        "job_id": job.id.value,
        "status": "SUBMIT_FAILED",
        "created": False,
    }
    assert again.error_lines == [f"error: job {job.id} ended SUBMIT_FAILED: Too Many Requests"]


BAD_SUBMISSIONS = {
    "malformed-json": ["acme", "weather", "ingest", "--payload", '{"stations": ['],
    "array-payload": ["acme", "weather", "ingest", "--payload", "[1, 2]"],
    "string-payload": ["acme", "weather", "ingest", "--payload", '"KSEA"'],
    "null-payload": ["acme", "weather", "ingest", "--payload", "null"],
    "nan": ["acme", "weather", "ingest", "--payload", '{"x": NaN}'],
    "huge-number": ["acme", "weather", "ingest", "--payload", '{"x": 1e999}'],
    "duplicate-key": ["acme", "weather", "ingest", "--payload", '{"a": 1, "a": 2}'],
    "deep": ["acme", "weather", "ingest", "--payload", '{"a":' + "[" * 65 + "]" * 65 + "}"],
    "deeper": ["acme", "weather", "ingest", "--payload", '{"a":' + "[" * 5000 + "]" * 5000 + "}"],
    "surrogate": ["acme", "weather", "ingest", "--payload", '{"a": "\\ud800"}'],
    "missing-file": ["acme", "weather", "ingest", "--payload", "@no-such-file.json"],
    "empty-at": ["acme", "weather", "ingest", "--payload", "@"],
    "directory": ["acme", "weather", "ingest", "--payload", "@."],
    "nul-in-name": ["acme", "weather", "ingest", "--payload", "@a\x00b"],
    "unknown-tenant": ["globex", "weather", "ingest"],
    "unknown-connector": ["acme", "marketplace", "submit-feed"],
    "unknown-job-type": ["acme", "weather", "nope"],
    "hostile-tenant": ["../x", "weather", "ingest"],
    "cyrillic-tenant": ["\u0430cme", "weather", "ingest"],
    "hostile-connector": ["acme", "$where", "ingest"],
    "hostile-job-type": ["acme", "weather", "../ingest"],
    "empty-key": ["acme", "weather", "ingest", "--idempotency-key", ""],
    "newline-key": ["acme", "weather", "ingest", "--idempotency-key", "a\nb"],
    "zero-timeout": ["acme", "weather", "ingest", "--wait", "--timeout", "0"],
}

BAD_LOOKUPS = {
    "hostile-id": ["show", "../x"],
    "upper-id": ["logs", "ABCDEF0123456789ABCDEF0123456789"],
    "unknown-id": ["cancel", "0" * 32],
    "unknown-tenant": ["show", "0" * 32, "--tenant", "globex"],
    "hostile-tenant": ["list", "--tenant", "$where"],
    "unknown-status": ["list", "--status", "DONE"],
    "reconcile-unknown-tenant": ["reconcile", "--tenant", "globex"],
    "sweep-hostile-tenant": ["sweep", "--tenant", "../x"],
    "negative-threshold": ["sweep", "--threshold", "-1"],
    "blank-reason": ["cancel", "0" * 32, "--reason", " "],
}


def assert_refused(done: Outcome) -> None:
    assert done.exit_code == 2, done.stdout
    assert len(done.error_lines) == 1, done.stderr
    assert done.error_lines[0].startswith("error: ")
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("args", BAD_SUBMISSIONS.values(), ids=BAD_SUBMISSIONS.keys())
def test_bad_submissions_are_refused_in_one_line_and_write_nothing(
    provisioned: Cli, home: Path, args: list[str]
) -> None:
    before = tree(home)

    done = provisioned("jobs", "submit", *args)

    assert_refused(done)
    assert tree(home) == before
    assert data(provisioned("jobs", "list", output="json")) == []


@pytest.mark.parametrize("args", BAD_LOOKUPS.values(), ids=BAD_LOOKUPS.keys())
def test_bad_lookups_are_refused_in_one_line(provisioned: Cli, home: Path, args: list[str]) -> None:
    before = tree(home)

    assert_refused(provisioned("jobs", *args))
    assert tree(home) == before


def test_unreadable_and_oversized_payload_files_are_refused(
    provisioned: Cli, home: Path, tmp_path: Path
) -> None:
    binary = tmp_path / "binary.json"
    binary.write_bytes(b'{"a": "\xff"}')
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"blob": "x" * 300_000}), encoding="utf-8")
    before = tree(home)

    not_text = provisioned("jobs", "submit", "acme", "weather", "ingest", "--payload", f"@{binary}")
    too_big = provisioned("jobs", "submit", "acme", "weather", "ingest", "--payload", f"@{big}")

    assert_refused(not_text)
    assert "not UTF-8" in not_text.stderr
    assert_refused(too_big)
    assert "limit is 262144" in too_big.stderr
    assert tree(home) == before


def test_jobs_without_a_command_prints_its_help(provisioned: Cli) -> None:
    done = provisioned("jobs")

    assert done.exit_code == 0
    for command in ("submit", "list", "show", "logs", "cancel", "watch", "reconcile", "sweep"):
        assert command in done.stdout
