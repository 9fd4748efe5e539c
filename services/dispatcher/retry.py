"""Puts a delivery on the delay tier that fits its due time, and waits for the broker's ack.

Three callers: a failed attempt's next attempt (``attempt + 1``), a delivery deferred
without an attempt (its destination's queue was full), and a record a tier released
before its due time (a hop: the same record, on the tier that fits the time left). The
source offset completes only after this returns, so a retry is never only in memory.
Keyed by destination id, like ``deliveries``: a destination's retries share a partition
number with its fresh deliveries, so one consumer owns both (range assignment). The
record carries the trace context of the one it follows (``traceparent``, from the
consumer's :func:`signet.tracing.continued`), so every hop and attempt stays in its trace.
"""

from __future__ import annotations

import logging
from functools import partial

from signet_sdk.ids import now_ms

from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.schedule import tier_for
from signet import tracing
from signet.backoff import retry_until_done
from signet.errors import BrokerError
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import RETRY_TIERS_SECONDS, Topics, tier_label
from signet.records import codec
from signet.records.model import Delivery

logger = logging.getLogger(__name__)


class RetryScheduler:
    def __init__(
        self,
        producer: AsyncProducer,
        topics: Topics,
        metrics: DispatcherMetrics,
        tiers: tuple[int, ...] = RETRY_TIERS_SECONDS,
    ) -> None:
        self._producer = producer
        self._topics = topics
        self._metrics = metrics
        self._tiers = tiers

    async def schedule(self, delivery: Delivery, *, reason: str) -> int:
        """Produce ``delivery`` to its tier (acknowledged); the tier's delay in seconds."""
        tier = tier_for(max(0, delivery.due_at - now_ms()) / 1000, self._tiers)
        topic = self._topics.retry(tier)
        value = codec.encode(delivery)
        await retry_until_done(
            partial(
                self._producer.send,
                topic,
                value,
                key=delivery.destination_id,
                headers=tracing.record_headers(),
            ),
            retry_on=BrokerError,
            on_retry=lambda exc, _: logger.warning(
                "retry of %s not acknowledged (%s); retrying", delivery.id, exc
            ),
        )
        self._metrics.retries.labels(tier_label(tier), reason).inc()
        return tier
