"""The ``pipelines`` a connector template declares: named task lists with their engine options.

A batch names one of them (or none, for the connector's default), so the steps, chunk size and
engine options are the template author's to set and a caller cannot pass arbitrary options.
Parsing sits here, not in `template_parsing`, so the template reader only gains one line.

.. code-block:: toml

    [pipelines.default]
    steps = ["process-task-1", "process-task-2"]
    chunk_size = 10
    default = true

    [pipelines.default.engine]
    max_concurrency = 10                 # chunks in flight
    workers = "threads"                  # or "processes" for CPU-bound tasks (local engine)
    distributed_from_chunks = 40         # Step Functions: a Distributed Map from 40 chunks on
                                         # (default 100)
    tolerated_failure_percentage = 5     # ...which tolerates this share of failed chunks
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

from overlord.domain.errors import InvalidName, InvalidTemplate, NotFound
from overlord.domain.names import slug
from overlord.domain.plain_data import Reader

# The original system's two processing Lambdas, shipped as sample tasks.
DEFAULT_STEPS = ("process-task-1", "process-task-2")
DEFAULT_PIPELINE = "default"
DEFAULT_CHUNK_SIZE = 10
DEFAULT_DISTRIBUTED_FROM = 100

# A step's position is stored as one base-36 character in a batch's chunk records
# (`batch_records`); connector templates, parsed on every submission, need only this bound, so
# it lives here and the batch records module is not imported with them.
MAX_STEPS = 20


class Workers(enum.StrEnum):
    """Where a local pipeline runs its tasks: threads (I/O-bound work, the default) or worker
    processes (CPU-bound work, beyond the GIL)."""

    THREADS = "threads"
    PROCESSES = "processes"


@frozen(kw_only=True)
class PipelineTemplate:
    name: str
    steps: tuple[str, ...]
    chunk_size: int = DEFAULT_CHUNK_SIZE
    max_concurrency: int = 10
    workers: Workers = Workers.THREADS
    # Step Functions: an inline Map keeps every chunk's events in one execution's history
    # (25,000 at most), so larger batches go to a Distributed Map by default.
    distributed_from_chunks: int = DEFAULT_DISTRIBUTED_FROM
    tolerated_failure_percentage: float = 0.0
    default: bool = False


BUILT_IN = PipelineTemplate(name=DEFAULT_PIPELINE, steps=DEFAULT_STEPS, default=True)


def check_steps(steps: object, where: str = "pipeline") -> tuple[str, ...]:
    if isinstance(steps, str) or not isinstance(steps, Sequence) or not steps:
        raise InvalidTemplate(f"{where}: expected a non-empty list of task names")
    try:
        found = tuple(slug("task", step) for step in steps)
    except InvalidName as exc:
        raise InvalidTemplate(f"{where}: {exc.message}") from None
    if len(set(found)) != len(found):
        raise InvalidTemplate(f"{where}: a task appears twice in {list(found)}")
    if len(found) > MAX_STEPS:
        raise InvalidTemplate(f"{where}: at most {MAX_STEPS} steps, got {len(found)}")
    return found


def _pipeline(name: str, data: object, path: str) -> PipelineTemplate:
    r = Reader(data, path, {"steps", "chunk_size", "default", "engine"})
    e = Reader(
        r.mapping("engine"),
        r.at("engine"),
        {"max_concurrency", "workers", "distributed_from_chunks", "tolerated_failure_percentage"},
    )
    distributed = e.integer("distributed_from_chunks", DEFAULT_DISTRIBUTED_FROM, 1, 10_000_000)
    return PipelineTemplate(
        name=name,
        steps=check_steps(r.data.get("steps"), r.at("steps")),
        chunk_size=r.integer("chunk_size", DEFAULT_CHUNK_SIZE, 1, 10_000),
        max_concurrency=e.integer("max_concurrency", 10, 1, 1000),
        workers=e.choice("workers", Workers, Workers.THREADS),
        distributed_from_chunks=distributed,
        tolerated_failure_percentage=e.number("tolerated_failure_percentage", 0.0, 0.0, 100.0),
        default=r.flag("default", False),
    )


def parse_pipelines(data: object, path: str = "pipelines") -> tuple[PipelineTemplate, ...]:
    """The ``pipelines`` table of a template; at most one may be marked ``default``."""
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        raise InvalidTemplate(f"{path}: expected a table/object")
    found = []
    for name, value in data.items():
        where = f"{path}.{name}"
        try:
            slug("pipeline", name)
        except InvalidName as exc:
            raise InvalidTemplate(f"{where}: {exc.message}") from None
        found.append(_pipeline(str(name), value, where))
    if sum(p.default for p in found) > 1:
        raise InvalidTemplate(f"{path}: more than one pipeline is marked default")
    return tuple(found)


def pipelines_to_mapping(pipelines: Iterable[PipelineTemplate]) -> dict[str, Any]:
    """The inverse of `parse_pipelines`."""
    out: dict[str, Any] = {}
    for p in pipelines:
        engine: dict[str, Any] = {
            "max_concurrency": p.max_concurrency,
            "workers": p.workers.value,
            "distributed_from_chunks": p.distributed_from_chunks,
            "tolerated_failure_percentage": p.tolerated_failure_percentage,
        }
        out[p.name] = {
            "steps": list(p.steps),
            "chunk_size": p.chunk_size,
            "default": p.default,
            "engine": engine,
        }
    return out


def find_pipeline(
    pipelines: Sequence[PipelineTemplate], name: str | None, connector: str
) -> PipelineTemplate:
    """The pipeline ``name``, or without one the default: the one marked so, else the first
    declared, else the built-in two sample tasks."""
    if name is None:
        marked = [p for p in pipelines if p.default]
        return (marked or list(pipelines) or [BUILT_IN])[0]
    for pipeline in pipelines or (BUILT_IN,):
        if pipeline.name == name:
            return pipeline
    known = ", ".join(p.name for p in pipelines or (BUILT_IN,))
    raise NotFound(f"connector {connector} has no pipeline {name!r} (known: {known})")
