"""A job's id is its request, and its status only ever moves forward."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from overlord.domain.errors import IllegalTransition, InvalidInput, InvalidName
from overlord.domain.jobs import (
    MAX_PAYLOAD_DEPTH,
    TERMINAL,
    Job,
    JobId,
    JobStatus,
    canonical_json,
)
from overlord.domain.names import ConnectorName, TenantName

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
ACME, WEATHER = TenantName("acme"), ConnectorName("weather")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)
payloads = st.dictionaries(st.text(max_size=6), json_values, max_size=6)


def reordered(value: Any, rnd: random.Random) -> Any:
    """The same JSON value with every object's keys in a random order (lists keep theirs)."""
    if isinstance(value, dict):
        keys = list(value)
        rnd.shuffle(keys)
        return {key: reordered(value[key], rnd) for key in keys}
    if isinstance(value, list):
        return [reordered(item, rnd) for item in value]
    return value


def job_id(payload: Any, **changes: Any) -> JobId:
    request: dict[str, Any] = {"tenant": ACME, "connector": WEATHER, "job_type": "ingest"}
    request.update(changes)
    return Job.request(payload=payload, at=AT, **request).id


@given(payload=payloads, rnd=st.randoms(use_true_random=False))
def test_the_same_request_gets_the_same_id_whatever_its_key_order(
    payload: dict[str, Any], rnd: random.Random
) -> None:
    assert job_id(reordered(payload, rnd)) == job_id(payload)


@given(payload=payloads, key=st.text(max_size=6), value=json_values)
def test_adding_a_field_to_the_payload_changes_the_id(
    payload: dict[str, Any], key: str, value: Any
) -> None:
    if key in payload:
        return
    assert job_id({**payload, key: value}) != job_id(payload)


@given(first=json_values, second=json_values)
def test_changing_a_value_changes_the_id(first: Any, second: Any) -> None:
    if canonical_json(first) == canonical_json(second):
        return
    assert job_id({"window": first}) != job_id({"window": second})


@pytest.mark.parametrize(
    "changes",
    [
        {"tenant": TenantName("globex")},
        {"connector": ConnectorName("marketplace")},
        {"job_type": "process"},
        {"idempotency_key": "retry-1"},
        {"idempotency_key": ""},
    ],
)
def test_any_other_part_of_the_request_changes_the_id(changes: dict[str, Any]) -> None:
    assert job_id({"day": "2026-01-05"}, **changes) != job_id({"day": "2026-01-05"})


def test_parts_of_a_request_cannot_run_into_each_other() -> None:
    first = Job.request(
        tenant=TenantName("abc"), connector=ConnectorName("def"), job_type="gh", payload={}, at=AT
    )
    second = Job.request(
        tenant=TenantName("abcd"), connector=ConnectorName("efg"), job_type="h1", payload={}, at=AT
    )
    assert first.id != second.id


@given(st.one_of(st.integers(-(2**53), 2**53), st.integers(-(2**63) + 1, 2**63 - 1)))
@example(2**53)
@example(2**53 + 1)
@example(2**62)
def test_an_integer_and_a_float_get_the_same_id_exactly_when_they_are_equal(number: int) -> None:
    same = job_id({"n": number}) == job_id({"n": float(number)})
    assert same == (float(number) == number)


def test_one_and_one_point_zero_give_the_same_id_and_payload() -> None:
    job = Job.request(tenant=ACME, connector=WEATHER, job_type="ingest", payload={"n": 1.0}, at=AT)
    assert job.id == job_id({"n": 1})
    assert job.payload == {"n": 1}
    assert job_id({"n": 1.5}) != job_id({"n": 1})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinities_are_refused_even_when_nested(bad: float) -> None:
    with pytest.raises(InvalidInput, match=r"payload\.a\.b"):
        job_id({"a": {"b": bad}})
    with pytest.raises(InvalidInput, match=r"payload\.a\[1\]"):
        job_id({"a": [1, bad]})


@pytest.mark.parametrize("payload", [[1, 2], "text", None, 3, (("a", 1),)])
def test_a_payload_that_is_not_an_object_is_refused(payload: object) -> None:
    with pytest.raises(InvalidInput, match="JSON object"):
        job_id(payload)


@pytest.mark.parametrize("payload", [{1: "a"}, {"a": {None: 1}}, {"a": {1, 2}}, {"a": b"x"}])
def test_a_payload_that_is_not_json_is_refused(payload: object) -> None:
    with pytest.raises(InvalidInput):
        job_id(payload)


@pytest.mark.parametrize("payload", [{"a": "\ud800"}, {"\udfff": 1}, {"a": ["x\udc80y"]}])
def test_text_with_a_lone_surrogate_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="surrogate"):
        job_id(payload)


def test_nesting_is_refused_beyond_the_limit_however_deep() -> None:
    def nested(depth: int) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for _ in range(depth):
            value = {"a": value}
        return value

    job_id(nested(MAX_PAYLOAD_DEPTH - 1))
    for depth in (MAX_PAYLOAD_DEPTH, 5000):
        with pytest.raises(InvalidInput, match="nested deeper"):
            job_id(nested(depth))


