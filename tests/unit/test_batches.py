"""Batches: the original request body, chunking, forward-only items and retrying failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.batches import Batch, BatchCounts, BatchStatus, RequestStatus
from overlord.domain.errors import IllegalTransition, InvalidInput, NotFound

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
PIPELINE = ["fetch", "clean", "load"]


def body(**changes: Any) -> dict[str, Any]:
    original = {
        "batchId": "batch-2026-01-05",
        "totalItems": 5,
        "batchSize": 2,
        "currentBatch": 0,
        "itemIds": ["a", "b", "c", "d", "e"],
    }
    original.update(changes)
    return original


def batch(items: list[str] | None = None, size: int = 2) -> Batch:
    items = items if items is not None else ["a", "b", "c", "d", "e"]
    return Batch.from_request_body(
        body(itemIds=items, totalItems=len(items), batchSize=size), AT, pipeline=PIPELINE
    )


def test_the_original_request_body_is_accepted_as_is() -> None:
    b = Batch.from_request_body(body(), AT, pipeline=PIPELINE)
    assert b.id == "batch-2026-01-05"
    assert b.pipeline == ("fetch", "clean", "load")
    assert b.chunks() == (("a", "b"), ("c", "d"), ("e",))
    assert b.status is BatchStatus.RUNNING
    assert b.counts.total == b.counts.pending == 5
    assert all(r.status is RequestStatus.PENDING for r in b.requests.values())


def test_current_batch_may_be_left_out_and_is_given_back() -> None:
    given_body = body(currentBatch=2)
    assert (
        Batch.from_request_body(given_body, AT, pipeline=PIPELINE).to_request_body() == given_body
    )
    del given_body["currentBatch"]
    assert Batch.from_request_body(given_body, AT, pipeline=PIPELINE).current_batch == 0


BAD_BODIES = {
    "total differs from the items": (body(totalItems=6), "totalItems: is 6 but itemIds holds 5"),
    "batch size zero": (body(batchSize=0), "batchSize: expected an integer >= 1"),
    "batch size a boolean": (body(batchSize=True), "batchSize:"),
    "batch size a float": (body(batchSize=2.0), "batchSize:"),
    "duplicate item": (body(itemIds=["a", "b", "a", "d", "e"]), "itemIds[2]: 'a' appears twice"),
    "empty item id": (body(itemIds=["a", "", "c", "d", "e"]), "itemIds[1]: expected a non-empty"),
    "blank item id": (body(itemIds=["a", " ", "c", "d", "e"]), "itemIds[1]:"),
    "numeric item id": (body(itemIds=["a", 2, "c", "d", "e"]), "itemIds[1]:"),
    "no items": (body(itemIds=[], totalItems=0), "itemIds: expected a non-empty list"),
    "items not a list": (body(itemIds="abcde"), "itemIds: expected a list"),
    "missing batch id": ({k: v for k, v in body().items() if k != "batchId"}, "batch request:"),
    "unknown field": (body(batchsize=2), "batch request: unknown field 'batchsize'"),
    "batch id with a slash": (body(batchId="../etc"), "batchId:"),
    "batch id too long": (body(batchId="b" * 81), "batchId:"),
    "batch id a number": (body(batchId=7), "batchId:"),
    "current batch past the end": (body(currentBatch=4), "currentBatch: expected an integer >= 0"),
    "current batch negative": (body(currentBatch=-1), "currentBatch:"),
    "not an object": ([1, 2], "batch request: expected a JSON object"),
}


@pytest.mark.parametrize(("data", "message"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_malformed_body_is_refused_with_a_clear_reason(data: object, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Batch.from_request_body(data, AT, pipeline=PIPELINE)
    assert caught.value.message.startswith(message), caught.value.message


@pytest.mark.parametrize("pipeline", [[], ["fetch", "fetch"], ["Fetch"], "fetch"])
def test_a_pipeline_must_be_distinct_task_slugs(pipeline: Any) -> None:
    with pytest.raises(InvalidInput):
        Batch.from_request_body(body(), AT, pipeline=pipeline)


@given(
    items=st.lists(st.text(min_size=1).filter(str.strip), min_size=1, max_size=60, unique=True),
    size=st.integers(1, 70),
)
def test_chunks_cover_every_item_once_in_order_at_most_batch_size_at_a_time(
    items: list[str], size: int
) -> None:
    chunks = batch(items, size).chunks()
    assert [item for chunk in chunks for item in chunk] == items
    assert all(len(chunk) == size for chunk in chunks[:-1])
    assert 1 <= len(chunks[-1]) <= size
    assert len(chunks) == -(-len(items) // size)


def test_a_batch_succeeds_when_every_item_does() -> None:
    b = batch(["a", "b"])
    assert b.mark_running("a", at=AT)
    assert b.mark_succeeded("a", at=AT)
    assert b.status is BatchStatus.RUNNING
    b.mark_succeeded("b", at=AT)
    assert b.status is BatchStatus.SUCCEEDED
    assert b.counts == BatchCounts(total=2, pending=0, running=0, succeeded=2, failed=0)


def test_a_batch_with_some_failures_is_partially_failed_and_keeps_the_errors() -> None:
    b = batch(["a", "b", "c"])
    b.mark_succeeded("a", at=AT)
    b.mark_failed("b", "HTTP 503 from source", at=AT)
    b.mark_running("c", at=AT)
    assert b.status is BatchStatus.RUNNING
    b.mark_failed("c", "timeout", at=AT)
    assert b.status is BatchStatus.PARTIALLY_FAILED
    assert (b.counts.succeeded, b.counts.failed) == (1, 2)
    assert b.request("b").error == "HTTP 503 from source"


def test_a_batch_whose_items_all_fail_has_failed() -> None:
    b = batch(["a", "b"])
    b.mark_failed("a", "x", at=AT)
    b.mark_failed("b", "y", at=AT)
    assert b.status is BatchStatus.FAILED


def test_a_late_running_event_never_reopens_a_finished_item() -> None:
    b = batch(["a", "b"])
    b.mark_succeeded("a", at=AT)
    assert not b.mark_running("a", at=AT + timedelta(seconds=1))
    assert b.request("a").status is RequestStatus.SUCCEEDED


def test_a_duplicated_outcome_changes_nothing_and_a_conflicting_one_is_refused() -> None:
    b = batch(["a", "b"])
    b.mark_failed("a", "first error", at=AT)
    assert not b.mark_failed("a", "second error", at=AT)
    assert b.request("a").error == "first error"
    with pytest.raises(IllegalTransition):
        b.mark_succeeded("a", at=AT)


def test_retrying_moves_only_failed_items_back_and_reopens_the_batch() -> None:
    b = batch(["a", "b", "c"])
    b.mark_succeeded("a", at=AT)
    b.mark_failed("b", "boom", at=AT)
    b.mark_failed("c", "boom", at=AT)
    assert b.status is BatchStatus.PARTIALLY_FAILED

    assert b.retry_failed(at=AT + timedelta(minutes=1)) == ("b", "c")

    assert b.status is BatchStatus.RUNNING
    assert b.request("a").status is RequestStatus.SUCCEEDED
    retried = b.request("b")
    assert (retried.status, retried.error, retried.attempt) == (RequestStatus.PENDING, None, 1)
    b.mark_succeeded("b", at=AT)
    b.mark_succeeded("c", at=AT)
    assert b.status is BatchStatus.SUCCEEDED
    assert b.retry_failed(at=AT) == ()


def test_a_late_outcome_of_a_retried_attempt_is_ignored() -> None:
    b = batch(["a"])
    b.mark_failed("a", "boom", at=AT)
    b.retry_failed(at=AT)
    assert not b.mark_failed("a", "late report of attempt 0", at=AT, attempt=0)
    assert b.request("a").status is RequestStatus.PENDING
    with pytest.raises(IllegalTransition):
        b.mark_running("a", at=AT, attempt=2)
    assert b.mark_succeeded("a", at=AT, attempt=1)


def test_an_unknown_item_is_not_found() -> None:
    with pytest.raises(NotFound, match="'z'"):
        batch().mark_running("z", at=AT)


def test_a_batch_rebuilt_from_its_fields_has_the_same_status_and_counts() -> None:
    b = batch(["a", "b"])
    b.mark_succeeded("a", at=AT)
    b.mark_failed("b", "boom", at=AT)
    fields = attrs.asdict(b, recurse=False, filter=lambda a, _: a.init)
    rebuilt = Batch(**fields)
    assert rebuilt == b
    assert (rebuilt.status, rebuilt.counts) == (BatchStatus.PARTIALLY_FAILED, b.counts)


operations = st.lists(
    st.tuples(
        st.sampled_from(["running", "succeeded", "failed", "retry"]),
        st.sampled_from(["a", "b", "c", "d"]),
    ),
    max_size=40,
)


@given(operations)
def test_counters_and_status_always_agree_with_the_items(ops: list[tuple[str, str]]) -> None:
    b = batch(["a", "b", "c", "d"])
    for i, (operation, item) in enumerate(ops):
        at = AT + timedelta(seconds=i)
        before = b.request(item)
        try:
            if operation == "running":
                b.mark_running(item, at=at)
            elif operation == "succeeded":
                b.mark_succeeded(item, at=at)
            elif operation == "failed":
                b.mark_failed(item, "boom", at=at)
            else:
                b.retry_failed(at=at)
        except IllegalTransition:
            pass
        after = b.request(item)
        if before.status.finished and operation != "retry":
            assert after == before  # a finished item reopens only through retry_failed
        statuses = [r.status for r in b.requests.values()]
        counts = b.counts
        assert (
            counts.total == 4 == counts.pending + counts.running + counts.succeeded + counts.failed
        )
        assert counts.failed == statuses.count(RequestStatus.FAILED)
        assert counts.succeeded == statuses.count(RequestStatus.SUCCEEDED)
        assert counts.pending == statuses.count(RequestStatus.PENDING)
        assert (b.status is BatchStatus.RUNNING) == (counts.pending + counts.running > 0)
