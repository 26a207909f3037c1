"""Batch tasks: what a task receives (a chunk of item ids and a `TaskContext`) and how what it
gives back is read as one outcome per item.

A task is a plain function, so users write them without learning a framework; the price is
that its return value must be read generously and strictly at once. It may return nothing
(every item succeeded), a mapping from item id to a result, or yield ``(item_id, result)``
pairs as it goes, which lets the items it finished before an exception keep their outcome. A
result is ``None`` or ``True`` (succeeded), or a message or an exception (failed). An item the
task never answered for fails with a message that says so: a silently skipped item would
otherwise count as done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

from overlord.domain.errors import InvalidInput
from overlord.domain.names import slug

# The error (and the step) an item ends with are shown in tables and stored in every record:
# a task's exception text is cut to this length.
MAX_ERROR_LENGTH = 500

TaskFunction = Callable[[Sequence[str], "TaskContext"], Any]


def task_name(value: object) -> str:
    """A task's registered name: a slug such as ``process-task-1``."""
    return slug("task", value)


@frozen(kw_only=True)
class TaskContext:
    """Who a chunk runs for and where in its batch it is; plain values only, so that a context
    can cross into a worker process.

    >>> context = TaskContext(tenant="acme", connector="batch-manager", batch_id="b1",
    ...                       pipeline="default", step="process-task-1", attempt=0, chunk=3)
    >>> context.logger.name
    'overlord.tasks.process-task-1'
    """

    tenant: str
    connector: str
    batch_id: str
    pipeline: str
    step: str
    attempt: int
    chunk: int

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose records carry the batch's coordinates (``extra``)."""
        return logging.LoggerAdapter(
            logging.getLogger(f"overlord.tasks.{self.step}"),
            {
                "tenant": self.tenant,
                "connector": self.connector,
                "batch_id": self.batch_id,
                "step": self.step,
                "attempt": self.attempt,
                "chunk": self.chunk,
            },
        )


def error_text(error: object) -> str:
    """One line a person can read: an exception as ``Type: message``, cut to a bounded size."""
    if isinstance(error, BaseException):
        message = str(error)
        text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    else:
        text = str(error)
    text = " ".join(text.split()) or "failed"
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def _result(item: str, value: object) -> str | None:
    if value is None or value is True:
        return None
    if isinstance(value, str | BaseException):
        return error_text(value)
    if value is False:
        return "failed"
    raise InvalidInput(
        f"item {item!r:.60}: a task result is None/True (succeeded) or a message or an "
        f"exception (failed), not {type(value).__name__}"
    )


def read_results(items: Sequence[str], returned: object, into: dict[str, str | None]) -> None:
    """Put ``{item: error or None}`` into ``into`` for every item of ``items`` the task answered
    for. Answers for items not in ``items`` are ignored (they belong to no item of this chunk).
    An exception a generator task raises passes through, leaving in ``into`` what it yielded
    before, which is how the items it finished keep their outcome.

    >>> found = {}
    >>> read_results(["a", "b"], {"a": None, "b": "no such order"}, found)
    >>> found
    {'a': None, 'b': 'no such order'}
    """
    if returned is None:
        into.update(dict.fromkeys(items))
        return
    wanted = set(items)
    if isinstance(returned, Mapping):
        pairs: Iterable[object] = returned.items()
    elif isinstance(returned, str | bytes) or not isinstance(returned, Iterable):
        raise InvalidInput(
            "a task returns None, a mapping of item id to result, or (item id, result) pairs, "
            f"not {type(returned).__name__}"
        )
    else:
        pairs = returned
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidInput(f"a task yields (item id, result) pairs, not {pair!r:.60}")
        item, value = pair
        if isinstance(item, str) and item in wanted:
            into[item] = _result(item, value)


def unanswered(step: str) -> str:
    return f"task {step} returned no result for this item"
