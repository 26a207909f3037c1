"""Chunk and batch records: items only move forward, per attempt, whatever order outcomes
arrive in; retry and resume start new attempts; counts always agree with the items."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.batch_records import (
    MAX_ATTEMPTS,
    AttemptKind,
    BatchRecord,
    ChunkRecord,
    Workers,
)
from overlord.domain.batches import BatchStatus, RequestStatus
from overlord.domain.errors import Conflict, IllegalTransition
from overlord.services.batch_store import chunk_from_document, chunk_to_document, items_text

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
STEPS = ("fetch", "load")


def chunk(items: tuple[str, ...] = ("a", "b", "c")) -> ChunkRecord:
    return ChunkRecord.new("b-1", 0, items)


def step(c: ChunkRecord, position: int, attempt: int, results: dict[str, str | None]) -> int:
    return c.record_step(
        position, attempt, results, last=position == len(STEPS) - 1, started=AT, finished=AT
    )


def test_an_item_goes_through_each_step_once_and_fails_where_it_failed() -> None:
    c = chunk()
    assert step(c, 0, 0, {"a": None, "b": "no such order", "c": None}) == 3
    assert step(c, 1, 0, {"a": None, "c": None}) == 2
    views = {v.item_id: v for v in c.views(STEPS)}
    assert [views[i].status for i in "abc"] == [
        RequestStatus.SUCCEEDED,
        RequestStatus.FAILED,
        RequestStatus.SUCCEEDED,
    ]
    assert (views["b"].step, views["b"].error, views["b"].attempts) == ("fetch", "no such order", 1)
    assert (views["a"].step, views["a"].started_at, views["a"].finished_at) == ("load", AT, AT)
    assert c.counts() == {"pending": 0, "running": 0, "succeeded": 2, "failed": 1, "cancelled": 0}


def test_a_repeated_late_or_early_step_outcome_changes_nothing() -> None:
    c = chunk()
    assert step(c, 1, 0, {"a": None}) == 0  # step 2 before step 1: not waiting for it
    step(c, 0, 0, {"a": None, "b": None, "c": None})
    step(c, 1, 0, {"a": None, "b": "boom", "c": None})
    before = chunk_to_document(c)
    assert step(c, 1, 0, {"a": "late failure", "b": None}) == 0  # Step Functions retried
    assert step(c, 0, 0, {"a": "late failure"}) == 0
    assert chunk_to_document(c) == before


def test_an_outcome_of_an_older_attempt_never_overwrites_a_newer_one() -> None:
    c = chunk()
    step(c, 0, 0, {"a": None, "b": "boom", "c": None})
    assert c.retry_failed(1) == 1
    assert step(c, 0, 0, {"b": "the old attempt's late answer"}) == 0
    assert step(c, 0, 1, {"b": None}) == 1
    views = {v.item_id: v for v in c.views(STEPS)}
    assert (views["b"].status, views["b"].attempt, views["b"].attempts) == (
        RequestStatus.RUNNING,
        1,
        2,
    )


def test_a_retried_item_runs_again_from_the_step_that_failed_it() -> None:
    c = chunk(("a",))
    step(c, 0, 0, {"a": None})
    step(c, 1, 0, {"a": "flaky"})
    c.retry_failed(1)
    assert c.waiting_for(0, 1) == []
    assert c.waiting_for(1, 1) == [0]


def test_resuming_keeps_the_steps_an_item_completed() -> None:
    c = chunk(("a", "b"))
    step(c, 0, 0, {"a": None})  # b never ran: the process died
    assert c.resume(1) == 2
    assert c.waiting_for(0, 1) == [1]
    assert c.waiting_for(1, 1) == [0]


def test_cancel_spares_items_already_under_way_until_their_run_ends() -> None:
    c = chunk()
    step(c, 0, 0, {"a": None})
    assert c.cancel(started_too=False) == 2
    assert c.status == [RequestStatus.RUNNING, RequestStatus.CANCELLED, RequestStatus.CANCELLED]
    assert step(c, 0, 0, {"b": None}) == 0
    assert c.cancel(started_too=True) == 1
    assert set(c.status) == {RequestStatus.CANCELLED}


def test_a_chunk_record_round_trips_through_its_document() -> None:
    c = chunk()
    step(c, 0, 0, {"a": None, "b": "x" * 40, "c": None})
    c.retry_failed(1)
    step(c, 0, 1, {"b": "again"})
    assert chunk_from_document(chunk_to_document(c)) == c


@given(st.lists(st.text(st.characters(codec="utf-8")), max_size=5))
def test_a_chunks_item_ids_are_written_as_the_json_encoder_writes_them(ids: list[str]) -> None:
    assert items_text(ids) == json.dumps(ids, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("item", ['a"b', "a\\b", "a\nb", "a\x7fb", "\u2028", "é", ' ", "'])
def test_item_ids_with_quotes_escapes_or_unusual_characters_are_written_as_encoded(
    item: str,
) -> None:
    ids = ["plain", item]
    assert json.loads(items_text(ids)) == ids
    assert items_text(ids) == json.dumps(ids, ensure_ascii=False, separators=(",", ":"))


def record() -> BatchRecord:
    return BatchRecord(
        id="b-1",
        tenant="acme",
        connector="batch-manager",
        pipeline="default",
        steps=STEPS,
        batch_size=2,
        total_items=3,
        chunk_count=2,
        current_batch=0,
        workers=Workers.THREADS,
        request_digest="d",
        created_at=AT,
        updated_at=AT,
    )


@pytest.mark.parametrize(
    ("counts", "status"),
    [
        ({"pending": 1, "succeeded": 2}, BatchStatus.RUNNING),
        ({"running": 1}, BatchStatus.RUNNING),
        ({"succeeded": 3}, BatchStatus.SUCCEEDED),
        ({"succeeded": 2, "failed": 1}, BatchStatus.PARTIALLY_FAILED),
        ({"failed": 3}, BatchStatus.FAILED),
        ({"succeeded": 2, "cancelled": 1}, BatchStatus.CANCELLED),
    ],
)
def test_a_batch_status_follows_its_counts(counts: dict[str, int], status: BatchStatus) -> None:
    r = record()
    r.settle(counts, AT + timedelta(seconds=1))
    assert r.status is status
    assert (r.finished_at is not None) == (status is not BatchStatus.RUNNING)


def test_a_batch_has_a_bounded_number_of_attempts_and_a_cancelled_one_takes_no_more() -> None:
    r = record()
    for _ in range(MAX_ATTEMPTS):
        r.begin(AttemptKind.RETRY, chunks=1, items=1, at=AT)
    with pytest.raises(Conflict):
        r.begin(AttemptKind.RETRY, chunks=1, items=1, at=AT)
    cancelled = record()
    cancelled.request_cancel("stop", at=AT)
    with pytest.raises(IllegalTransition):
        cancelled.begin(AttemptKind.RESUME, chunks=1, items=1, at=AT)


outcome = st.tuples(
    st.integers(0, 1),  # step
    st.integers(0, 2),  # attempt
    st.sampled_from(["a", "b", "c", "d"]),
    st.one_of(st.none(), st.just("boom")),
)
action = st.one_of(outcome, st.sampled_from(["retry", "resume", "cancel"]))


@given(st.lists(action, max_size=40))
def test_whatever_arrives_items_only_move_forward_and_counts_match(ops: list[object]) -> None:
    c = chunk(("a", "b", "c", "d"))
    attempt = 0
    for op in ops:
        before = list(zip(c.status, c.rounds, c.reached, strict=True))
        if op == "retry":
            attempt = min(attempt + 1, 2)
            c.retry_failed(attempt)
            continue
        if op == "resume":
            attempt = min(attempt + 1, 2)
            c.resume(attempt)
            continue
        if op == "cancel":
            c.cancel(started_too=False)
            continue
        assert isinstance(op, tuple)
        position, at_attempt, item, error = op
        step(c, position, at_attempt, {item: error})
        for (status, rounds, reached), now_status, now_rounds, now_reached in zip(
            before, c.status, c.rounds, c.reached, strict=True
        ):
            assert now_rounds == rounds  # only retry/resume move an item to a new attempt
            assert now_reached >= reached
            if status.finished:
                assert now_status is status
    counts = c.counts()
    assert sum(counts.values()) == 4
    assert counts["succeeded"] == sum(1 for s in c.status if s is RequestStatus.SUCCEEDED)


@given(st.lists(action, max_size=30), st.integers(0, 1), st.integers(0, 2))
def test_a_step_for_the_whole_chunk_is_the_step_for_each_item_in_turn(
    ops: list[object], position: int, attempt: int
) -> None:
    """`record_step` changes a chunk whose items all moved on at once in bulk; that must be
    exactly what recording the same outcomes one item at a time does, from any state."""
    c = chunk(("a", "b", "c", "d"))
    for op in ops:  # any reachable state
        if op == "retry":
            c.retry_failed(1)
        elif op == "resume":
            c.resume(2)
        elif op == "cancel":
            c.cancel(started_too=False)
        else:
            assert isinstance(op, tuple)
            step(c, op[0], op[1], {op[2]: op[3]})
    whole = chunk_from_document(chunk_to_document(c))
    one_by_one = chunk_from_document(chunk_to_document(c))
    moved = step(whole, position, attempt, dict.fromkeys(c.item_ids))
    assert moved == sum(step(one_by_one, position, attempt, {i: None}) for i in c.item_ids)
    assert whole == one_by_one
