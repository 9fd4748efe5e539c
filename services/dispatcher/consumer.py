"""Takes deliveries from Kafka, runs many at once, commits at the low-water mark.

confluent-kafka's consumer is driven from one dedicated thread (``consume``, ``commit``,
``close`` and therefore the rebalance callbacks all run there), so the event loop never
blocks on it. Each record becomes a task, up to ``max_in_flight`` at a time; an offset
is complete once its outcome or dead letter was acknowledged, and commits move to the
low-water mark of completed work (``offsets.py``). On revoke, what is done is committed
and the rest forgotten: the new owner redoes it (at-least-once, same ``webhook-id``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.offsets import Commit, OffsetTracker, Partition, Ticket
from signet.errors import BrokerError, SignetError
from signet.kafka import DeadLetterWriter
from signet.settings import DispatcherSettings
from signet.topics import Topics, kafka_client_config

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 5.0
T = TypeVar("T")


class RecordProcessor(Protocol):
    async def process(self, value: bytes | None) -> object: ...


class DeliveryConsumer:
    def __init__(
        self,
        settings: DispatcherSettings,
        processor: RecordProcessor,
        dead_letters: DeadLetterWriter,
        metrics: DispatcherMetrics,
        *,
        poll_timeout_seconds: float = 0.25,
        batch_size: int = 500,
    ) -> None:
        self._topic = Topics.from_settings(settings).deliveries
        session_ms = int(settings.consumer_session_timeout_seconds * 1000)
        self._conf: dict[str, Any] = {
            **kafka_client_config(settings),
            "group.id": settings.consumer_group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": max(100, min(3000, session_ms // 3)),
        }
        self._processor = processor
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._max_in_flight = settings.max_in_flight
        self._commit_interval = settings.commit_interval_seconds
        self._drain_timeout = settings.drain_timeout_seconds
        self._poll_timeout = poll_timeout_seconds
        self._batch_size = batch_size

        self._tracker = OffsetTracker()
        self._lock = threading.Lock()  # the tracker is shared with rebalance callbacks
        self._consumer: Consumer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._stopping = asyncio.Event()
        self._next_commit = 0.0
        self.subscribed = False
        self.processed = 0
        self.dead_lettered = 0

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._consumer is not None:
            return
        self._stopping.clear()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dispatcher-consumer")
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
        self._poller = asyncio.create_task(self._poll_loop(), name="dispatcher-poll")

    async def stop(self) -> None:
        """Stop polling, let in-flight deliveries finish (deadline), commit, leave the group."""
        consumer = self._consumer
        if consumer is None:
            return
        self._stopping.set()
        self._room.set()
        if self._poller is not None:
            await self._poller
            self._poller = None
        await self._drain()
        await self._commit()
        try:
            await self._in_thread(consumer.close)
        except KafkaException as exc:
            log.warning("closing the delivery consumer: %s", exc)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._consumer = self._executor = None
        self.subscribed = False
        log.info(
            "delivery consumer stopped: %d processed, %d dead-lettered",
            self.processed,
            self.dead_lettered,
        )

    async def _drain(self) -> None:
        if not self._tasks:
            return
        log.info("draining %d deliveries (up to %gs)", self.in_flight, self._drain_timeout)
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._drain_timeout)
        if pending:
            # Their offsets stay uncommitted: the deliveries are redone after the restart.
            log.warning("abandoning %d deliveries still running at the deadline", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- the poll loop -----------------------------------------------------------------

    async def _poll_loop(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            room = self._max_in_flight - len(self._tasks)
            if room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            try:
                await self._poll_once(room)
                backoff = 0.1
            except Exception as exc:  # the loop must outlive any one failure
                if isinstance(exc, KafkaException):
                    log.warning("consume failed: %s; retrying in %.1fs", exc, backoff)
                else:
                    log.exception("delivery poll loop failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _poll_once(self, room: int) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        messages = await self._in_thread(
            partial(consumer.consume, min(room, self._batch_size), self._poll_timeout)
        )
        for msg in messages:
            self._dispatch(msg)
        if time.monotonic() >= self._next_commit:
            await self._commit()

    def _dispatch(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            log.warning("delivery consumer: %s", err.str())
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
        if ticket is None:
            return  # fetched for a partition revoked meanwhile; its new owner has it
        task = asyncio.create_task(self._handle(msg, ticket))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.set()

    async def _handle(self, msg: Message, ticket: Ticket) -> None:
        try:
            await self._processor.process(msg.value())
            self.processed += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, SignetError):
                where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
                log.exception("unexpected error on %s; dead-lettering it", where)
            await self._dead_letter(msg, exc)
        with self._lock:
            self._tracker.complete(ticket)

    async def _dead_letter(self, msg: Message, error: Exception) -> None:
        backoff = 0.1
        while True:
            try:
                await self._dead_letters.write(msg, error)
                break
            except BrokerError as exc:
                log.warning("dead letter not acknowledged (%s); retrying", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        self.dead_lettered += 1
        self._metrics.dead_letters.labels(type(error).__name__).inc()

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
        with self._lock:
            self._tracker.assign(_keys(partitions))
        log.info("assigned %s", _describe(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            commits = self._tracker.revoke(_keys(partitions))
        if commits:
            try:
                consumer.commit(offsets=_topic_partitions(commits), asynchronous=False)
            except KafkaException as exc:
                log.warning("commit on revoke failed: %s", exc)
        log.info("revoked %s", _describe(partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self._tracker.lose(_keys(partitions))
        log.warning("lost %s (another member may own them now)", _describe(partitions))

    async def _in_thread(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


def _keys(partitions: list[TopicPartition]) -> list[Partition]:
    return [Partition(tp.topic, tp.partition) for tp in partitions]


def _topic_partitions(commits: list[Commit]) -> list[TopicPartition]:
    return [TopicPartition(c.topic, c.partition, c.offset) for c in commits]


def _describe(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
