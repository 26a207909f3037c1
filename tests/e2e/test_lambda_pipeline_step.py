"""``pipeline_step_handler`` fed whatever a misconfigured state machine or a direct invoke could
send: a malformed call is refused with a domain error (the state machine records it as the
chunk's failure) and never crashes the handler or writes anything."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlord.container import Container
from overlord.domain.errors import OverlordError
from overlord.entrypoints.lambdas import LambdaHandlers
from overlord.testing import provisioned_memory_container

BODY = {"batchId": "b-1", "totalItems": 2, "batchSize": 1, "currentBatch": 0, "itemIds": ["a", "b"]}
GOOD = {
    "pipeline": "p",
    "step": "process-task-1",
    "execution": "e",
    "chunk": 0,
    "tenant": "acme",
    "connector": "batch-manager",
    "batch_id": "b-1",
    "attempt": 0,
}


@pytest.fixture(scope="module")
def container() -> Container:
    container = provisioned_memory_container("acme", "batch-manager")
    container.batches().start("acme", "batch-manager", BODY)
    return container


def test_a_repeated_step_call_runs_nothing_and_says_so(container: Container) -> None:
    assert LambdaHandlers(container).pipeline_step(dict(GOOD)) == {
        "chunk": 0,
        "step": "process-task-1",
        "ran": 0,
        "succeeded": 0,
        "failed": 0,
    }


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.text(max_size=6))
events = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from([*sorted(GOOD), "action", "items", "outcomes"]), scalars),
    st.builds(
        lambda changes: {**GOOD, **changes},
        st.dictionaries(st.sampled_from([*sorted(GOOD), "action"]), scalars, max_size=2),
    ),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(event=events)
def test_a_malformed_call_is_a_domain_error_and_changes_no_record(
    container: Container, event: object
) -> None:
    store = container.document_store()
    before = store.find("overlord-acme", "requests")
    try:
        LambdaHandlers(container).pipeline_step(event)
    except OverlordError:
        pass
    assert store.find("overlord-acme", "requests") == before
