"""Reads ``signet.outcomes`` in the ``signet-alerter`` group; commits at the low-water mark.

confluent-kafka's consumer runs on one dedicated thread (``consume``, ``commit``,
``close`` and so the rebalance callbacks all run there); the event loop never blocks on
it. Every record is tracked (``OffsetTracker``, shared with the dispatcher) and handed to
the sink with a completion handle; the sink completes it when the record's work is
durable: at once for an outcome that is not an alert, after Slack took the alert (or it
was dead-lettered) otherwise, and for a folded alert only when its digest went out. A
partition's commit position never passes an incomplete offset, so a crash redoes work
and never skips it.

Flow control without stalling the group: when the sink has no room for more alerts, or
too many offsets are held back behind an incomplete one, the assigned partitions are
paused and ``consume`` keeps being called (so rebalances and ``max.poll.interval.ms``
are served) until there is room again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from signet.kafka_metrics import ConsumerMeter, KafkaMetrics
from signet.offsets import Commit, OffsetTracker, Partition, Ticket
from signet.settings import AlerterSettings
from signet.topics import Topics, kafka_client_config

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 5.0
T = TypeVar("T")


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
    ) -> None:
        self._topic = Topics.from_settings(settings).outcomes
        session_ms = int(settings.consumer_session_timeout_seconds * 1000)
        conf: dict[str, Any] = {
            **kafka_client_config(settings),
            "group.id": settings.consumer_group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": max(100, min(3000, session_ms // 3)),
        }
        # Lag and records consumed per topic, measured on the consumer's thread.
        self._meter = ConsumerMeter(
            kafka_metrics, conf, interval_seconds=settings.consumer_lag_interval_seconds
        )
        self._conf = self._meter.consumer_config
        self._sink = sink
        self._commit_interval = settings.commit_interval_seconds
        self._max_held = settings.max_held_offsets
        self._poll_timeout = poll_timeout_seconds
        self._batch_size = batch_size

        self._tracker = OffsetTracker()
        self._lock = threading.Lock()  # the tracker is shared with rebalance callbacks
        # The newest ticket per partition: its state's position against its offset tells
        # how many offsets are held back behind the oldest incomplete one.
        self._newest: dict[Partition, Ticket] = {}
        self._consumer: Consumer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._paused = False
        self._next_commit = 0.0
        self.subscribed = False
        self.consumed = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._consumer is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="alerter-consumer")
        self._consumer = Consumer(self._conf)
        await self._in_thread(
            partial(
                self._consumer.subscribe,
                [self._topic],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
        )
        self.subscribed = True
        self._poller = asyncio.create_task(self._poll_loop(), name="alerter-poll")

    async def stop(self) -> None:
        """Stop consuming, let the sink drain (send pending digests), commit, leave."""
        consumer = self._consumer
        if consumer is None:
            return
        self._stopping.set()
        if self._poller is not None:
            await self._poller
            self._poller = None
        await self._sink.drain()
        await self._commit()
        try:
            await self._in_thread(consumer.close)
        except KafkaException as exc:
            log.warning("closing the outcome consumer: %s", exc)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._consumer = self._executor = None
        self._meter.close()
        self.subscribed = False
        log.info("outcome consumer stopped after %d records", self.consumed)

    # -- the poll loop -----------------------------------------------------------------

    async def _poll_loop(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                await self._poll_once()
                backoff = 0.1
            except Exception as exc:  # the loop must outlive any one failure
                if isinstance(exc, KafkaException):
                    log.warning("consume failed: %s; retrying in %.1fs", exc, backoff)
                else:
                    log.exception("outcome poll loop failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _poll_once(self) -> None:
        consumer = self._consumer
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
            self._meter.count(messages)
            return messages

        messages = await self._in_thread(consume)
        for msg in messages:
            self._take(msg)
        if time.monotonic() >= self._next_commit:
            await self._commit()

    async def _flow(self, consumer: Consumer, *, pause: bool) -> None:
        if pause:
            # Every time while paused: a rebalance may have assigned fresh partitions.
            await self._in_thread(lambda: consumer.pause(consumer.assignment()))
            if not self._paused:
                log.debug("paused (alerts in flight at the limit, %d offsets held)", self.held)
        elif self._paused:
            await self._in_thread(lambda: consumer.resume(consumer.assignment()))
            log.debug("resumed")
        self._paused = pause

    def _take(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            log.warning("outcome consumer: %s", err.str())
            return
        key = Partition(msg.topic() or "", msg.partition() or 0)
        offset = msg.offset() or 0
        with self._lock:
            try:
                ticket = self._tracker.track(key, offset)
            except ValueError:
                # The consumer went back within one assignment (an offset reset): start
                # the partition afresh; what was in flight there is redone, never skipped.
                log.warning(
                    "%s[%d] rewound to %d; tracking it afresh", key.topic, key.partition, offset
                )
                self._tracker.assign([key])
                ticket = self._tracker.track(key, offset)
            if ticket is not None:
                self._newest[key] = ticket
        if ticket is None:
            return  # fetched for a partition revoked meanwhile; its new owner has it
        self.consumed += 1
        self._sink.accept(ConsumedRecord(msg, key, partial(self._complete, ticket)))

    def _complete(self, ticket: Ticket) -> None:
        with self._lock:
            self._tracker.complete(ticket)

    @property
    def held(self) -> int:
        """Offsets read but not committable yet, across partitions."""
        with self._lock:
            total = 0
            for ticket in self._newest.values():
                position = ticket.state.position
                if position is not None:
                    total += max(0, ticket.offset + 1 - position)
            return total

    # -- commits and rebalances ----------------------------------------------------------

    async def _commit(self) -> None:
        self._next_commit = time.monotonic() + self._commit_interval
        consumer = self._consumer
        with self._lock:
            commits = self._tracker.uncommitted()
        if consumer is None or not commits:
            return
        try:
            await self._in_thread(
                partial(consumer.commit, offsets=_topic_partitions(commits), asynchronous=False)
            )
        except KafkaException as exc:
            log.warning("offset commit failed (will retry): %s", exc)
            return
        with self._lock:
            self._tracker.mark_committed(commits)

    # The three callbacks run on the consumer thread, inside consume() or close().

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        with self._lock:
            self._tracker.assign(keys)
            for key in keys:
                self._newest.pop(key, None)
        log.info("assigned %s", _describe(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        with self._lock:
            commits = self._tracker.revoke(keys)
            self._drop(keys)
        if commits:
            try:
                consumer.commit(offsets=_topic_partitions(commits), asynchronous=False)
            except KafkaException as exc:
                log.warning("commit on revoke failed: %s", exc)
        log.info("revoked %s", _describe(partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        with self._lock:
            self._tracker.lose(keys)
            self._drop(keys)
        log.warning("lost %s (another member may own them now)", _describe(partitions))

    def _drop(self, keys: list[Partition]) -> None:
        """Forget folds of partitions we no longer own: their new owner reads them again."""
        for key in keys:
            self._newest.pop(key, None)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._sink.forget, frozenset(keys))

    async def _in_thread(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


def _keys(partitions: list[TopicPartition]) -> list[Partition]:
    return [Partition(tp.topic, tp.partition) for tp in partitions]


def _topic_partitions(commits: list[Commit]) -> list[TopicPartition]:
    return [TopicPartition(c.topic, c.partition, c.offset) for c in commits]


def _describe(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
