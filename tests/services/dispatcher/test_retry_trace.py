"""A retry-tier record carries the trace of the record it follows (pure: the scheduler
with a producer that records what it is given). The consumer works on each record inside
:func:`signet.tracing.continued` of its headers, so the next attempt, a hop to a later
tier, a busy deferral and a rate-limit wait all stay in the event's trace; through the
whole stack: tests/e2e/test_tracing.py."""

from __future__ import annotations

from typing import Any, cast

from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.retry import RetryScheduler
from signet import tracing
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Delivery

TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Recorded:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, topic: str, value: bytes, **kwargs: Any) -> None:
        self.sent.append({"topic": topic, "value": value, **kwargs})


def delivery(attempt: int) -> Delivery:
    return Delivery(
        id="dlv_1",
        event_id="evt_1",
        workspace_id="ws_1",
        destination_id="dst_1",
        event_type="order.completed",
        body=b"{}",
        attempt=attempt,
        due_at=0,
        event_created_at=0,
    )


async def test_every_tier_record_keeps_the_trace_it_was_scheduled_in() -> None:
    producer = Recorded()
    scheduler = RetryScheduler(cast(AsyncProducer, producer), Topics(), DispatcherMetrics())
    headers = [("traceparent", TRACEPARENT), ("tracestate", b"vendor=kept")]

    with tracing.continued(headers):
        for reason in ("failed", "hop", "busy", "rate_limited"):
            await scheduler.schedule(delivery(2), reason=reason)
    await scheduler.schedule(delivery(3), reason="failed")  # outside any trace

    traced, untraced = producer.sent[:4], producer.sent[4]
    assert [dict(r["headers"]) for r in traced] == [dict(headers)] * 4
    assert untraced["headers"] == []
    assert codec.decode(traced[0]["value"], Delivery).attempt == 2
