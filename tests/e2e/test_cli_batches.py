"""``overlord batches`` as users run it: start once, follow, show, list, retry, cancel, resume;
JSON for scripts; one plain line per change when piped; bad input exit 2 with nothing written;
and a task added by an installed package through the ``overlord.tasks`` entry points."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Cli, child_env, run_subprocess, tree

ITEMS = "a,b,fail-c,d,e"


@pytest.fixture
def provisioned(cli: Cli) -> Cli:
    assert cli("tenants", "init", "acme", "batch-manager").exit_code == 0
    return cli


def start(cli: Cli, *extra: str, output: str = "json") -> dict[str, object]:
    done = cli(
        "batches",
        "start",
        "acme",
        "batch-manager",
        "--item-ids",
        ITEMS,
        "--batch-size",
        "2",
        "--batch-id",
        "b-1",
        *extra,
        output=output,
    )
    assert done.exit_code in (0, 1), done.stderr
    return json.loads(done.stdout) if output == "json" else {"stdout": done.stdout}


def test_start_wait_show_and_retry_a_batch(provisioned: Cli) -> None:
    started = provisioned(
        "batches",
        "start",
        "acme",
        "batch-manager",
        "--item-ids",
        ITEMS,
        "--batch-size",
        "2",
        "--batch-id",
        "b-1",
        "--wait",
        output="json",
    )
    assert started.exit_code == 1  # ended PARTIALLY_FAILED
    batch = json.loads(started.stdout)
    assert (batch["status"], batch["chunks"], batch["counts"]["failed"]) == (
        "PARTIALLY_FAILED",
        3,
        1,
    )
    # Piped, progress is plain lines on stderr, the last one the ending.
    assert "batch b-1: PARTIALLY_FAILED 5/5 done" in started.stderr
    assert "retry the failed ones with `overlord" in started.error_lines[-1]

    shown = json.loads(provisioned("batches", "show", "b-1", output="json").stdout)
    assert [r["item_id"] for r in shown["requests"]] == ["a", "b", "fail-c", "d", "e"]
    failed = next(r for r in shown["requests"] if r["item_id"] == "fail-c")
    assert (failed["status"], failed["step"]) == ("FAILED", "process-task-2")

    retried = provisioned("batches", "retry", "b-1", "--wait", output="json")
    assert retried.exit_code == 0, retried.stderr
    assert json.loads(retried.stdout)["status"] == "SUCCEEDED"

    table = provisioned("batches", "show", "b-1").stdout
    assert "SUCCEEDED" in table
    assert "fail-c" in table
    listed = json.loads(provisioned("batches", "list", "acme", output="json").stdout)
    assert [(b["batch_id"], b["status"]) for b in listed] == [("b-1", "SUCCEEDED")]


def test_the_same_start_twice_is_the_same_batch_and_a_different_one_is_refused(
    provisioned: Cli, home: Path
) -> None:
    first = provisioned(
        "batches",
        "start",
        "acme",
        "batch-manager",
        "--item-ids",
        "x,y",
        "--batch-size",
        "1",
        output="json",
    )
    again = provisioned(
        "batches",
        "start",
        "acme",
        "batch-manager",
        "--item-ids",
        "x,y",
        "--batch-size",
        "1",
        output="json",
    )
    assert json.loads(first.stdout)["batch_id"] == json.loads(again.stdout)["batch_id"]
    assert (
        "already started"
        in provisioned(
            "batches", "start", "acme", "batch-manager", "--item-ids", "x,y", "--batch-size", "1"
        ).stdout
    )
    before = tree(home)
    clash = provisioned(
        "batches",
        "start",
        "acme",
        "batch-manager",
        "--item-ids",
        "x,z",
        "--batch-size",
        "1",
        "--batch-id",
        json.loads(first.stdout)["batch_id"],
    )
    assert (clash.exit_code, len(clash.error_lines)) == (2, 1)
    assert "different request" in clash.stderr
    assert tree(home) == before


def test_items_come_from_a_file_one_per_line_or_as_json(provisioned: Cli, tmp_path: Path) -> None:
    lines = tmp_path / "ids.txt"
    lines.write_text("p\nq\n\nr\n")
    array = tmp_path / "ids.json"
    array.write_text('["s", "t"]')
    for path, total in ((lines, 3), (array, 2)):
        done = provisioned(
            "batches",
            "start",
            "acme",
            "batch-manager",
            "--items",
            str(path),
            "--batch-size",
            "5",
            "--wait",
            output="json",
        )
        assert done.exit_code == 0, done.stderr
        assert json.loads(done.stdout)["total_items"] == total


def test_cancel_and_resume_refuse_a_finished_batch_with_one_line(provisioned: Cli) -> None:
    provisioned(
        "batches",
        "start",
        "acme",
        "batch-manager",
        "--item-ids",
        "a",
        "--batch-size",
        "1",
        "--batch-id",
        "done-1",
        "--wait",
    )
    for command in ("cancel", "resume"):
        refused = provisioned("batches", command, "done-1")
        assert refused.exit_code == 2
        assert refused.error_lines == [refused.error_lines[0]]
        assert "finished" in refused.stderr
    missing = provisioned("batches", "show", "nope")
    assert (missing.exit_code, missing.error_lines) == (2, ["error: no batch 'nope' in any tenant"])


def test_an_installed_package_adds_tasks_through_the_entry_point_group(
    tmp_path: Path, home: Path
) -> None:
    site = tmp_path / "site"
    (site / "acme_tasks").mkdir(parents=True)
    (site / "acme_tasks" / "__init__.py").write_text(
        "def enrich(items, context):\n"
        "    return {i: None if i.isdigit() else f'{i} is not an order number' for i in items}\n"
    )
    info = site / "acme_tasks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-tasks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[overlord.tasks]\nenrich-orders = acme_tasks:enrich\n")
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    assert run_subprocess(home, "tenants", "init", "acme", "weather").exit_code == 0
    done = run_subprocess(
        home,
        "-o",
        "json",
        "batches",
        "start",
        "acme",
        "weather",
        "--item-ids",
        "12,34,x9",
        "--batch-size",
        "2",
        "--pipeline",
        "enrich-orders",
        "--wait",
        PYTHONPATH=path,
    )
    assert done.exit_code == 1, done.stderr
    batch = json.loads(done.stdout)
    assert (batch["steps"], batch["counts"]["succeeded"], batch["counts"]["failed"]) == (
        ["enrich-orders"],
        2,
        1,
    )
    without = run_subprocess(
        home,
        "batches",
        "start",
        "acme",
        "weather",
        "--item-ids",
        "1",
        "--batch-size",
        "1",
        "--pipeline",
        "enrich-orders",
    )
    assert without.exit_code == 2
    assert "no pipeline 'enrich-orders'" in without.stderr


option = st.sampled_from(
    [
        ["--item-ids", ""],
        ["--item-ids", "a,a"],
        ["--item-ids", "a,,b"],
        ["--item-ids", "a"],
        ["--items", "/no/such/file"],
        ["--batch-size", "0"],
        ["--batch-size", "-3"],
        ["--batch-size", "x"],
        ["--batch-size", "2"],
        ["--pipeline", "no-such-task"],
        ["--pipeline", "a,a"],
        ["--pipeline", ""],
        ["--batch-id", "../etc"],
        ["--batch-id", "x" * 81],
        ["--batch-id", "ok-1"],
    ]
)
names = st.sampled_from(["acme", "ACME", "../x", "nobody", "batch-manager", "\u0430cme"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tenant=names, connector=names, options=st.lists(option, max_size=4))
def test_malformed_batch_starts_exit_2_with_one_line_and_write_nothing(
    provisioned: Cli, home: Path, tenant: str, connector: str, options: list[list[str]]
) -> None:
    flat = [part for pair in options for part in pair]
    before = tree(home)
    done = provisioned("batches", "start", tenant, connector, *flat)
    if done.exit_code == 0:
        return  # a valid request after all (it may write)
    assert done.exit_code == 2, done.stderr
    [line] = done.error_lines
    assert line.startswith("error: ")
    assert tree(home) == before


def test_on_a_terminal_wait_draws_a_progress_bar(home: Path) -> None:
    assert run_subprocess(home, "tenants", "init", "acme", "batch-manager").exit_code == 0
    leader, follower = pty.openpty()
    env = child_env(home, TERM="xterm-256color", COLUMNS="120")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "overlord.entrypoints.cli",
            "batches",
            "start",
            "acme",
            "batch-manager",
            "--item-ids",
            "a,b,c,d",
            "--batch-size",
            "2",
            "--batch-id",
            "tty-1",
            "--wait",
        ],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=home.parent,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(60) == 0, seen.decode("utf-8", "replace")
    os.close(leader)
    text = seen.decode("utf-8", "replace")
    assert "\u2501" in text  # the bar
    assert "4/4" in text
    assert "tty-1" in text
