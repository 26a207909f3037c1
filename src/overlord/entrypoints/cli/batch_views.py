"""How batches look in a terminal: a summary, their requests, a table of batches, and the
progress ``--wait`` shows.

Progress goes to stderr, so stdout stays the command's result: a Rich progress bar per batch
on a terminal, one plain line per change otherwise (a CI log, a pipe), never a redraw.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
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

from overlord.domain.batches import BatchStatus, RequestStatus
from overlord.entrypoints.cli.output import table, text, when

if TYPE_CHECKING:
    from overlord.domain.batch_records import BatchRecord
    from overlord.services.batches import BatchService, BatchView

POLL_SECONDS = 0.2
STATUS_STYLES = {
    BatchStatus.RUNNING: "cyan",
    BatchStatus.SUCCEEDED: "green",
    BatchStatus.PARTIALLY_FAILED: "yellow",
    BatchStatus.FAILED: "red",
    BatchStatus.CANCELLED: "magenta",
    RequestStatus.PENDING: "dim",
    RequestStatus.RUNNING: "cyan",
    RequestStatus.SUCCEEDED: "green",
    RequestStatus.FAILED: "red",
    RequestStatus.CANCELLED: "magenta",
}


def done(record: BatchRecord) -> int:
    c = record.counts
    return c.get("succeeded", 0) + c.get("failed", 0) + c.get("cancelled", 0)


def counts_line(record: BatchRecord) -> Text:
    line = Text()
    for key, style in (
        ("succeeded", "green"),
        ("failed", "red"),
        ("running", "cyan"),
        ("pending", "dim"),
        ("cancelled", "magenta"),
    ):
        number = record.counts.get(key, 0)
        if number:
            if line:
                line.append(", ")
            line.append(f"{number} {key}", style=style)
    return line or Text("no items")


def summary(record: BatchRecord, interrupted: bool = False) -> Text:
    status = record.status
    line = Text.assemble(
        (record.id, "bold"),
        f" ({record.tenant}/{record.connector}, pipeline {record.pipeline}: "
        f"{' -> '.join(record.steps)}): ",
        (status.value, STATUS_STYLES.get(status, "")),
        f", {record.total_items} items in {record.chunk_count} chunks of {record.batch_size}; ",
    )
    line.append_text(counts_line(record))
    if record.attempts:
        line.append(f"; attempt {record.attempts[-1].number}")
    if interrupted:
        line.append(" - interrupted: `overlord batches resume` continues it", style="yellow")
    if record.cancel_reason:
        line.append(f" - cancel: {record.cancel_reason}", style="magenta")
    return line


def requests_table(view: BatchView) -> Table:
    grid = table(None, "item", "status", "step", "attempts", "error")
    for r in view.requests:
        grid.add_row(
            text(r.item_id),
            text(r.status.value, STATUS_STYLES.get(r.status, "")),
            text(r.step or "-"),
            text(r.attempts),
            text(r.error or ""),
        )
    return grid


def batch_detail(view: BatchView) -> tuple[RenderableType, ...]:
    return summary(view.batch, view.interrupted), requests_table(view)


def batches_table(title: str | None, records: Iterable[BatchRecord]) -> Table:
    grid = table(title, "batch", "connector", "status", "done", "failed", "created (UTC)")
    for r in records:
        grid.add_row(
            text(r.id),
            text(r.connector),
            text(r.status.value, STATUS_STYLES.get(r.status, "")),
            text(f"{done(r)}/{r.total_items}"),
            text(r.counts.get("failed", 0)),
            text(when(r.created_at.isoformat())),
        )
    return grid


class BatchProgress:
    """A progress bar per batch on a terminal; otherwise one line whenever a batch's counts
    or status change (when ``lines`` is set; nothing when it is not)."""

    def __init__(self, *, lines: bool = True) -> None:
        self._console = Console(stderr=True, highlight=False)
        self._lines = lines
        self._bar: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._last: dict[str, tuple[object, ...]] = {}

    def __enter__(self) -> BatchProgress:
        if self._console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                console=self._console,
            )
            self._bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, record: BatchRecord) -> None:
        state = (record.status, tuple(sorted(record.counts.items())))
        if self._bar is not None:
            if record.id not in self._tasks:
                self._tasks[record.id] = self._bar.add_task(
                    record.id, total=record.total_items, counts=""
                )
            self._bar.update(
                self._tasks[record.id], completed=done(record), counts=counts_line(record).plain
            )
        elif self._lines and self._last.get(record.id) != state:
            message = (
                f"batch {record.id}: {record.status} {done(record)}/{record.total_items} done "
                f"({counts_line(record).plain})"
            )
            self._console.print(Text(message), soft_wrap=True)
        self._last[record.id] = state


def wait(
    batches: BatchService, record: BatchRecord, *, timeout: float, progress: BatchProgress
) -> BatchRecord:
    """The batch once it has ended, or as it stands after ``timeout`` seconds (or when it is
    interrupted: nothing will move it until it is resumed)."""
    started = time.monotonic()
    while True:
        record = batches.get(record.tenant, record.id)
        progress.update(record)
        if record.finished or batches.interrupted(record):
            return record
        if time.monotonic() - started >= timeout:
            return record
        time.sleep(POLL_SECONDS)
