"""How dataset runs look in a terminal: a summary, a table of folders, a table of runs, and the
progress ``--wait`` shows.

Progress goes to stderr, so stdout stays the command's result: on a terminal a Rich bar of the
folders loaded so far; otherwise one plain line whenever the run moves, never a redraw.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from overlord.domain.dataset_runs import RunStatus
from overlord.entrypoints.cli.output import table, text

if TYPE_CHECKING:
    from overlord.domain.dataset_runs import DatasetRun
    from overlord.services.datasets import DatasetInfo, DatasetService

POLL_SECONDS = 0.3
STYLES = {
    RunStatus.GATHERING: "cyan",
    RunStatus.PROCESSING: "cyan",
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "red",
}
ACTION_STYLES = {"loaded": "green", "unchanged": "dim", "failed": "red", "pending": "cyan"}


def loaded(run: DatasetRun) -> int:
    return sum(1 for f in run.folders if f.rows is not None or f.action == "failed")


def summary(run: DatasetRun) -> Text:
    line = Text.assemble(
        ("run ", ""),
        (run.run_id, "bold"),
        f" ({run.tenant}/{run.connector}, dataset {run.dataset}, period {run.period or '?'}): ",
        (run.status.value, STYLES[run.status]),
    )
    if run.files:
        size = sum(f.bytes for f in run.files)
        line.append(f", {len(run.files)} file(s) of {size:,} bytes")
    if run.folders:
        rows = sum(f.rows or 0 for f in run.folders)
        line.append(f", {loaded(run)}/{len(run.folders)} folders done, {rows:,} rows")
    for error in run.errors:
        line.append(f"\n  {error}", style="red")
    return line


def folders_table(run: DatasetRun) -> Table:
    grid = table(None, "table", "files", "rows", "action", "process job", "status")
    for f in run.folders:
        grid.add_row(
            text(f.table),
            text(f.files),
            text("-" if f.rows is None else f"{f.rows:,}"),
            text(f.action, ACTION_STYLES.get(f.action, "")),
            text(f.job_id),
            text(f.status.value),
        )
    return grid


def runs_table(runs: Iterable[DatasetRun]) -> Table:
    grid = table(None, "run", "dataset", "period", "status", "folders", "rows")
    for run in runs:
        grid.add_row(
            text(run.run_id),
            text(f"{run.connector}/{run.dataset}"),
            text(run.period or "-"),
            text(run.status.value, STYLES[run.status]),
            text(f"{loaded(run)}/{len(run.folders)}"),
            text(f"{sum(f.rows or 0 for f in run.folders):,}"),
        )
    return grid


def datasets_table(found: Iterable[DatasetInfo]) -> Table:
    grid = table(None, "tenant", "connector", "dataset", "source", "cadence", "table", "cleaner")
    for info in found:
        d = info.dataset
        grid.add_row(
            text(info.tenant or "-"),
            text(info.connector),
            text(d.name),
            text(type(d.source).__name__.removesuffix("Source").lower()),
            text(f"{d.cadence} {d.timezone}"),
            text(getattr(d.sink, "table", "-")),
            text(d.cleaner),
        )
    return grid


class RunProgress:
    """A bar of folders done on a terminal, else a line per change of the run (when ``lines``
    is set; nothing when it is not)."""

    def __init__(self, *, lines: bool = True) -> None:
        self._console = Console(stderr=True, highlight=False)
        self._lines = lines
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._last: tuple[object, ...] | None = None

    def __enter__(self) -> RunProgress:
        if self._console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self._console,
            )
            self._bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, run: DatasetRun) -> None:
        state = (run.status, loaded(run), len(run.folders))
        if self._bar is not None:
            description = f"{run.dataset} {run.status.value.lower()}"
            if self._task is None:
                self._task = self._bar.add_task(description, total=None)
            total = len(run.folders) or None
            self._bar.update(
                self._task, description=description, completed=loaded(run), total=total
            )
        elif self._lines and state != self._last:
            self._console.print(
                Text(
                    f"run {run.run_id}: {run.status.value}, "
                    f"{loaded(run)}/{len(run.folders)} folders done"
                ),
                soft_wrap=True,
            )
        self._last = state


def wait(
    datasets: DatasetService, run: DatasetRun, *, timeout: float, progress: RunProgress
) -> DatasetRun:
    """The run once it has finished, or as it stands after ``timeout`` seconds."""
    started = time.monotonic()
    while True:
        datasets.refresh(run.tenant, run)
        run = datasets.run(run.tenant, run.run_id)
        progress.update(run)
        if run.status.finished or time.monotonic() - started >= timeout:
            return run
        time.sleep(POLL_SECONDS)
