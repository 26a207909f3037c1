"""Cleaners: what a cleaner receives (a raw folder's files and a `CleanerContext`) and what it is.

A cleaner is a plain function ``(files, context) -> DataFrame`` that turns one raw folder into
the frame a `TableSink` loads. The domain names it without pandas: the frame is whatever the
function returns, and the sink checks it. A file is a path or a readable binary stream; a stream
that carries a ``name`` (an open file, or a ``BytesIO`` given one) can be told apart by it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from attrs import frozen

from overlord.domain.names import slug

CleanerFile = str | os.PathLike[str] | BinaryIO
CleanerFunction = Callable[[Sequence[CleanerFile], "CleanerContext"], Any]


def cleaner_name(value: object) -> str:
    """A cleaner's registered name: a slug such as ``call-reports``, as `Dataset.cleaner` is."""
    return slug("cleaner", value)


@frozen(kw_only=True)
class CleanerContext:
    """Which dataset, period and table a folder is cleaned for; plain values only, so that a
    context can cross into a worker process.

    >>> context = CleanerContext(dataset="call-reports", period="2026Q1", table="call_rcb")
    >>> context.logger.name
    'overlord.cleaners.call-reports'
    """

    dataset: str
    period: str
    table: str

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose records carry the folder's coordinates (``extra``)."""
        return logging.LoggerAdapter(
            logging.getLogger(f"overlord.cleaners.{self.dataset}"),
            {"dataset": self.dataset, "period": self.period, "table": self.table},
        )
