"""Takes deliveries and retries from Kafka, runs many at once, commits at the low-water mark.

One consumer reads ``deliveries`` and every retry tier. With range assignment and equal
partition counts, partition ``p`` of every one of those topics lands on the same member,
so all the attempts of a destination (keyed by its id) meet the same circuit breaker,
in-flight cap and health record.

A fresh delivery becomes a task at once, up to ``max_pending`` unfinished at a time. A
retry is held in memory (``release.py``) until its release time; a full hold pauses its
partition while the rest keep flowing. Either way an offset is complete only once its
outcome, its next retry or its dead letter was acknowledged, and commits move to the
low-water mark of completed work (``offsets.py``), so held retries are never lost: a
crash or SIGTERM leaves them uncommitted, and the next owner reads them again.

confluent-kafka's consumer is driven from one dedicated thread (``consume``, ``commit``,
``pause``/``resume``, ``close`` and therefore the rebalance callbacks all run there), so
the event loop never blocks on it. On revoke, what is done is committed and the rest
forgotten: the new owner redoes it (at-least-once, same ``webhook-id``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.release import RetryReleaser
from signet.errors import BrokerError, SignetError
from signet.kafka import DeadLetterWriter
from signet.kafka_metrics import ConsumerMeter
from signet.offsets import Commit, OffsetTracker, Partition, Ticket
from signet.records import Delivery
from signet.settings import DispatcherSettings
from signet.topics import RETRY_TIERS_SECONDS, Topics, kafka_client_config

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 5.0
T = TypeVar("T")


class RecordProcessor(Protocol):
    async def process(self, value: bytes | None) -> object: ...

    async def handle(self, delivery: Delivery) -> object: ...

    async def forward(self, delivery: Delivery) -> None: ...


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
        topics = Topics.from_settings(settings)
        self._topic = topics.deliveries
        tiers = {topics.retry(seconds): seconds for seconds in RETRY_TIERS_SECONDS}
        session_ms = int(settings.consumer_session_timeout_seconds * 1000)
        conf: dict[str, Any] = {
            **kafka_client_config(settings),
            "group.id": settings.consumer_group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": max(100, min(3000, session_ms // 3)),
            # Co-locates partition p of deliveries and of every tier (module docstring).
            "partition.assignment.strategy": "range",
            # Tansu answers a fetch only at this deadline: it bounds how late a record is seen.
            "fetch.wait.max.ms": settings.fetch_wait_max_ms,
        }
        # Lag and records consumed per topic, measured on the consumer's thread.
        self._meter = ConsumerMeter(
            metrics.kafka, conf, interval_seconds=settings.consumer_lag_interval_seconds
        )
        self._conf = self._meter.consumer_config
        self._processor = processor
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._max_pending = settings.max_pending
        self._commit_interval = settings.commit_interval_seconds
        self._drain_timeout = settings.drain_timeout_seconds
        self._poll_timeout = poll_timeout_seconds
        self._batch_size = batch_size

        self._tracker = OffsetTracker()
        self._lock = threading.Lock()  # the tracker is shared with rebalance callbacks
        self._releaser = RetryReleaser(
            tiers,
            settings.retry_hold_capacity,
            owns=self._owns,
            spawn=self._spawn,
            processor=processor,
            metrics=metrics,
        )
        self._consumer: Consumer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
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
        """Records taken and not finished (held retries not included)."""
        return len(self._tasks)

    @property
    def held(self) -> int:
        return self._releaser.held

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._consumer is not None:
            return
        self._stopping.clear()
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dispatcher-consumer")
        self._consumer = Consumer(self._conf)
        await self._in_thread(
            partial(
                self._consumer.subscribe,
                [self._topic, *self._releaser.topics],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
        )
        self.subscribed = True
        self._releaser.start()
        self._poller = asyncio.create_task(self._poll_loop(), name="dispatcher-poll")

    async def stop(self) -> None:
        """Stop polling, let in-flight deliveries finish (deadline), commit, leave the group.

        Held retries are not sent: they stay uncommitted on their tier for the next owner.
        """
        consumer = self._consumer
        if consumer is None:
            return
        self._stopping.set()
        self._room.set()
        await self._releaser.stop()
        if self._poller is not None:
            await self._poller
            self._poller = None
        await self._drain()
        await self._commit()
        held = self._releaser.held  # closing revokes, and the hold is dropped then
        try:
            await self._in_thread(consumer.close)
        except KafkaException as exc:
            log.warning("closing the delivery consumer: %s", exc)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._consumer = self._executor = None
        self._meter.close()
        self.subscribed = False
        log.info(
            "delivery consumer stopped: %d processed, %d dead-lettered, %d retries left held "
            "(uncommitted, for the next owner)",
            self.processed,
            self.dead_lettered,
            held,
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
            room = self._max_pending - len(self._tasks)
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
        pause, resume = self._releaser.take_flow_changes()

        def poll() -> list[Message]:
            # Pause and resume in the consumer's own thread, just before consuming.
            if pause:
                consumer.pause(_topic_partitions_of(pause))
            if resume:
                consumer.resume(_topic_partitions_of(resume))
            # consume(n, timeout) waits for n records or the timeout; poll() returns with
            # the first one, and the rest already fetched come without waiting.
            first = consumer.poll(self._poll_timeout)
            if first is None:
                return []
            wanted = min(room, self._batch_size) - 1
            batch = [first, *consumer.consume(wanted, 0)] if wanted > 0 else [first]
            self._meter.count(batch)
            return batch

        try:
            messages = await self._in_thread(poll)
        except KafkaException:
            self._releaser.flow_changes_failed(pause, resume)
            raise
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
        if key.topic != self._topic:
            try:
                self._releaser.hold(key, msg, ticket)
            except Exception as exc:  # noqa: BLE001 - not a delivery (or worse): dead-letter it
                self._spawn(msg, ticket, partial(_raise, exc))
            return
        self._spawn(msg, ticket, partial(self._processor.process, msg.value()))

    def _spawn(self, msg: Message, ticket: Ticket, work: Callable[[], Awaitable[object]]) -> None:
        task = asyncio.create_task(self._handle(msg, ticket, work))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.set()

    async def _handle(
        self, msg: Message, ticket: Ticket, work: Callable[[], Awaitable[object]]
    ) -> None:
        try:
            await work()
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

    def _owns(self, ticket: Ticket) -> bool:
        with self._lock:
            return self._tracker.owns(ticket)

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
        self._forget_held(partitions)  # a fresh assignment starts unpaused with nothing held
        log.info("assigned %s", _describe(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            commits = self._tracker.revoke(_keys(partitions))
        self._forget_held(partitions)
        if commits:
            try:
                consumer.commit(offsets=_topic_partitions(commits), asynchronous=False)
            except KafkaException as exc:
                log.warning("commit on revoke failed: %s", exc)
        log.info("revoked %s", _describe(partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self._tracker.lose(_keys(partitions))
        self._forget_held(partitions)
        log.warning("lost %s (another member may own them now)", _describe(partitions))

    def _forget_held(self, partitions: list[TopicPartition]) -> None:
        if self._loop is not None and partitions:
            self._loop.call_soon_threadsafe(self._releaser.forget, _keys(partitions))

    async def _in_thread(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


async def _raise(error: Exception) -> None:
    raise error


def _keys(partitions: list[TopicPartition]) -> list[Partition]:
    return [Partition(tp.topic, tp.partition) for tp in partitions]


def _topic_partitions(commits: list[Commit]) -> list[TopicPartition]:
    return [TopicPartition(c.topic, c.partition, c.offset) for c in commits]


def _topic_partitions_of(partitions: set[Partition]) -> list[TopicPartition]:
    return [TopicPartition(p.topic, p.partition) for p in sorted(partitions)]


def _describe(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