def test_a_job_type_must_be_a_slug() -> None:
    with pytest.raises(InvalidName):
        job_id({}, job_type="../ingest")


def test_a_job_id_is_a_32_character_hex_digest() -> None:
    assert len(job_id({}).value) == 32
    with pytest.raises(InvalidName):
        JobId("not-a-digest")


# --- the forward-only lifecycle ---------------------------------------------------------------

STATUSES = list(JobStatus)
NON_TERMINAL_AFTER_SUBMIT = [
    JobStatus.SUBMITTED,
    JobStatus.PENDING,
    JobStatus.RUNNABLE,
    JobStatus.STARTING,
    JobStatus.RUNNING,
]


def new_job() -> Job:
    return Job.request(tenant=ACME, connector=WEATHER, job_type="ingest", payload={}, at=AT)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.sampled_from(STATUSES), st.integers(-1, 3)),
        st.tuples(st.just("cancel")),
        st.tuples(st.just("mark_submitted")),
        st.tuples(st.just("mark_submit_failed")),
    ),
    max_size=30,
)


def apply(job: Job, operation: tuple[Any, ...], at: datetime) -> None:
    name = operation[0]
    try:
        if name == "advance":
            job.advance(operation[1], at=at, attempt=operation[2])
        elif name == "cancel":
            job.cancel("stopped by user", at=at)
        elif name == "mark_submitted":
            job.mark_submitted("backend-1", at=at)
        else:
            job.mark_submit_failed("queue missing", at=at)
    except IllegalTransition:
        pass


@given(operations)
def test_no_sequence_of_calls_moves_a_job_backwards_or_out_of_a_terminal_state(
    ops: list[tuple[Any, ...]],
) -> None:
    job = new_job()
    for i, operation in enumerate(ops):
        before = (job.attempt, job.status.rank)
        was_terminal = job.status if job.status in TERMINAL else None
        apply(job, operation, AT + timedelta(seconds=i))
        assert (job.attempt, job.status.rank) >= before
        if was_terminal is not None:
            assert job.status is was_terminal
            assert job.attempt == before[0]


@st.composite
def valid_event_sequences(draw: st.DrawFn) -> list[tuple[JobStatus, int]]:
    """What a backend may report: attempts in order, each climbing through some statuses,
    the last one possibly finishing."""
    events: list[tuple[JobStatus, int]] = []
    attempts = draw(st.integers(1, 3))
    for attempt in range(attempts):
        climb = draw(st.lists(st.sampled_from(NON_TERMINAL_AFTER_SUBMIT), unique=True))
        events += [(status, attempt) for status in sorted(climb, key=lambda s: s.rank)]
    end = draw(st.sampled_from([None, JobStatus.SUCCEEDED, JobStatus.FAILED]))
    if end is not None:
        events.append((end, attempts - 1))
    return events


@given(events=valid_event_sequences(), rnd=st.randoms(use_true_random=False))
def test_any_order_and_duplication_of_valid_events_ends_in_the_same_state(
    events: list[tuple[JobStatus, int]], rnd: random.Random
) -> None:
    in_order = new_job()
    for status, attempt in events:
        in_order.advance(status, at=AT, attempt=attempt)

    delivered = events + [rnd.choice(events) for _ in range(len(events))] if events else []
    rnd.shuffle(delivered)
    shuffled = new_job()
    for status, attempt in delivered:
        shuffled.advance(status, at=AT, attempt=attempt)

    assert (shuffled.status, shuffled.attempt) == (in_order.status, in_order.attempt)


def test_a_late_running_event_never_reopens_a_finished_job() -> None:
    job = new_job()
    job.mark_submitted("backend-1", at=AT)
    assert job.advance(JobStatus.SUCCEEDED, at=AT)
    assert not job.advance(JobStatus.RUNNING, at=AT, attempt=5)
    assert job.status is JobStatus.SUCCEEDED


def test_a_duplicated_event_reports_no_change() -> None:
    job = new_job()
    assert job.advance(JobStatus.RUNNING, at=AT)
    assert not job.advance(JobStatus.RUNNING, at=AT)


def test_a_finished_job_cannot_be_cancelled_or_submitted_again() -> None:
    job = new_job()
    job.mark_submitted("backend-1", at=AT)
    with pytest.raises(IllegalTransition):
        job.mark_submitted("backend-2", at=AT)
    job.cancel("no longer needed", at=AT)
    assert job.status is JobStatus.CANCELLED
    assert job.status_reason == "no longer needed"
    with pytest.raises(IllegalTransition):
        job.cancel("again", at=AT)


def test_updated_at_never_goes_back_when_events_arrive_late() -> None:
    job = new_job()
    job.advance(JobStatus.RUNNING, at=AT + timedelta(minutes=5))
    job.advance(JobStatus.SUCCEEDED, at=AT + timedelta(minutes=1))
    assert job.updated_at == AT + timedelta(minutes=5)
