"""The quickstart's API dataset: three hours of two weather stations, from a recorded API.

The weather connector's ``observations`` dataset calls api.weather.gov. Here its recipe is
pointed (through the mirror URL every recipe accepts) at the recorded responses bundled with the
package, served on 127.0.0.1 for as long as the run takes (`overlord.recorded_api`), over the
explicit window they cover: the whole path of an API dataset — pages, raw folders, the process
job's table and the partition job's hourly partitions — with no network beyond loopback.

The server's port is part of the gather job's request, so a second quickstart gathers the window
again as a new run; it lands the same bytes (its folder is ``unchanged``) and finds the process
and partition jobs of the first one done. On the aws profile the step is skipped: its jobs run on
AWS Batch, which cannot reach a server on this machine.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from attrs import define
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from overlord.domain.dataset_runs import RunStatus
from overlord.domain.partitions import PartitionInfo
from overlord.domain.windows import Window, instant_text
from overlord.entrypoints.cli import dataset_views
from overlord.entrypoints.cli.output import table, text
from overlord.entrypoints.dataset_json import run_json
from overlord.recorded_api import NWS_STATIONS, NWS_WINDOW, Recording, serve
from overlord.services.datasets import PARTITIONS_STAGE
from overlord.settings import Profile

if TYPE_CHECKING:
    from overlord.container import Container
    from overlord.domain.dataset_runs import DatasetRun

CONNECTOR, DATASET = "weather", "observations"
SKIPPED_ON_AWS = (
    "skipped on the aws profile: its jobs run on AWS Batch, which cannot reach the recorded "
    "API this machine would serve"
)


@define
class SampleApiRun:
    run: DatasetRun
    created: bool
    window: Window
    partitions: list[PartitionInfo]
    cursor: datetime | None
    requests: int

    @property
    def table_rows(self) -> int:
        """Rows the run's process jobs loaded (the partition job's rows are the same records)."""
        return sum(f.rows or 0 for f in self.run.folders if f.table != PARTITIONS_STAGE)

    def to_json(self) -> dict[str, Any]:
        return {
            **run_json(self.run),
            "created": self.created,
            "window": str(self.window),
            "requests": self.requests,
            "table_rows": self.table_rows,
            "partitions": [
                {
                    "key": p.key,
                    "start": instant_text(p.start),
                    "rows": p.rows,
                    "files": p.files,
                    "published": p.published,
                }
                for p in self.partitions
            ],
            "cursor": None if self.cursor is None else instant_text(self.cursor),
        }


def land_recorded_window(container: Container, tenant: str, timeout: float) -> SampleApiRun:
    """Run the observations dataset over the recorded window against the recorded API, to the
    end (on the memory profile the run stays at its gather job: that backend runs nothing)."""
    datasets = container.datasets()
    window = Window.of(*NWS_WINDOW)
    profile = container.settings().profile
    with serve(Recording.bundled()) as api:
        started = datasets.start(
            tenant,
            CONNECTOR,
            DATASET,
            params={"stations": NWS_STATIONS},
            source_url=api.url,
            start=NWS_WINDOW[0],
            end=NWS_WINDOW[1],
        )
        run = started.run
        if profile is not Profile.MEMORY and not run.status.finished:
            # The server must outlive the gather job that calls it, so the wait is inside.
            with dataset_views.RunProgress(lines=False) as progress:
                run = dataset_views.wait(datasets, run, timeout=timeout, progress=progress)
        requests = len(api.requests)
    partitions = datasets.partitions(tenant, CONNECTOR, DATASET, start=window.start, end=window.end)
    cursor = datasets.cursor(tenant, CONNECTOR, DATASET)
    return SampleApiRun(run, started.created, window, partitions, cursor, requests)


def api_section(sample: SampleApiRun) -> tuple[RenderableType, ...]:
    run = sample.run
    if not sample.created:
        state = "already run by an earlier run"
    elif run.folders and all(f.action == "unchanged" for f in run.folders):
        state = "gathered again, nothing new landed"
    else:
        state = "started"
    title = Text.assemble(
        ("sample API dataset", "bold"),
        f": {run.tenant}/{run.connector} {run.dataset}, {sample.window} of {NWS_STATIONS} "
        f"from recorded api.weather.gov responses, {state}",
    )
    line = Text.assemble(
        "run ", (run.run_id, "bold"), ": ", (run.status.value, dataset_views.STYLES[run.status])
    )
    if run.files:
        size = sum(f.bytes for f in run.files)
        line.append(
            f", {len(run.files)} page(s) of {size:,} bytes from {sample.requests} request(s), "
            f"{sample.table_rows:,} rows in table {DATASET}"
        )
    for error in run.errors:
        line.append(f"\n  {error}", style="red")
    shown: list[RenderableType] = [title, line]
    if run.folders:
        shown.append(dataset_views.folders_table(run))
    if sample.partitions:
        shown += [Text(), partitions_table(sample.partitions)]
    if sample.cursor is not None:
        shown.append(
            Text(
                f"cursor: landed up to {instant_text(sample.cursor)}; a run without --start "
                "goes on from there"
            )
        )
    return tuple(shown)


def partitions_table(partitions: list[PartitionInfo]) -> Table:
    grid = table(None, "partition", "rows", "files", "published")
    for p in partitions:
        grid.add_row(text(p.key), text(p.rows), text(p.files), text("yes" if p.published else "no"))
    return grid


def failure(sample: SampleApiRun | None) -> str | None:
    """Why the quickstart must exit 1 for this step, if it must."""
    if sample is not None and sample.run.status is RunStatus.FAILED:
        return f"the sample API dataset run failed: {'; '.join(sample.run.errors)}"
    return None
