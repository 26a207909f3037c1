"""The original batch manager's two processing Lambdas, ``processTask1`` and ``processTask2``,
as the sample tasks ``process-task-1`` and ``process-task-2`` (the default pipeline).

They do real, if small, work on every item: the first derives a checksum of the item id by
repeated hashing (CPU work, no sleeping); the second hashes it again and fails items marked to fail,
so that partial failure and ``batches retry`` can be tried out:

- an id starting ``fail-`` fails on the batch's first attempt only, so a retry succeeds;
- an id starting ``fail-always-`` fails on every attempt.

Copy this module to write your own tasks: a task gets the chunk's item ids and a context, and
answers for each item (see `overlord.tasks`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

from overlord.tasks import TaskContext, task

ROUNDS = 200
FAIL_ONCE = "fail-"
FAIL_ALWAYS = "fail-always-"


def checksum(item: str, rounds: int = ROUNDS) -> str:
    """The item id hashed ``rounds`` times: the same id always gives the same checksum."""
    digest = item.encode("utf-8")
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()[:16]


@task("process-task-1")
def process_task_1(items: Sequence[str], context: TaskContext) -> dict[str, None]:
    """Enrich every item with its checksum (logged); nothing here fails an item."""
    for item in items:
        context.logger.debug("item %s: checksum %s", item, checksum(item))
    context.logger.info(
        "%s: enriched %d items of chunk %d", context.step, len(items), context.chunk
    )
    return dict.fromkeys(items)


@task("process-task-2")
def process_task_2(items: Sequence[str], context: TaskContext) -> Iterator[tuple[str, str | None]]:
    """Check each item (again by its checksum), yielding its outcome as soon as it is known."""
    for item in items:
        if item.startswith(FAIL_ALWAYS):
            yield item, f"item {item} is marked to fail on every attempt"
        elif item.startswith(FAIL_ONCE) and context.attempt == 0:
            yield item, f"item {item} is marked to fail on the first attempt; retry it"
        else:
            context.logger.debug("item %s: checked %s", item, checksum(item, ROUNDS // 2))
            yield item, None


if __name__ == "__main__":  # the connector's job definition: what this image can run
    from overlord.tasks import default_registry

    print("\n".join(default_registry().names()))
