"""``overlord schedules``: a tenant's schedules, and the local runner that fires them once per
due time — also when two runners race or one crashes between submitting and recording."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from overlord.container import Container
from overlord.domain.infrastructure import DueSchedule
from overlord.entrypoints.cli.schedules import FiringScheduler, fire_due
from tests.e2e.conftest import Cli, Outcome, child_env, tree

POLL = "overlord-acme/weather-poll-observations"
FEED_POLL = "marketplace-check-feed-status"
OVERLORD_JSON = [sys.executable, "-m", "overlord.entrypoints.cli", "-o", "json"]


class Crash(BaseException):
    """The runner's process dies here: no handler in the code under test catches it."""


class CrashAfterSubmit:
    """A scheduler whose runner dies after submitting, before the firing is recorded."""

    def __init__(self, inner: FiringScheduler) -> None:
        self._inner = inner

    def due(self, now: datetime) -> list[DueSchedule]:
        return self._inner.due(now)

    def mark_fired(self, group: str, name: str, at: datetime) -> None:
        raise Crash


@pytest.fixture
def provisioned(cli: Cli) -> Cli:
    assert cli("tenants", "init", "acme", "weather").exit_code == 0
    return cli


def data(done: Outcome) -> list[dict[str, object]]:
    assert done.exit_code == 0, done.stderr
    found = json.loads(done.stdout)
    assert isinstance(found, list)
    return found


def finished(cli: Cli, job_id: str) -> dict[str, object]:
    """The job as `jobs show` reports it once it has ended (the local runner runs it)."""
    deadline = time.monotonic() + 60
    while True:
        shown = cli("jobs", "show", job_id, "--tenant", "acme", output="json")
        job: dict[str, object] = json.loads(shown.stdout)
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_list_shows_what_each_schedule_submits_and_when(provisioned: Cli) -> None:
    [poll] = data(provisioned("schedules", "list", "acme", output="json"))
    table = provisioned("schedules", "list", "acme").stdout

    assert poll == {
        "group": "overlord-acme",
        "name": "weather-poll-observations",
        "expression": "rate(7 minutes)",
        "timezone": "UTC",
        "enabled": True,
        "connector": "weather",
        "job_type": "ingest",
        "payload": {"stations": ["KSEA", "KJFK"]},
    }
    assert "weather-poll-observations" in table
    assert "rate(7 minutes)" in table


def test_run_once_fires_a_due_schedule_once_and_then_nothing_is_due(provisioned: Cli) -> None:
    [firing] = data(provisioned("schedules", "run", "--once", output="json"))
    again = data(provisioned("schedules", "run", "--once", output="json"))

    assert (firing["schedule"], firing["created"], firing["error"]) == (POLL, True, None)
    assert again == []
    [job] = data(provisioned("jobs", "list", output="json"))
    assert job["job_id"] == firing["job_id"]
    assert job["payload"] == {"stations": ["KSEA", "KJFK"]}
    assert job["idempotency_key"] == f"schedule {POLL} due {firing['due_at']}"
    assert "nothing is due" in provisioned("schedules", "run", "--once").stdout


def test_a_runner_that_crashed_before_recording_the_firing_does_not_submit_twice(
    provisioned: Cli, container: Container
) -> None:
    crashing = CrashAfterSubmit(container.scheduler())
    with pytest.raises(Crash):
        fire_due(crashing, container.jobs(), datetime.now(UTC))
    [submitted] = data(provisioned("jobs", "list", output="json"))

    [firing] = data(provisioned("schedules", "run", "--once", output="json"))

    assert (firing["job_id"], firing["created"]) == (submitted["job_id"], False)
    assert len(data(provisioned("jobs", "list", output="json"))) == 1
    assert data(provisioned("schedules", "run", "--once", output="json")) == []


def test_runners_racing_in_separate_processes_submit_one_job(provisioned: Cli, home: Path) -> None:
    runners = [
        subprocess.Popen(
            [*OVERLORD_JSON, "schedules", "run", "--once"],
            env=child_env(home),
            cwd=home.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [runner.communicate(timeout=120) for runner in runners]

    assert [runner.returncode for runner in runners] == [0, 0, 0], outputs
    firings = [firing for stdout, _ in outputs for firing in json.loads(stdout)]
    assert [f["created"] for f in firings].count(True) == 1
    assert len({f["job_id"] for f in firings}) == 1
    [job] = data(provisioned("jobs", "list", output="json"))
    assert job["job_id"] == firings[0]["job_id"]


def test_a_follow_up_schedule_fires_only_once_its_job_type_switched_it_on_until_a_poll_succeeds(
    cli: Cli,
) -> None:
    cli("tenants", "init", "acme", "marketplace")
    assert data(cli("schedules", "run", "--once", output="json")) == []

    feed = json.loads(
        cli(
            "jobs", "submit", "acme", "marketplace", "submit-feed", "--wait",
            "--payload", '{"items": [{"sku": "A-1", "price": 9.5, "quantity": 3}]}',
            output="json",
        ).stdout
    )  # fmt: skip
    [firing] = data(cli("schedules", "run", "--once", output="json"))

    assert feed["status"] == "SUCCEEDED"
    assert firing["schedule"] == "overlord-acme/marketplace-check-feed-status"
    assert firing["created"] is True
    assert finished(cli, str(firing["job_id"]))["status"] == "SUCCEEDED"
    polls = [
        s for s in data(cli("schedules", "list", "acme", output="json")) if s["name"] == FEED_POLL
    ]
    assert [poll["enabled"] for poll in polls] == [False]  # every feed processed: poll off


def test_the_runner_loops_until_interrupted_and_ctrl_c_is_a_clean_exit(
    provisioned: Cli, home: Path
) -> None:
    runner = subprocess.Popen(
        [*OVERLORD_JSON, "schedules", "run"],
        env=child_env(home),
        cwd=home.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert runner.stdout is not None
        firing = json.loads(runner.stdout.readline())
        runner.send_signal(signal.SIGINT)
        _, stderr = runner.communicate(timeout=60)
    finally:
        runner.kill()

    assert (firing["schedule"], firing["created"]) == (POLL, True)
    assert (runner.returncode, stderr) == (0, "")


@pytest.mark.parametrize(
    "args",
    [
        ["schedules", "list", "globex"],
        ["schedules", "list", "../x"],
        ["schedules", "list", "\u0430cme"],
        ["schedules", "run", "--interval", "0"],
        ["--profile", "memory", "schedules", "run", "--once"],
    ],
    ids=["unknown-tenant", "hostile", "cyrillic", "zero-interval", "memory-profile"],
)
def test_bad_requests_are_refused_in_one_line_and_fire_nothing(
    provisioned: Cli, home: Path, args: list[str]
) -> None:
    before = tree(home)

    done = provisioned(*args)

    assert done.exit_code == 2, done.stdout
    assert len(done.error_lines) == 1, done.stderr
    assert done.error_lines[0].startswith("error: ")
    assert done.stdout == ""
    assert tree(home) == before
