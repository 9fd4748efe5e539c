"""From a validated event to an acknowledged record on ``signet.events``.

``EventIntake.accept`` gives the event its id (derived from the idempotency key, else
fresh), produces it keyed by workspace id (murmur2, co-partitioned with the router's
config table) and returns only once the broker acknowledged it with acks=all. Produces are
bounded across all requests (``max_in_flight_events``), and the wait for a slot counts
against the same deadline as the acknowledgement, so an overloaded or unreachable broker
turns into a prompt, retriable :class:`signet.errors.BrokerError` (→ 503), not a pile-up.

A 503 means "maybe not written": the record may still reach the broker after the
deadline. Clients retry with the same idempotency key and get the same event id.

The record's headers carry the request's trace context (``traceparent``), which the
router and the dispatcher continue (``signet/tracing.py``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from signet_sdk.contract.events import EventInput, EventSource

from services.ingest.idempotency import IdempotencyCache
from services.ingest.metrics import IngestMetrics
from signet import tracing
from signet.errors import BrokerError
from signet.kafka.clients import AsyncProducer
from signet.records import codec
from signet.records.model import Event


@dataclass(slots=True, frozen=True)
class Accepted:
    event_id: str
    replayed: bool


class EventIntake:
    def __init__(
        self,
        producer: AsyncProducer,
        topic: str,
        idempotency: IdempotencyCache,
        metrics: IngestMetrics,
        *,
        timeout_seconds: float,
        max_in_flight: int,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._idempotency = idempotency
        self._metrics = metrics
        self._timeout = timeout_seconds
        self._slots = asyncio.Semaphore(max_in_flight)

    async def accept(self, workspace_id: str, item: EventInput) -> Accepted:
        """Produce ``item`` for ``workspace_id`` (once per idempotency key) and await the ack."""
        event_id = item.event_id(workspace_id)

        async def produce() -> None:
            record = item.to_record(workspace_id, event_id=event_id, source=EventSource.HTTP)
            await self._publish(Event(**record))

        if item.idempotency_key is None:
            await produce()
            return Accepted(event_id, replayed=False)
        replayed = await self._idempotency.once(
            workspace_id, item.idempotency_key, item.fingerprint(), produce
        )
        if replayed:
            self._metrics.idempotent_replays.inc()
        return Accepted(event_id, replayed)

    async def _publish(self, event: Event) -> None:
        value = codec.encode(event)
        key = event.workspace_id
        started = time.perf_counter()
        result = "error"
        try:
            async with asyncio.timeout(self._timeout):
                async with self._slots:
                    await self._producer.send(
                        self._topic, value, key=key, headers=tracing.record_headers()
                    )
            result = "ok"
        except TimeoutError as exc:
            raise BrokerError(f"the broker did not acknowledge within {self._timeout:g}s") from exc
        finally:
            self._metrics.produced[result].observe(time.perf_counter() - started)
