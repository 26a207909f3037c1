"""What a batch request asks for, checked and resolved before anything is written: its fields,
its pipeline (declared by the connector, or a list of tasks), and the digest that tells a
repeated request from a different one under the same ``batchId``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import evolve, frozen

from overlord.domain.batches import read_request_body
from overlord.domain.connectors import ConnectorTemplate
from overlord.domain.errors import InvalidInput, InvalidTemplate, NotFound, PayloadTooLarge
from overlord.domain.pipeline_templates import (
    BUILT_IN,
    PipelineTemplate,
    check_steps,
    find_pipeline,
)
from overlord.domain.pipelines import PipelineSpec
from overlord.ports.tasks import TaskRegistry

_MACHINE = re.compile(r"[^A-Za-z0-9_-]")
# A chunk's request record holds its ids; DynamoDB stores at most 400 KB per item.
MAX_CHUNK_ID_BYTES = 300_000


@frozen(kw_only=True)
class BatchPlan:
    batch_id: str
    item_ids: tuple[str, ...]
    batch_size: int
    current_batch: int
    pipeline: PipelineTemplate
    digest: str

    def chunks(self) -> list[tuple[str, ...]]:
        ids, size = self.item_ids, self.batch_size
        return [ids[i : i + size] for i in range(0, len(ids), size)]


def requested_pipeline(value: object) -> str | tuple[str, ...] | None:
    """A pipeline as a request names it: a declared name, or tasks (a list, or ``"t1,t2"``)."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = tuple(p.strip() for p in value.split(","))
        return parts[0] if len(parts) == 1 else parts
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InvalidInput("pipeline: expected a pipeline name or a list of task names")


def plan_batch(
    body: object,
    *,
    connector: str,
    template: ConnectorTemplate,
    pipeline: object,
    default_pipeline: str | None,
    tasks: TaskRegistry,
    max_items: int,
) -> BatchPlan:
    """Check everything a batch request says; `InvalidInput` (nothing written) if anything is
    off. A request naming no pipeline runs ``default_pipeline`` (OVERLORD_DEFAULT_PIPELINE: a
    pipeline of the connector, or tasks) if set, else the connector's default pipeline. A
    request without ``batchSize`` is chunked by the pipeline's ``chunk_size``."""
    if not isinstance(body, Mapping):
        read_request_body(body)  # says what is wrong with it
        raise InvalidInput("batch request: expected a JSON object")
    if "pipeline" in body:
        pipeline = body["pipeline"]
    wanted = requested_pipeline(pipeline)
    if wanted is None and default_pipeline:
        wanted = requested_pipeline(default_pipeline)
    if isinstance(wanted, str):
        # One name: a pipeline the connector declares, else a task of that name.
        declared = {p.name for p in template.pipelines or (BUILT_IN,)}
        if wanted not in declared:
            if wanted not in tasks.names():
                raise NotFound(
                    f"connector {connector} has no pipeline {wanted!r:.40} and no task has "
                    f"that name (pipelines: {', '.join(sorted(declared))})"
                )
            wanted = (wanted,)
    chosen = _resolve(template, connector, wanted)
    missing = [step for step in chosen.steps if step not in tasks.names()]
    if missing:
        raise InvalidInput(
            f"pipeline {chosen.name}: no task registered as {', '.join(missing)} "
            f"(registered: {', '.join(tasks.names()) or 'none'})"
        )
    if "batchSize" not in body:
        body = {**body, "batchSize": chosen.chunk_size}
    fields = read_request_body(body, extra=("pipeline",))
    items = fields["item_ids"]
    if len(items) > max_items:
        raise PayloadTooLarge(
            f"itemIds: {len(items)} items; a batch holds at most {max_items} "
            "(OVERLORD_MAX_BATCH_ITEMS): split it into several batches"
        )
    size = fields["batch_size"]
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        used = len("".join(chunk).encode("utf-8")) + 3 * len(chunk)  # each id quoted, with a comma
        if used > MAX_CHUNK_ID_BYTES:
            raise PayloadTooLarge(
                f"batchSize: chunk {start // size} holds {used} bytes of ids, over "
                f"{MAX_CHUNK_ID_BYTES}: use a smaller batchSize"
            )
    identity = {
        "connector": connector,
        "pipeline": chosen.name,
        "steps": list(chosen.steps),
        "batchId": fields["batch_id"],
        "batchSize": fields["batch_size"],
        "currentBatch": fields["current_batch"],
        "itemIds": list(items),
    }
    digest = hashlib.sha256(json.dumps(identity, separators=(",", ":")).encode()).hexdigest()
    return BatchPlan(
        batch_id=fields["batch_id"],
        item_ids=tuple(items),
        batch_size=fields["batch_size"],
        current_batch=fields["current_batch"],
        pipeline=chosen,
        digest=digest,
    )


def _resolve(
    template: ConnectorTemplate, connector: str, wanted: str | tuple[str, ...] | None
) -> PipelineTemplate:
    if wanted is None or isinstance(wanted, str):
        return find_pipeline(template.pipelines, wanted, connector)
    try:
        steps = check_steps(list(wanted))
    except InvalidTemplate as exc:
        raise InvalidInput(exc.message) from None
    base = find_pipeline(template.pipelines, None, connector)
    if base.steps == steps:
        return base
    # Listed tasks run with the default pipeline's engine options, under a name of their own.
    digest = hashlib.sha256("\n".join(steps).encode()).hexdigest()[:8]
    return evolve(base, name=f"tasks-{digest}", steps=steps, default=False)


def pipeline_spec(
    namespace: str, tenant: str, connector: str, pipeline: PipelineTemplate
) -> PipelineSpec:
    """What the engine deploys for a tenant's connector pipeline (on AWS, one state machine,
    named readably and made unique by a digest, within Step Functions' 80 characters)."""
    material = json.dumps([namespace, tenant, connector, pipeline.name])
    digest = hashlib.sha256(material.encode()).hexdigest()[:10]
    readable = _MACHINE.sub("_", f"{namespace}-{tenant}-{connector}-{pipeline.name}")[:69]
    return PipelineSpec(
        name=f"{readable}-{digest}",
        steps=pipeline.steps,
        chunk_size=pipeline.chunk_size,
        max_concurrency=pipeline.max_concurrency,
        by_reference=True,
        distributed_from_chunks=pipeline.distributed_from_chunks,
        tolerated_failure_percentage=pipeline.tolerated_failure_percentage,
    )


def chunk_list_document(chunks: Sequence[int]) -> bytes:
    """The item list a Distributed Map reads from S3: one ``{"chunk": n}`` per chunk."""
    document: list[dict[str, Any]] = [{"chunk": n} for n in chunks]
    return json.dumps(document, separators=(",", ":")).encode("utf-8")
