"""Puts a delivery on the delay tier that fits its due time, and waits for the broker's ack.

Three callers: a failed attempt's next attempt (``attempt + 1``), a delivery deferred
without an attempt (its destination's queue was full), and a record a tier released
before its due time (a hop: the same record, on the tier that fits the time left). The
source offset completes only after this returns, so a retry is never only in memory.
Keyed by destination id, like ``deliveries``: a destination's retries share a partition
number with its fresh deliveries, so one consumer owns both (range assignment).
"""

from __future__ import annotations

import asyncio
import logging

from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.schedule import tier_for
from signet import codec
from signet.errors import BrokerError
from signet.ids import now_ms
from signet.kafka import AsyncProducer
from signet.records import Delivery
from signet.topics import RETRY_TIERS_SECONDS, Topics, tier_label

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 5.0


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
        backoff = 0.1
        while True:
            try:
                await self._producer.send(topic, value, key=delivery.destination_id)
                break
            except BrokerError as exc:
                log.warning("retry of %s not acknowledged (%s); retrying", delivery.id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        self._metrics.retries.labels(tier_label(tier), reason).inc()
        return tier
