"""Reads ``signet.outcomes`` in the ``signet-alerter`` group; commits at the low-water mark.

confluent-kafka's consumer runs on one dedicated thread, and every record is tracked and
committed at the low-water mark (``signet.kafka.consumer.LowWaterConsumer``, shared with the
dispatcher). Each record is handed to the sink with a completion handle; the sink
completes it when the record's work is durable: at once for an outcome that is not an
alert, after Slack took the alert (or it was dead-lettered) otherwise, and for a folded
alert only when its digest went out. A partition's commit position never passes an
incomplete offset, so a crash redoes work and never skips it.

Flow control without stalling the group: when the sink has no room for more alerts, or
too many offsets are held back behind an incomplete one, the assigned partitions are
paused and ``consume`` keeps being called (so rebalances and ``max.poll.interval.ms``
are served) until there is room again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from confluent_kafka import Consumer, Message

from signet.kafka.consumer import LowWaterConsumer, RecordingGate, poll_until_stopped
from signet.kafka.health import ClientState
from signet.kafka.metrics import KafkaMetrics
from signet.kafka.offsets import Partition, Ticket
from signet.kafka.topics import BATCHING_FETCH, Topics
from signet.settings import AlerterSettings

logger = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class ConsumedRecord:
    """One outcome record and the handle that marks its offset complete."""

    msg: Message
    partition: Partition
    _complete: Callable[[], None]

    def complete(self) -> None:
        """Its work is durable; the offset may be committed. Idempotent."""
        self._complete()


class OutcomeSink(Protocol):
    """What the consumer feeds (``services.alerter.alerts.AlertPipeline``)."""

    @property
    def room(self) -> int: ...

    def accept(self, record: ConsumedRecord) -> None: ...

    def forget(self, partitions: frozenset[Partition]) -> None: ...

    def relieve(self) -> None: ...

    async def drain(self) -> None: ...


class OutcomeConsumer:
    def __init__(
        self,
        settings: AlerterSettings,
        sink: OutcomeSink,
        kafka_metrics: KafkaMetrics,
        *,
        poll_timeout_seconds: float = 0.25,
        batch_size: int = 500,
        gate: RecordingGate | None = None,
    ) -> None:
        """``gate``: shut while dead letters or commits cannot be recorded; no new
        outcomes are taken meanwhile (``signet.kafka.consumer.RecordingGate``)."""
        self._topic = Topics.from_settings(settings).outcomes
        self._offsets = LowWaterConsumer(
            settings,
            kafka_metrics,
            name="outcome consumer",
            thread_name="alerter-consumer",
            logger=logger,
            on_assigned=self._assigned,
            on_released=self._drop,
            gate=gate,
            **BATCHING_FETCH,  # an alert may wait a fetch's 200 ms
        )
        self._sink = sink
        self._max_held = settings.max_held_offsets
        self._poll_timeout = poll_timeout_seconds
        self._batch_size = batch_size

        # The newest ticket per partition: its state's position against its offset tells
        # how many offsets are held back behind the oldest incomplete one. Guarded by the
        # offsets' lock, as rebalance callbacks change it.
        self._newest: dict[Partition, Ticket] = {}
        self._poller: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._paused = False
        self.subscribed = False
        self.consumed = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._offsets.consumer is not None:
            return
        self._stopping.clear()
        await self._offsets.start([self._topic])
        self.subscribed = True
        self._poller = asyncio.create_task(self._poll_loop(), name="alerter-poll")

    async def stop(self) -> None:
        """Stop consuming, let the sink drain (send pending digests), commit, leave."""
        if self._offsets.consumer is None:
            return
        self._stopping.set()
        if self._poller is not None:
            await self._poller
            self._poller = None
        await self._sink.drain()
        await self._offsets.commit()
        await self._offsets.close()
        self.subscribed = False
        logger.info("outcome consumer stopped after %d records", self.consumed)

    @property
    def client_state(self) -> ClientState:
        """The consumer client's fatal state (the service's ``KafkaHealth`` watches it)."""
        return self._offsets.state

    # -- the poll loop -----------------------------------------------------------------

    async def _poll_loop(self) -> None:
        await poll_until_stopped(
            self._take_more, stopping=self._stopping, what="outcome consumer", logger=logger
        )

    async def _take_more(self) -> None:
        """One turn of the poll loop: wait while nothing could be recorded, else poll."""
        if not await self._offsets.wait_until_recordable(self._stopping):
            await self._poll_once()

    async def _poll_once(self) -> None:
        consumer = self._offsets.consumer
        if consumer is None:
            return
        held = self.held
        if held > self._max_held:
            self._sink.relieve()  # folds go out early, their offsets complete
        room = self._sink.room if held <= self._max_held else 0
        await self._flow(consumer, pause=room <= 0)
        batch = max(1, min(room, self._batch_size))

        def consume() -> list[Message]:
            messages = consumer.consume(batch, self._poll_timeout)
            self._offsets.count(messages)
            return messages

        messages = await self._offsets.in_thread(consume)
        for msg in messages:
            self._take(msg)
        await self._offsets.commit_if_due()

    async def _flow(self, consumer: Consumer, *, pause: bool) -> None:
        in_thread = self._offsets.in_thread
        if pause:
            # Every time while paused: a rebalance may have assigned fresh partitions.
            await in_thread(lambda: consumer.pause(consumer.assignment()))
            if not self._paused:
                logger.debug("paused (alerts in flight at the limit, %d offsets held)", self.held)
        elif self._paused:
            await in_thread(lambda: consumer.resume(consumer.assignment()))
            logger.debug("resumed")
        self._paused = pause

    def _take(self, msg: Message) -> None:
        tracked = self._offsets.track(msg)
        if tracked is None:
            return
        key, ticket = tracked
        with self._offsets.lock:
            self._newest[key] = ticket
        self.consumed += 1
        self._sink.accept(ConsumedRecord(msg, key, partial(self._offsets.complete, ticket)))

    @property
    def held(self) -> int:
        """Offsets read but not committable yet, across partitions."""
        with self._offsets.lock:
            total = 0
            for ticket in self._newest.values():
                position = ticket.state.position
                if position is not None:
                    total += max(0, ticket.offset + 1 - position)
            return total

    # -- rebalances: on the consumer thread, under the offsets' lock ----------------------

    def _assigned(self, keys: list[Partition]) -> None:
        for key in keys:
            self._newest.pop(key, None)

    def _drop(self, keys: list[Partition]) -> None:
        """Forget folds of partitions we no longer own: their new owner reads them again."""
        for key in keys:
            self._newest.pop(key, None)
        self._offsets.call_soon(self._sink.forget, frozenset(keys))
