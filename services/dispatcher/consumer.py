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

confluent-kafka's consumer is driven from one dedicated thread, so the event loop never
blocks on it; the thread, the offset tracking, the commits and the rebalance callbacks
are ``signet.kafka.consumer.LowWaterConsumer``, shared with the alerter. On revoke, what is done
is committed and the rest forgotten: the new owner redoes it (at-least-once, same
``webhook-id``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaException,
    Message,
    TopicPartition,
)

from services.dispatcher.held_flow import HeldFlow
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.release import RetryReleaser, raise_error
from signet import tracing
from signet.errors import SignetError
from signet.kafka.clients import DeadLetterWriter
from signet.kafka.consumer import LowWaterConsumer, RecordingGate, poll_until_stopped
from signet.kafka.health import ClientState
from signet.kafka.offsets import Partition, Ticket
from signet.kafka.topics import RETRY_TIERS_SECONDS, Topics
from signet.records.model import Delivery
from signet.settings import DispatcherSettings

logger = logging.getLogger(__name__)


class RecordProcessor(Protocol):
    async def process(self, value: bytes | None, sequence: int | None = None) -> object: ...

    async def handle(self, delivery: Delivery) -> object: ...

    async def forward(self, delivery: Delivery) -> None: ...


class HeldProcessor(Protocol):
    """Ordered delivery's lines (``fifo.py``): records of the hold topic wait in them."""

    @property
    def hold_topic(self) -> str: ...

    async def held(self, value: bytes | None, held_at: int | None = None) -> object: ...

    def forget(self) -> None: ...


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
        gate: RecordingGate | None = None,
        lines: HeldProcessor | None = None,
    ) -> None:
        """``gate``: shut while outcomes and retries cannot be recorded; no new
        deliveries are taken meanwhile (``signet.kafka.consumer.RecordingGate``).
        ``lines``: FIFO destinations' lines; the hold topic is read for them, and what
        waits there is not counted against ``max_pending`` (it waits for its turn, not
        for room)."""
        topics = Topics.from_settings(settings)
        self._topic = topics.deliveries
        tiers = {topics.retry(seconds): seconds for seconds in RETRY_TIERS_SECONDS}
        self._offsets = LowWaterConsumer(
            settings,
            metrics.kafka,
            name="delivery consumer",
            thread_name="dispatcher-consumer",
            logger=logger,
            # A fresh assignment starts unpaused with nothing held.
            on_assigned=self._forget_held,
            on_released=self._released,
            gate=gate,
            **{
                # Co-locates partition p of deliveries and of every tier (module docstring).
                "partition.assignment.strategy": "range",
                # Tansu answers a fetch only at this deadline: it bounds how late a record
                # is seen.
                "fetch.wait.max.ms": settings.fetch_wait_max_ms,
            },
        )
        self._processor = processor
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._max_pending = settings.max_pending
        self._drain_timeout = settings.drain_timeout_seconds
        self._poll_timeout = poll_timeout_seconds
        self._batch_size = batch_size

        self._releaser = RetryReleaser(
            tiers,
            settings.retry_hold_capacity,
            owns=self._offsets.owns,
            spawn=self._spawn,
            processor=processor,
            metrics=metrics,
        )
        self._lines = lines
        self._hold_topic = lines.hold_topic if lines is not None else None
        # At most this many hold-topic records of a partition in memory (held_flow.py).
        self.held_flow = HeldFlow(self._hold_topic or "", settings.fifo_held_in_memory)
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: set[asyncio.Task[None]] = set()  # held in a FIFO line
        self._room = asyncio.Event()
        self._stopping = asyncio.Event()
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

    @property
    def client_state(self) -> ClientState:
        """The consumer client's fatal state (the service's ``KafkaHealth`` watches it)."""
        return self._offsets.state

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._offsets.consumer is not None:
            return
        self._stopping.clear()
        hold = [self._hold_topic] if self._hold_topic is not None else []
        await self._offsets.start([self._topic, *self._releaser.topics, *hold])
        self.subscribed = True
        self._releaser.start()
        self._poller = asyncio.create_task(self._poll_loop(), name="dispatcher-poll")

    async def stop(self) -> None:
        """Stop polling, let in-flight deliveries finish (deadline), commit, leave the group.

        Held retries are not sent: they stay uncommitted on their tier for the next owner.
        """
        if self._offsets.consumer is None:
            return
        self._stopping.set()
        self._room.set()
        await self._releaser.stop()
        if self._poller is not None:
            await self._poller
            self._poller = None
        await self._drain()
        for task in self._waiting:  # still held: uncommitted, for the next owner
            task.cancel()
        await asyncio.gather(*self._waiting, return_exceptions=True)
        await self._offsets.commit()
        held = self._releaser.held  # closing revokes, and the hold is dropped then
        await self._offsets.close()
        self.subscribed = False
        logger.info(
            "delivery consumer stopped: %d processed, %d dead-lettered, %d retries left held "
            "(uncommitted, for the next owner)",
            self.processed,
            self.dead_lettered,
            held,
        )

    async def _drain(self) -> None:
        if not self._tasks:
            return
        logger.info("draining %d deliveries (up to %gs)", self.in_flight, self._drain_timeout)
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._drain_timeout)
        if pending:
            # Their offsets stay uncommitted: the deliveries are redone after the restart.
            logger.warning("abandoning %d deliveries still running at the deadline", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- the poll loop -----------------------------------------------------------------

    async def _poll_loop(self) -> None:
        await poll_until_stopped(
            self._take_more, stopping=self._stopping, what="delivery consumer", logger=logger
        )

    async def _take_more(self) -> None:
        """One turn of the poll loop: wait while nothing could be recorded or no room is
        left, else take what there is room for."""
        if await self._offsets.wait_until_recordable(self._stopping):
            return
        room = self._max_pending - len(self._tasks)
        if room <= 0:
            self._room.clear()
            await self._room.wait()
            return
        await self._poll_once(room)

    async def _poll_once(self, room: int) -> None:
        consumer = self._offsets.consumer
        if consumer is None:
            return
        pause, resume = self._releaser.take_flow_changes()
        held_resume = self.held_flow.take_resumes()
        held_room = self.held_flow.room()

        def poll() -> list[Message]:
            # Pause and resume in the consumer's own thread, just before consuming.
            if pause:
                consumer.pause(_topic_partitions_of(pause))
            if resume | held_resume:
                consumer.resume(_topic_partitions_of(resume | held_resume))
            # consume(n, timeout) waits for n records or the timeout; poll() returns with
            # the first one, and the rest already fetched come without waiting.
            first = consumer.poll(self._poll_timeout)
            if first is None:
                return []
            wanted = min(room, self._batch_size) - 1
            batch = [first, *consumer.consume(wanted, 0)] if wanted > 0 else [first]
            self._offsets.count(batch)
            return self._bounded(consumer, batch, held_room)

        try:
            messages = await self._offsets.in_thread(poll)
        except KafkaException:
            self._releaser.flow_changes_failed(pause, resume)
            self.held_flow.resumes_failed(held_resume)
            raise
        for msg in messages:
            self._dispatch(msg)
        await self._offsets.commit_if_due()

    def _bounded(
        self, consumer: Consumer, batch: list[Message], room: dict[Partition, int]
    ) -> list[Message]:
        """On the consumer's thread: ``batch`` without the hold-topic records past their
        partition's bound; such a partition is paused and sought back to the first record
        left out, to be read again once it has drained (``held_flow.py``)."""
        keys = [
            Partition(self.held_flow.topic, m.partition() or 0)
            if m.error() is None and m.topic() == self.held_flow.topic
            else None
            for m in batch
        ]
        taken = self.held_flow.cut(room, keys)
        if all(taken):
            return batch
        first_left: dict[Partition, int] = {}
        for msg, key, take in zip(batch, keys, taken, strict=True):
            if not take and key is not None and key not in first_left:
                first_left[key] = msg.offset() or 0
        back = [TopicPartition(p.topic, p.partition, o) for p, o in sorted(first_left.items())]
        consumer.pause(back)
        for position in back:
            consumer.seek(position)
        self._offsets.call_soon(self.held_flow.left_out, set(first_left))
        return [msg for msg, take in zip(batch, taken, strict=True) if take]

    def _dispatch(self, msg: Message) -> None:
        tracked = self._offsets.track(msg)
        if tracked is None:
            return
        key, ticket = tracked
        if key.topic == self._hold_topic and self._lines is not None:
            task = asyncio.create_task(
                self._handle(msg, ticket, partial(self._lines.held, msg.value(), _appended_at(msg)))
            )
            generation = self.held_flow.took(key)
            self._waiting.add(task)
            task.add_done_callback(partial(self._held_finished, key, generation))
            return
        if key.topic != self._topic:
            try:
                self._releaser.hold(key, msg, ticket)
            except Exception as exc:  # noqa: BLE001 - not a delivery (or worse): dead-letter it
                self._spawn(msg, ticket, partial(raise_error, exc))
            return
        self._spawn(msg, ticket, partial(self._processor.process, msg.value(), msg.offset()))

    def _held_finished(self, key: Partition, generation: int, task: asyncio.Task[None]) -> None:
        self._waiting.discard(task)
        self.held_flow.finished(key, generation)

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
            # The record's trace: its attempt spans and retry hops continue it.
            with tracing.continued(msg.headers()):
                await work()
            self.processed += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, SignetError):
                where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
                logger.exception("unexpected error on %s; dead-lettering it", where)
            await self._dead_letter(msg, exc)
        self._offsets.complete(ticket)

    async def _dead_letter(self, msg: Message, error: Exception) -> None:
        await self._dead_letters.write_until_acknowledged(msg, error)
        self.dead_lettered += 1
        self._metrics.dead_letters.labels(type(error).__name__).inc()

    def _released(self, keys: list[Partition]) -> None:
        """On the consumer thread: what was held is forgotten, and so are the FIFO lines
        (their records are read again from the committed offsets, by whoever owns them
        now; a line is read back from its record when its next delivery arrives)."""
        self._forget_held(keys)
        if keys and self._lines is not None:
            self._offsets.call_soon(self._lines.forget)

    def _forget_held(self, keys: list[Partition]) -> None:
        """On the consumer thread (a rebalance): the hold forgets them on the loop."""
        if keys:
            self._offsets.call_soon(self._releaser.forget, keys)
            self._offsets.call_soon(self.held_flow.forget, keys)


def _appended_at(msg: Message) -> int | None:
    """The record's timestamp (epoch ms), when it has one."""
    kind, at = msg.timestamp()
    return at if kind != TIMESTAMP_NOT_AVAILABLE else None


def _topic_partitions_of(partitions: set[Partition]) -> list[TopicPartition]:
    return [TopicPartition(p.topic, p.partition) for p in sorted(partitions)]
