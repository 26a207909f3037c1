"""How dataset runs look in a terminal: a summary, a table of folders, a table of runs, the
datasets and their partitions, and the progress ``--wait`` shows.

An API dataset's run covers a time window rather than a period, so wherever a period is shown
its window is shown instead (``2026-01-01T00:00:00Z/2026-01-01T04:00:00Z``).

Progress goes to stderr, so stdout stays the command's result: on a terminal a Rich bar of the
folders loaded so far; otherwise one plain line whenever the run moves, never a redraw.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
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
from overlord.domain.windows import Window, instant_text
from overlord.entrypoints.cli.output import table, text

if TYPE_CHECKING:
    from datetime import datetime

    from overlord.domain.dataset_runs import DatasetRun, FolderView
    from overlord.domain.partitions import PartitionInfo
    from overlord.services.datasets import DatasetInfo, DatasetService

# A dataset by tenant, connector and name: the key of the cursors `datasets_table` shows.
DatasetKey = tuple[str | None, str, str]

POLL_SECONDS = 0.3
STYLES = {
    RunStatus.GATHERING: "cyan",
    RunStatus.PROCESSING: "cyan",
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "red",
}
ACTION_STYLES = {
    "loaded": "green",
    "unchanged": "dim",
    "failed": "red",
    "pending": "cyan",
    "gathered": "dim",
}


def loaded(run: DatasetRun) -> int:
    return sum(1 for f in run.folders if f.rows is not None or f.action in ("failed", "gathered"))


def partitioning(run: DatasetRun, folder: FolderView) -> bool:
    """Whether ``folder`` is an API run's row for its partition job: every other folder of
    such a run is labelled by its part of the window (``PART/TABLE``)."""
    from overlord.services.datasets import PARTITIONS_STAGE  # not at import: the CLI starts lean

    return run.window is not None and folder.table == PARTITIONS_STAGE


def rows_loaded(run: DatasetRun) -> int:
    """Rows the run's process jobs loaded; its partition job's rows are the same records again."""
    return sum(f.rows or 0 for f in run.folders if not partitioning(run, f))


def covers(run: DatasetRun) -> str:
    """``window START/END`` for an API run, else ``period P``."""
    return f"window {run.window}" if run.window else f"period {run.period or '?'}"


def summary(run: DatasetRun) -> Text:
    line = Text.assemble(
        ("run ", ""),
        (run.run_id, "bold"),
        f" ({run.tenant}/{run.connector}, dataset {run.dataset}, {covers(run)}): ",
        (run.status.value, STYLES[run.status]),
    )
    if run.files:
        size = sum(f.bytes for f in run.files)
        line.append(f", {len(run.files)} file(s) of {size:,} bytes")
    if run.folders:
        line.append(f", {loaded(run)}/{len(run.folders)} folders done, {rows_loaded(run):,} rows")
    for f in run.folders:
        if partitioning(run, f) and f.rows is not None:
            line.append(f", {f.rows:,} in partitions")
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
            text(f.job_id or "-"),
            text(f.status.value if f.status is not None else "-"),
        )
    return grid


def runs_table(runs: Iterable[DatasetRun]) -> Table:
    grid = table(None, "run", "dataset", "period", "status", "folders", "rows")
    for run in runs:
        grid.add_row(
            text(run.run_id),
            text(f"{run.connector}/{run.dataset}"),
            text(_period(run)),
            text(run.status.value, STYLES[run.status]),
            text(f"{loaded(run)}/{len(run.folders)}"),
            text(f"{rows_loaded(run):,}"),
        )
    return grid


def _period(run: DatasetRun) -> str:
    """The period, or an API run's window named as its folders are (compact, one line)."""
    if run.window:
        start, _, end = run.window.partition("/")
        return Window.of(start, end).name
    return run.period or "-"


def datasets_table(
    found: Iterable[DatasetInfo], cursors: Mapping[DatasetKey, datetime | None]
) -> Table:
    """The datasets; a ``cursor`` column (how far each has landed) when any is an API dataset,
    the only kind that has one, so a table of scraped datasets keeps its columns."""
    columns = ["tenant", "connector", "dataset", "source", "cadence", "table", "cleaner"]
    grid = table(None, *columns, *(["cursor"] if cursors else []))
    for info in found:
        d = info.dataset
        cells = [
            text(info.tenant or "-"),
            text(info.connector),
            text(d.name),
            text(type(d.source).__name__.removesuffix("Source").lower()),
            text(f"{d.cadence} {d.timezone}"),
            text(getattr(d.sink, "table", "-")),
            text(d.cleaner),
        ]
        if cursors:
            key = (info.tenant, info.connector, d.name)
            cursor = cursors.get(key)
            shown = instant_text(cursor) if cursor else "none yet" if key in cursors else "-"
            cells.append(text(shown, "" if cursor else "dim"))
        grid.add_row(*cells)
    return grid


def partitions_table(found: Iterable[PartitionInfo]) -> Table:
    grid = table(None, "partition", "start", "rows", "files", "published")
    for info in found:
        grid.add_row(
            text(info.key),
            text(instant_text(info.start)),
            text(f"{info.rows:,}"),
            text(info.files),
            text("yes", "green") if info.published else text("no", "yellow"),
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
