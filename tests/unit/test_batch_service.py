"""BatchService on the memory profile: a start runs to the end inside `start`, so every outcome
is there to look at at once. Tasks are registered with ``@overlord.task`` as users do."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pytest

import overlord
from overlord.container import Container
from overlord.domain.batches import BatchStatus, RequestStatus
from overlord.domain.errors import (
    BackendError,
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from overlord.domain.step_calls import BatchRef, FinishCall
from overlord.services.batch_store import BATCHES, REQUESTS
from overlord.settings import Settings
from overlord.tasks import TaskContext
from overlord.testing import provisioned_memory_container

SEEN: list[tuple[str, str, int]] = []


@overlord.task("svc-record")
def record_items(items: Sequence[str], context: TaskContext) -> None:
    SEEN.extend((context.step, item, context.attempt) for item in items)


@overlord.task("svc-partial")
def partial(items: Sequence[str], context: TaskContext) -> Iterator[tuple[str, str | None]]:
    for item in items:
        if item == "boom":
            raise RuntimeError("the feed went away")
        yield item, None if not item.startswith("bad") else f"{item} has no price"


@overlord.task("svc-forgetful")
def forgetful(items: Sequence[str], context: TaskContext) -> dict[str, Any]:
    return {item: True for item in items if item != "forgotten"}


def body(items: list[str], batch_id: str = "b-1", size: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "batchId": batch_id,
        "totalItems": len(items),
        "batchSize": size,
        "currentBatch": 0,
        "itemIds": items,
        **extra,
    }


@pytest.fixture
def container() -> Container:
    SEEN.clear()
    return provisioned_memory_container("acme", "batch-manager", "weather")


def requests(container: Container, batch_id: str = "b-1") -> dict[str, Any]:
    view = container.batches().show("acme", batch_id, size=1000)
    return {r.item_id: r for r in view.requests}


def test_the_original_request_runs_the_two_sample_tasks_and_is_recorded(
    container: Container,
) -> None:
    result = container.batches().start("acme", "batch-manager", body(["a", "fail-b", "c"]))
    batch = result.batch
    assert (result.created, batch.status) == (True, BatchStatus.PARTIALLY_FAILED)
    assert (batch.pipeline, batch.steps) == ("default", ("process-task-1", "process-task-2"))
    assert (batch.counts["succeeded"], batch.counts["failed"], batch.chunk_count) == (2, 1, 2)
    assert batch.attempts[0].execution_id
    found = requests(container)
    assert (found["fail-b"].status, found["fail-b"].step) == (
        RequestStatus.FAILED,
        "process-task-2",
    )
    assert "marked to fail" in (found["fail-b"].error or "")


def test_the_same_request_twice_returns_the_first_and_a_different_one_is_a_conflict(
    container: Container,
) -> None:
    batches = container.batches()
    first = batches.start("acme", "weather", body(["x", "y"]), pipeline="svc-record")
    again = batches.start("acme", "weather", body(["x", "y"]), pipeline="svc-record")
    assert (again.created, again.batch.id, again.batch.attempts) == (
        False,
        first.batch.id,
        first.batch.attempts,
    )
    assert len(SEEN) == 2  # ran once
    with pytest.raises(Conflict, match="different request"):
        batches.start("acme", "weather", body(["x", "z"]), pipeline="svc-record")
    with pytest.raises(Conflict):
        batches.start("acme", "weather", body(["x", "y"], size=1), pipeline="svc-record")


def test_a_start_that_died_recording_its_chunks_is_finished_by_the_same_start_again(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = container.document_store()
    real = documents.insert_many

    def dies_after_the_first(database: str, collection: str, docs: Any) -> list[str]:
        real(database, collection, docs[:1])
        raise BackendError("the process died")

    monkeypatch.setattr(documents, "insert_many", dies_after_the_first)
    batches = container.batches()
    request = body(["x", "y", "z"], size=1)
    with pytest.raises(BackendError):
        batches.start("acme", "weather", request, pipeline="svc-record")
    monkeypatch.undo()
    assert SEEN == []
    again = batches.start("acme", "weather", request, pipeline="svc-record")
    assert (again.created, again.batch.status, again.batch.counts["succeeded"]) == (
        False,
        BatchStatus.SUCCEEDED,
        3,
    )
    assert sorted(SEEN) == [("svc-record", item, 0) for item in "xyz"]  # each ran once


BAD = {
    "total differs": ({"totalItems": 3}, "totalItems"),
    "chunk size under 1": ({"batchSize": 0}, "batchSize"),
    "duplicate ids": ({"itemIds": ["a", "a"]}, "appears twice"),
    "empty list": ({"itemIds": [], "totalItems": 0}, "non-empty"),
    "unknown task": ({"pipeline": ["svc-record", "no-such-task"]}, "no-such-task"),
    "unknown pipeline": ({"pipeline": "nightly"}, "no pipeline 'nightly'"),
    "over the limit": ({"itemIds": [f"i{n}" for n in range(6)], "totalItems": 6}, "at most 5"),
}


@pytest.mark.parametrize(("change", "message"), BAD.values(), ids=BAD.keys())
def test_a_bad_request_is_refused_and_nothing_is_written(
    change: dict[str, Any], message: str
) -> None:
    container = provisioned_memory_container("acme", "batch-manager")
    container.settings.override(Settings(profile="memory", max_batch_items=5))
    store = container.document_store()
    before = {c: store.count("overlord-acme", c) for c in store.list_collections("overlord-acme")}
    with pytest.raises((InvalidInput, NotFound), match=message):
        container.batches().start("acme", "batch-manager", {**body(["a", "b"]), **change})
    after = {c: store.count("overlord-acme", c) for c in store.list_collections("overlord-acme")}
    assert after == before
    assert BATCHES not in after or after[BATCHES] == 0


def test_a_task_that_raises_fails_only_its_unfinished_items_with_its_message(
    container: Container,
) -> None:
    items = ["ok-1", "bad-2", "boom", "ok-4", "ok-5"]
    batch = (
        container.batches()
        .start("acme", "weather", body(items, size=5), pipeline=["svc-partial"])
        .batch
    )
    found = requests(container)
    assert batch.status is BatchStatus.PARTIALLY_FAILED
    assert found["ok-1"].status is RequestStatus.SUCCEEDED  # yielded before the exception
    assert found["bad-2"].error == "bad-2 has no price"
    for item in ("boom", "ok-4", "ok-5"):
        assert found[item].error == "RuntimeError: the feed went away"


def test_an_item_a_task_did_not_answer_for_fails_saying_so(container: Container) -> None:
    container.batches().start(
        "acme", "weather", body(["kept", "forgotten"]), pipeline="svc-forgetful"
    )
    found = requests(container)
    assert found["kept"].status is RequestStatus.SUCCEEDED
    assert found["forgotten"].error == "task svc-forgetful returned no result for this item"


def test_retry_runs_only_the_failed_items_as_a_new_attempt(container: Container) -> None:
    batches = container.batches()
    batches.start("acme", "weather", body(["a", "fail-b", "c"]), pipeline=["process-task-2"])
    retried = batches.retry("acme", "b-1")
    assert retried.status is BatchStatus.SUCCEEDED
    assert [(a.number, a.kind.value, a.items) for a in retried.attempts] == [
        (0, "start", 3),
        (1, "retry", 1),
    ]
    found = requests(container)
    assert (found["fail-b"].attempts, found["fail-b"].attempt) == (2, 1)
    assert (found["a"].attempts, found["a"].attempt) == (1, 0)
    with pytest.raises(IllegalTransition, match="no failed items"):
        batches.retry("acme", "b-1")


def test_resume_refuses_a_batch_that_finished_and_the_sweep_leaves_it(
    container: Container,
) -> None:
    batches = container.batches()
    batches.start("acme", "weather", body(["a", "b"]), pipeline="svc-record")
    with pytest.raises(IllegalTransition, match="has finished"):
        batches.resume("acme", "b-1")
    assert batches.sweep() == []


def test_cancel_refuses_a_finished_batch(container: Container) -> None:
    batches = container.batches()
    batches.start("acme", "weather", body(["a"]), pipeline="svc-record")
    with pytest.raises(IllegalTransition, match="already finished"):
        batches.cancel("acme", "b-1")


def test_requests_are_paged_in_submission_order(container: Container) -> None:
    items = [f"item-{n:02d}" for n in range(7)]
    container.batches().start("acme", "weather", body(items, size=3), pipeline="svc-record")
    seen, page = [], None
    while True:
        view = container.batches().show("acme", "b-1", page=page, size=2)
        seen += [r.item_id for r in view.requests]
        if view.next_page is None:
            break
        page = view.next_page
    assert seen == items
    with pytest.raises(InvalidInput):
        container.batches().show("acme", "b-1", page="x")


def test_the_default_pipeline_setting_names_tasks_for_requests_that_name_none() -> None:
    container = provisioned_memory_container("acme", "batch-manager")
    container.settings.override(Settings(profile="memory", default_pipeline="svc-record"))
    SEEN.clear()
    batch = container.batches().start("acme", "batch-manager", body(["a"])).batch
    assert batch.steps == ("svc-record",)
    assert SEEN == [("svc-record", "a", 0)]


def test_the_finish_call_fails_the_items_of_a_chunk_whose_step_failed_for_good(
    container: Container,
) -> None:
    batches = container.batches()
    batches.start("acme", "weather", body(["a", "b", "c"]), pipeline="svc-record")
    store = container.document_store()
    store.update("overlord-acme", REQUESTS, "b-1/000001", {"status": "P", "version": 7})
    finish = FinishCall(
        pipeline="p",
        execution="e",
        batch=BatchRef(tenant="acme", connector="weather", batch_id="b-1", attempt=0),
        outcomes=(
            {
                "chunk": 1,
                "status": "FAILED",
                "step": "svc-record",
                "failure": {"Error": "Lambda.Unknown", "Cause": "out of memory"},
            },
        ),
    )
    settled = batches.finish(finish)
    assert settled.status is BatchStatus.PARTIALLY_FAILED
    assert requests(container)["c"].error == "Lambda.Unknown: out of memory"


def test_another_tenant_or_an_unknown_batch_is_not_found(container: Container) -> None:
    with pytest.raises(NotFound):
        container.batches().get("acme", "nope")
    with pytest.raises(NotFound):
        container.batches().start("globex", "weather", body(["a"]))


def test_a_request_without_a_batch_size_is_chunked_by_its_pipeline(container: Container) -> None:
    items = [f"i{n}" for n in range(25)]
    request = {"batchId": "sized", "totalItems": 25, "itemIds": items}
    batch = container.batches().start("acme", "batch-manager", request).batch
    assert (batch.batch_size, batch.chunk_count) == (10, 3)  # batch-manager's default: 10


def test_a_batch_whose_execution_ended_after_it_was_read_is_not_taken_for_interrupted(
    container: Container,
) -> None:
    service = container.batches()
    ended = service.start("acme", "batch-manager", body(["a", "b", "c"])).batch
    # As a caller saw it a moment before the execution ended and settled it.
    read_before = attrs.evolve(ended, status=BatchStatus.RUNNING)

    assert service.interrupted(read_before) is False
    with pytest.raises(IllegalTransition):
        service.resume("acme", ended.id)
    assert len(service.get("acme", ended.id).attempts) == 1
