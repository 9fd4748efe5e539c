"""Tracing with nothing exported (no ``OTEL_*`` settings, the default): the receiver
still joins the trace sent to the ingest, on the first attempt and on the retry, and an
event sent without one still gets a ``traceparent`` (the spans have real ids)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ServiceSettings, Stack
from tests.e2e.test_tracing import (
    MakeReceiver,
    emit,
    of_event,
    retried_event_joins_its_trace,
    traceparent_of,
    workspace_with_destination,
)
from tests.eventually import eventually

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def stack_settings() -> Iterator[ServiceSettings]:
    # Whatever this process's environment says, the services get no OTEL_* variable.
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("OTEL_")]:
            patch.delenv(name)
        yield {"dispatcher": {"retry_delays_seconds": "[1]"}}


async def test_the_trace_is_joined_without_an_exporter(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    await retried_event_joins_its_trace(stack, make_receiver)

    receiver = await make_receiver()
    key = (await workspace_with_destination(stack, receiver.url)).key
    event_id = await emit(stack, key, 9, {})
    (delivered,) = await eventually(of_event(receiver, event_id), "an untraced event", 30)
    traceparent = traceparent_of(delivered)
    assert traceparent["trace"] != "0" * 32 and traceparent["parent"] != "0" * 16
    assert int(traceparent["flags"], 16) & 1 == 0  # not sampled: nothing records it
