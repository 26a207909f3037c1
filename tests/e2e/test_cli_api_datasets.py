"""``overlord datasets`` with an API dataset on the local profile, against an observations API
served on 127.0.0.1 (`tests.observations_api`): every stage a real job, the API key read from
``OVERLORD_SECRET_OBS_KEY`` in the CLI's environment, partitions read back with pyarrow.

The connector is a template of the test's own, shaped like the bundled ``weather`` connector's
``observations`` dataset but for this API: a placeholder host that ``--source-url`` replaces,
token pagination, one entity per station, and ``faults=1`` so each page is answered 429 and then
503 before it is served. Its cleaner is a plugin installed the way any is, by an entry point of
a distribution on the jobs' ``PYTHONPATH``, so process jobs load the runs into a real table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from overlord.container import Container
from overlord.domain.windows import MAX_REQUESTS, instant_text
from tests.e2e.conftest import Cli, Outcome, run_subprocess, tree
from tests.observations_api import KEY, STATIONS, ObservationsApi, serve_observations

TEMPLATE = """
name = "obs-api"
version = 1
description = "Observations from the test API, partitioned by hour"
placement = "dedicated"

[compute]
type = "FARGATE"
max_vcpus = 2
priority = 1

[compute.job_definition]
image = "public.ecr.aws/docker/library/python:3.11-slim"
command = ["python", "-m", "overlord.stages"]
vcpus = 0.25
memory_mib = 512
timeout_seconds = 300

[job_types.gather]
command = ["python", "-m", "overlord.stages", "gather"]
timeout_seconds = 120
retry_attempts = 2

[job_types.process]
command = ["python", "-m", "overlord.stages", "process"]
timeout_seconds = 120
retry_attempts = 2

[job_types.partition]
command = ["python", "-m", "overlord.stages", "partition"]
timeout_seconds = 120
retry_attempts = 2

[[datasets]]
name = "observations"
cadence = "rate(1 hour)"
raw_layout = "{table}"
cleaner = "test-observations"

[datasets.source]
type = "api"
url_template = "https://observations.example.test/v1/token"
params = { station = "{station}", start = "{start}", end = "{end}", faults = "1" }
records = "features"
auth = { secret = "obs_key", header = "X-Api-Key" }
pagination = { style = "token", token = "meta.next_token", param = "page_token" }
window = { format = "iso", max_span = "PT2H" }
entities = { param = "station", from = "stations" }

[datasets.partitioning]
column = "properties_timestamp"
granularity = "hour"
keys = ["station", "properties_timestamp"]
mode = "append"
trigger = "window"

[datasets.sink]
type = "table"
table = "observations"
keys = ["station_id", "observed_at"]
"""

CLEANER = """
import json

from overlord.cleaners import open_file


def clean(files, context):
    import pandas as pd

    rows = []
    for file in files:
        with open_file(file) as stream:
            for line in stream.read().decode("utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    rows.append(
                        {
                            "station_id": record["station"],
                            "observed_at": record["properties"]["timestamp"],
                            "temperature_c": record["properties"]["temperature"],
                        }
                    )
    frame = pd.DataFrame(rows, columns=["station_id", "observed_at", "temperature_c"])
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    return frame
"""

DATASET = ("acme", "obs-api", "observations")
PARTITIONS = "partitions/observations"
W1 = ("2026-01-01T00:00:00Z", "2026-01-01T04:00:00Z")
OLDER = ("2026-01-01T04:00:00Z", "2026-01-01T06:00:00Z")
HOUR0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def api() -> Iterator[ObservationsApi]:
    with serve_observations() as running:
        yield running


@pytest.fixture
def plugins(tmp_path: Path) -> str:
    """A ``PYTHONPATH`` on which the ``test-observations`` cleaner is installed."""
    site = tmp_path / "site"
    (site / "obs_cleaners").mkdir(parents=True)
    (site / "obs_cleaners" / "__init__.py").write_text(CLEANER, encoding="utf-8")
    info = site / "obs_cleaners-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: obs-cleaners\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[overlord.cleaners]\ntest-observations = obs_cleaners:clean\n"
    )
    return os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])


@pytest.fixture
def provisioned(cli: Cli, tmp_path: Path) -> Cli:
    template = tmp_path / "obs-api.toml"
    template.write_text(TEMPLATE, encoding="utf-8")
    assert cli("connectors", "add", str(template)).exit_code == 0
    assert cli("tenants", "init", "acme", "obs-api").exit_code == 0
    return cli


class Overlord:
    """The CLI as a user runs it, with the API key in its environment: every output kept, so
    a test can show the key never appeared in any."""

    def __init__(self, home: Path, api: ObservationsApi, pythonpath: str) -> None:
        self.home, self.api, self.pythonpath = home, api, pythonpath
        self.outputs: list[Outcome] = []

    def __call__(self, *args: str, key: str = KEY) -> Outcome:
        done = run_subprocess(
            self.home,
            "-o",
            "json",
            *args,
            PYTHONPATH=self.pythonpath,
            OVERLORD_SECRET_OBS_KEY=key,
        )
        self.outputs.append(done)
        return done

    def run(
        self,
        *window: str,
        key: str = KEY,
        stations: tuple[str, ...] = STATIONS,
        idempotency_key: str | None = None,
    ) -> tuple[Outcome, dict[str, Any]]:
        """``datasets run`` over ``window`` (start, end), or from the cursor without one."""
        bounds = ("--start", window[0], "--end", window[1]) if window else ()
        options = ("--idempotency-key", idempotency_key) if idempotency_key else ()
        done = self(
            "datasets",
            "run",
            *DATASET,
            "-p",
            f"stations={','.join(stations)}",
            "--source-url",
            self.api.url,
            *bounds,
            *options,
            "--wait",
            key=key,
        )
        run: dict[str, Any] = json.loads(done.stdout)
        return done, run


@pytest.fixture
def overlord(provisioned: Cli, home: Path, api: ObservationsApi, plugins: str) -> Overlord:
    return Overlord(home, api, plugins)


def data(done: Outcome) -> Any:
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)


def cursor(cli: Cli) -> str | None:
    [listed] = data(cli("datasets", "list", "acme", output="json"))
    value: str | None = listed["cursor"]
    return value


def folders(run: dict[str, Any]) -> dict[str, tuple[int | None, str]]:
    return {f["table"]: (f["rows"], f["action"]) for f in run["folders"]}


def parquet_partitions(container: Container, home: Path) -> dict[str, list[dict[str, Any]]]:
    """Every published partition's rows, read as any reader would: the files its ``_SUCCESS``
    marker lists, straight from the local object store's folder, with pyarrow."""
    bucket = container.jobs().target("acme", "obs-api").names["bucket"]
    root = home / "objects" / bucket / PARTITIONS
    found: dict[str, list[dict[str, Any]]] = {}
    for marker in sorted(root.rglob("_SUCCESS")):
        listed = json.loads(marker.read_text())
        rows = [
            row
            for name in listed["files"]
            for row in pq.read_table(marker.parent / name).to_pylist()
        ]
        assert len(rows) == listed["rows"]
        found[marker.parent.relative_to(root).as_posix()] = rows
    return found


