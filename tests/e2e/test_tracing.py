"""The trace context through the whole stack: the ``traceparent`` sent to the ingest (or
written by the direct producer) reaches the receiver with the same trace id, on the first
attempt and on a retried one (after a tier hop), each attempt with a parent id of its own.
An event sent without one still reaches the receiver with a valid ``traceparent``.

The services export to a local OTLP sink (``OTEL_EXPORTER_OTLP_ENDPOINT``), which must
receive the ingest's, the router's and each attempt's span, linked into one trace."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

from bench.otlp_sink import OtlpSink, SunkSpan
from signet.producer import EventProducer
from signet.settings import CommonSettings
from tests.e2e.conftest import ServiceSettings, Stack
from tests.eventually import eventually
from tests.receiver import Received, Receiver, Reply

pytestmark = pytest.mark.timeout(180)

MakeReceiver = Callable[[], Awaitable[Receiver]]
TRACEPARENT = re.compile(r"^00-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-(?P<flags>\d\d)$")


@pytest.fixture(scope="module")
async def sink() -> AsyncIterator[OtlpSink]:
    async with OtlpSink() as running:
        yield running


@pytest.fixture(scope="module")
def stack_settings(sink: OtlpSink) -> Iterator[ServiceSettings]:
    # The children inherit this process's environment: the standard OTEL_* variables.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url)
        patch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")  # export within 0.2 s, not 5 s
        yield {"dispatcher": {"retry_delays_seconds": "[1]"}}


def new_traceparent() -> tuple[str, str, str]:
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def traceparent_of(received: Received) -> re.Match[str]:
    match = TRACEPARENT.match(received.headers.get("traceparent", ""))
    assert match is not None, received.headers
    return match


@dataclass(slots=True, frozen=True)
class Traced:
    """A workspace whose one destination takes every ``order.*`` event."""

    key: str  # the publishable key
    workspace_id: str
    token: str  # an admin session
    destination_id: str


async def workspace_with_destination(stack: Stack, url: str) -> Traced:
    workspace, token = await stack.admin_workspace("Traced")
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    status, created = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {"name": "Traced", "url": url, "event_types": ["order.*"], "secret": secret},
    )
    assert status == 201, created
    return Traced(str(workspace["publishable_key"]), workspace["id"], token, created["id"])


def of_event(receiver: Receiver, event_id: str) -> Callable[[], list[Received]]:
    return lambda: [r for r in receiver.requests if r.headers.get("webhook-id") == event_id]


async def emit(stack: Stack, key: str, n: int, headers: dict[str, str]) -> str:
    body = {"event": "order.completed", "resource": "order", "resource_id": f"ord_{n}"}
    async with stack.http.post(
        stack.ingest_url + "/v1/events",
        json={**body, "payload": {"n": n}},
        headers={"Authorization": f"Bearer {key}", **headers},
    ) as response:
        accepted = await response.json()
        assert response.status == 202, accepted
        return str(accepted["id"])


@dataclass(slots=True, frozen=True)
class Retried:
    receiver: Receiver
    event_id: str
    trace_id: str
    span_id: str
    attempts: list[re.Match[str]]


async def retried_event_joins_its_trace(stack: Stack, make_receiver: MakeReceiver) -> Retried:
    """An event sent with a sampled ``traceparent`` to a receiver that answers 500 first:
    both attempts carry its trace id, each with a parent of its own, still sampled."""
    receiver = await make_receiver()
    receiver.script(Reply(status=500, body=b"not yet"))
    key = (await workspace_with_destination(stack, receiver.url)).key
    sent, trace_id, span_id = new_traceparent()

    event_id = await emit(stack, key, 1, {"traceparent": sent, "tracestate": "vendor=kept"})

    def both_attempts() -> list[Received] | None:
        found = of_event(receiver, event_id)()
        return found if len(found) >= 2 else None

    first, retried = await eventually(both_attempts, "a failed attempt and its retry", 60)
    assert (first.status, retried.status) == (500, 200)
    attempts = [traceparent_of(first), traceparent_of(retried)]
    assert [a["trace"] for a in attempts] == [trace_id, trace_id]
    # Each attempt is a span of its own, under Signet's spans (not the caller's span).
    parents = {a["parent"] for a in attempts}
    assert len(parents) == 2 and span_id not in parents
    # The caller sampled the trace: the receiver is told so, exported or not.
    assert [int(a["flags"], 16) & 1 for a in attempts] == [1, 1]
    assert retried.headers.get("tracestate") == "vendor=kept"
    return Retried(receiver, event_id, trace_id, span_id, attempts)


async def test_the_receiver_joins_the_trace_sent_to_the_ingest_also_on_a_retry(
    stack: Stack, make_receiver: MakeReceiver, sink: OtlpSink
) -> None:
    joined = await retried_event_joins_its_trace(stack, make_receiver)
    receiver, event_id, attempts = joined.receiver, joined.event_id, joined.attempts
    trace_id, span_id = joined.trace_id, joined.span_id

    # What was exported: ingest → route → two attempts, each attempt the parent the
    # receiver was told.
    def exported() -> list[SunkSpan] | None:
        spans = sink.of_trace(trace_id)
        return spans if len(spans) >= 4 else None

    spans = await eventually(exported, lambda: f"spans: {sink.of_trace(trace_id)}", 30)
    [ingest] = [s for s in spans if s.service == "signet-ingest"]
    [route] = [s for s in spans if s.service == "signet-router"]
    tried = sorted(
        (s for s in spans if s.service == "signet-dispatcher"),
        key=lambda s: int(s.attributes["signet.attempt"]),
    )
    assert (ingest.name, ingest.kind, ingest.parent_span_id) == ("POST /v1/events", 2, span_id)
    assert ingest.attributes["http.request.method"] == "POST"
    assert ingest.attributes["http.route"] == "/v1/events"
    assert ingest.attributes["http.response.status_code"] == 202
    assert (route.kind, route.parent_span_id) == (5, ingest.span_id)
    assert route.attributes["signet.event.id"] == event_id
    assert [s.span_id for s in tried] == [a["parent"] for a in attempts]
    assert [s.parent_span_id for s in tried] == [route.span_id, route.span_id]
    assert [s.attributes["http.response.status_code"] for s in tried] == [500, 200]
    for attempt in tried:
        assert attempt.kind == 3 and attempt.name == "POST"
        assert attempt.attributes["url.full"] == receiver.url
        assert attempt.attributes["server.address"] == "127.0.0.1"
        assert attempt.attributes["http.request.method"] == "POST"
    assert tried[0].attributes["error.type"] == "500"
    assert tried[1].attributes["http.request.resend_count"] == 1


async def test_an_event_without_a_trace_is_delivered_with_a_trace_of_its_own(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    receiver = await make_receiver()
    key = (await workspace_with_destination(stack, receiver.url)).key

    one = await emit(stack, key, 2, {})
    two = await emit(stack, key, 3, {})

    (first,) = await eventually(of_event(receiver, one), "the first delivery", 30)
    (second,) = await eventually(of_event(receiver, two), "the second delivery", 30)
    traces = {traceparent_of(first)["trace"], traceparent_of(second)["trace"]}
    assert len(traces) == 2 and "0" * 32 not in traces


async def test_an_event_written_by_the_direct_producer_keeps_its_trace(
    stack: Stack, make_receiver: MakeReceiver, kafka_settings: CommonSettings
) -> None:
    receiver = await make_receiver()
    workspace_id = (await workspace_with_destination(stack, receiver.url)).workspace_id
    sent, trace_id, _ = new_traceparent()

    with EventProducer(kafka_settings) as producer:
        event_id = producer.emit(
            workspace_id,
            event="order.completed",
            resource="order",
            resource_id="ord_4",
            payload={"n": 4},
            traceparent=sent,
        )

    (delivered,) = await eventually(of_event(receiver, event_id), "the produced event", 30)
    assert traceparent_of(delivered)["trace"] == trace_id


async def test_a_test_event_is_in_the_trace_of_the_portal_request_that_sent_it(
    stack: Stack, make_receiver: MakeReceiver, sink: OtlpSink
) -> None:
    """Replays, recovers and test events are produced by the portal: each continues the
    trace of the request that asked for it (its ``traceparent``, or the portal's span)."""
    receiver = await make_receiver()
    traced = await workspace_with_destination(stack, receiver.url)
    sent, trace_id, span_id = new_traceparent()
    path = f"/v1/workspace/destinations/{traced.destination_id}/test"
    async with stack.http.post(
        stack.portal_url + path,
        json={},
        headers={"Authorization": f"Bearer {traced.token}", "traceparent": sent},
    ) as response:
        assert response.status in (200, 202), await response.text()

    def tested() -> list[Received]:
        return [r for r in receiver.requests if b'"signet.test"' in r.body]

    (delivered,) = await eventually(tested, "the test event", 30)
    attempt = traceparent_of(delivered)
    assert attempt["trace"] == trace_id and attempt["parent"] != span_id

    def portal_and_attempt() -> list[SunkSpan] | None:
        spans = sink.of_trace(trace_id)
        services = {span.service for span in spans}
        return spans if {"signet-portal", "signet-dispatcher"} <= services else None

    spans = await eventually(portal_and_attempt, lambda: f"spans: {sink.of_trace(trace_id)}", 30)
    [request] = [span for span in spans if span.service == "signet-portal"]
    assert request.name == "POST /v1/workspace/destinations/{destination_id}/test"
    assert request.parent_span_id == span_id


async def test_a_replay_links_the_trace_its_original_was_sent_in(
    stack: Stack, make_receiver: MakeReceiver, sink: OtlpSink
) -> None:
    """A replay is in the trace of the portal request that asked for it, under a
    ``signet.replay`` span linking the trace of the original delivery's first attempt."""
    receiver = await make_receiver()
    traced = await workspace_with_destination(stack, receiver.url)
    first_sent, first_trace, _ = new_traceparent()
    event_id = await emit(stack, traced.key, 7, {"traceparent": first_sent})
    [original] = await eventually(of_event(receiver, event_id), "the original delivery", 30)
    first_attempt = traceparent_of(original)

    async def logged() -> str | None:
        path = f"/v1/workspace/deliveries?destination_id={traced.destination_id}"
        status, page = await stack.workspace(traced.token, "GET", path)
        assert status == 200, page
        done = [d["id"] for d in page["data"] if d["status"] == "delivered"]
        return done[0] if done else None

    delivery_id = await eventually(logged, "the original delivery in the log", 30)
    replay_sent, replay_trace, _ = new_traceparent()
    async with stack.http.post(
        f"{stack.portal_url}/v1/workspace/deliveries/{delivery_id}/replay",
        headers={"Authorization": f"Bearer {traced.token}", "traceparent": replay_sent},
    ) as response:
        assert response.status == 202, await response.text()

    def replayed() -> list[Received] | None:
        found = of_event(receiver, event_id)()
        return found if len(found) == 2 else None

    _, again = await eventually(replayed, "the replay", 30)
    assert traceparent_of(again)["trace"] == replay_trace

    def replay_span() -> SunkSpan | None:
        spans = [s for s in sink.of_trace(replay_trace) if s.name == "signet.replay"]
        return spans[0] if spans else None

    span = await eventually(replay_span, lambda: f"spans: {sink.of_trace(replay_trace)}", 30)
    assert span.service == "signet-portal" and span.attributes["signet.deliveries"] == 1
    assert span.links == ((first_trace, first_attempt["parent"]),)