def hour_key(hour: int) -> str:
    return f"year=2026/month=01/day=01/hour={hour:02d}"


@pytest.mark.long
def test_an_api_dataset_lands_windows_partitions_them_once_and_moves_its_cursor_forward(
    overlord: Overlord, provisioned: Cli, api: ObservationsApi, container: Container, home: Path
) -> None:
    assert cursor(provisioned) is None

    done, first = overlord.run(*W1)

    assert done.exit_code == 0, done.stderr
    assert (first["status"], first["window"], first["errors"]) == ("SUCCEEDED", "/".join(W1), [])
    assert folders(first) == {
        "20260101T000000Z-20260101T020000Z/observations": (6, "loaded"),
        "20260101T020000Z-20260101T040000Z/observations": (6, "loaded"),
        "partitions": (12, "loaded"),
    }
    # One page per station and part, each answered 429, then 503, then served gzipped.
    assert len(api.seen) == len(STATIONS) * 2
    assert set(api.seen.values()) == {3}
    assert api.gzipped == len(api.seen)
    assert cursor(provisioned) == W1[1]
    stored = parquet_partitions(container, home)
    assert sorted(stored) == [hour_key(h) for h in range(4)]
    for hour in range(4):
        rows = stored[hour_key(hour)]
        assert sorted(r["station"] for r in rows) == sorted(STATIONS)
        assert {r["properties_timestamp"] for r in rows} == {HOUR0 + timedelta(hours=hour)}
    listed = data(provisioned("datasets", "partitions", *DATASET, output="json"))
    assert [(p["key"], p["rows"], p["published"]) for p in listed] == [
        (hour_key(h), 3, True) for h in range(4)
    ]
    assert len(container.table_sink().read("observations")) == 12

    # The same window again lands the same objects: nothing loads or partitions twice.
    _, again = overlord.run(*W1, idempotency_key="again")
    assert again["status"] == "SUCCEEDED", again["errors"]
    assert again["run_id"] != first["run_id"]
    assert {action for _, action in folders(again).values()} == {"unchanged"}
    # Rewriting the window's partitions appends what landed by key: still one row per station
    # and hour. Asked again it is the same job; a new key rewrites once more.
    window = ("datasets", "partition", *DATASET, "--start", W1[0], "--end", W1[1], "--wait")
    rewritten = data(provisioned(*window, output="json"))
    assert (rewritten["created"], rewritten["status"]) == (True, "SUCCEEDED")
    assert [(p["key"], p["rows"]) for p in rewritten["partitions"]] == [
        (hour_key(h), 3) for h in range(4)
    ]
    stored = parquet_partitions(container, home)
    pairs = [(r["station"], r["properties_timestamp"]) for rows in stored.values() for r in rows]
    assert len(pairs) == len(set(pairs)) == 12
    same = data(provisioned(*window, output="json"))
    assert (same["job_id"], same["created"]) == (rewritten["job_id"], False)
    once_more = data(provisioned(*window, "--idempotency-key", "once-more", output="json"))
    assert once_more["created"]
    assert once_more["job_id"] != rewritten["job_id"]
    assert once_more["status"] == "SUCCEEDED"
    assert parquet_partitions(container, home) == stored
    assert len(container.table_sink().read("observations")) == 12

    # A later window moves the cursor to its end; a backfill of older data then lands and
    # partitions its hours but leaves the cursor where it is.
    # (The API has nothing this recent: one station is enough, and saves faulty pages.)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    recent = (instant_text(now - timedelta(hours=2)), instant_text(now - timedelta(hours=1)))
    _, later = overlord.run(*recent, stations=STATIONS[:1])
    assert later["status"] == "SUCCEEDED", later["errors"]
    assert cursor(provisioned) == recent[1]
    _, older = overlord.run(*OLDER)
    assert older["status"] == "SUCCEEDED", older["errors"]
    assert folders(older)["partitions"] == (6, "loaded")
    assert cursor(provisioned) == recent[1]
    assert sorted(parquet_partitions(container, home)) == [hour_key(h) for h in range(6)]

    # A run on the cadence (no window) starts at the cursor and ends it at its own now.
    _, cadence = overlord.run(stations=STATIONS[:1])
    assert cadence["status"] == "SUCCEEDED", cadence["errors"]
    start, _, end = cadence["window"].partition("/")
    assert start == recent[1]
    assert cursor(provisioned) == end > recent[1]

    # People see the window where a period would be, and the cursor beside the dataset.
    shown = provisioned("datasets", "show", "acme", first["run_id"])
    assert f"window {'/'.join(W1)}): SUCCEEDED" in shown.stdout
    assert "12 rows, 12 in partitions" in shown.stdout
    status = provisioned("datasets", "status", "acme")
    assert "20260101T000000Z-20260101T040000Z" in status.stdout
    assert end in provisioned("datasets", "list", "acme").stdout

    # The key never shows: not in any output, any job's log, nor anything stored.
    jobs = [
        job_id
        for run in (first, again, later, older, cadence)
        for job_id in (run["run_id"], *(f["job_id"] for f in run["folders"]))
    ]
    logs = [provisioned("jobs", "logs", job_id) for job_id in dict.fromkeys(jobs)]
    assert all(KEY not in out.stdout + out.stderr for out in [*overlord.outputs, *logs])
    assert "3 pages landed" in logs[0].stdout
    stored = [p for p in home.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert stored == []


def test_a_wrong_key_fails_the_run_with_the_apis_401_and_moves_no_cursor(
    overlord: Overlord, provisioned: Cli, api: ObservationsApi
) -> None:
    done, run = overlord.run(*W1, key="not-the-key")

    assert done.exit_code == 1
    assert (run["status"], run["window"]) == ("FAILED", "/".join(W1))
    [reason] = run["errors"]
    assert reason.startswith("gather: GET http://127.0.0.1:")
    assert "answered 401 Unauthorized" in reason
    last = done.error_lines[-1]
    assert last.startswith(f"error: run {run['run_id']} failed: gather: GET ")
    assert "401 Unauthorized" in last
    assert "not-the-key" not in done.stdout + done.stderr
    assert api.seen == {}  # no request got past the key check
    assert cursor(provisioned) is None
    assert data(provisioned("datasets", "partitions", *DATASET, output="json")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", *DATASET, "--start", "soon", "--end", W1[1]), "--start 'soon': expected an ISO"),
        (("run", *DATASET, "--start", W1[0], "--end", "2026-01-32"), "--end '2026-01-32'"),
        (("run", *DATASET, "--start", W1[1], "--end", W1[0]), "the window ends"),
        (("run", *DATASET, "--start", W1[0]), "give both the start and the end"),
        (
            ("gather", *DATASET, "--start", "2000-01-01T00:00:00Z", "--end", W1[0]),
            f"would take over {MAX_REQUESTS} requests",
        ),
        (
            ("run", *DATASET, "--start", W1[0], "--end", W1[1], "--archive", "calls.zip"),
            "an archive applies to scraped sources",
        ),
        (("partitions", *DATASET, "--start", W1[1], "--end", W1[0]), "is not after --start"),
        (("partitions", *DATASET, "--end", "tomorrow"), "--end 'tomorrow'"),
        (("partition", *DATASET, "--start", W1[0]), "Missing option '--end'"),
        (("partition", *DATASET, "--start", W1[0], "--end", W1[0]), "the window ends"),
        (("partition", "acme", "obs-api", "nope", "--start", W1[0], "--end", W1[1]), "'nope'"),
        (("partitions", "globex", "obs-api", "observations"), "no tenant 'globex'"),
    ],
)
def test_bad_windows_exit_2_with_one_line_and_write_nothing(
    provisioned: Cli, home: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "calls.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    before = tree(home)

    done = provisioned("datasets", *args)

    assert done.exit_code == 2, done.stderr
    [line] = done.error_lines
    assert line.startswith("error: ")
    assert message in line
    assert tree(home) == before
