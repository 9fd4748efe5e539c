"""A confluent-kafka consumer on its own thread that commits at the low-water mark.

The mechanics the alerter and the dispatcher share; what they do with a record stays in
their own ``consumer.py``. confluent-kafka's consumer runs on one dedicated thread
(``consume``, ``commit``, ``pause``/``resume``, ``close`` and therefore the rebalance
callbacks all run there), so the event loop never blocks on it. Every record taken is
tracked (``OffsetTracker``) and commits move to the low-water mark of completed work:
never past an incomplete offset, so a crash redoes work and never skips it.

On assign a partition starts afresh; on revoke what is done is committed and the rest
forgotten (the new owner redoes it); a lost partition is forgotten without a commit. A
partition that comes back to this member skips the records it had completed but not
committed (``OffsetTracker``). The service hears of each through ``on_assigned`` /
``on_released``, called on the consumer thread under the tracker's lock: they must be
quick (``call_soon`` hands work to the loop). Log lines go to the service's logger, so
they read as the service's own.

While the broker stalls, nothing finished can be recorded: the service's producer gets no
acknowledgements and commits fail. Past ``recording_stall_seconds`` of that,
``wait_until_recordable`` holds the service's poll loop, so it stops taking records it
would only have to redo after the stall (the group's rebalance hands its partitions back
from the last commit). A consumer error librdkafka calls fatal leaves the client dead:
the process restarts (``signet.runner.request_restart``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from signet.backoff import Backoff
from signet.kafka.clients import AsyncProducer
from signet.kafka.health import ClientState
from signet.kafka.metrics import ConsumerMeter, KafkaMetrics
from signet.kafka.offsets import Commit, OffsetTracker, Partition, Ticket
from signet.kafka.topics import group_consumer_config
from signet.runner import request_restart
from signet.settings import AlerterSettings, DispatcherSettings

T = TypeVar("T")
STALL_CHECK_SECONDS = 0.2
PartitionsHook = Callable[[list[Partition]], None]


class RecordingGate:
    """Open while a service's finished work can be recorded: its results producer gets
    acknowledgements (or has nothing waiting) and its commits go through.

    Shut once either has failed for longer than ``bound_seconds``: the consumer takes no
    new records and the dispatcher starts no new request (what it sent could not be
    recorded, and would be sent again after the stall). Used on the event loop only.
    """

    def __init__(
        self,
        results: AsyncProducer | None,
        bound_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._results = results
        self._bound = bound_seconds
        self._clock = clock
        self._commits_failing_since: float | None = None

    def commits_failed(self) -> None:
        if self._commits_failing_since is None:
            self._commits_failing_since = self._clock()

    def commits_recorded(self) -> None:
        self._commits_failing_since = None

    def unrecorded_for(self) -> float:
        """Seconds finished work has not been recordable (0 when all is well)."""
        failing = self._commits_failing_since
        commits = 0.0 if failing is None else self._clock() - failing
        results = 0.0 if self._results is None else self._results.unacknowledged_for()
        return max(commits, results)

    @property
    def open(self) -> bool:
        return self.unrecorded_for() <= self._bound

    async def wait_open(self) -> None:
        """Return once the gate is open (at once when it is). Polled: what opens it is
        the broker's acknowledgements, counted on librdkafka's thread."""
        while not self.open:  # noqa: ASYNC110
            await asyncio.sleep(STALL_CHECK_SECONDS)


async def poll_until_stopped(
    once: Callable[[], Awaitable[object]],
    *,
    stopping: asyncio.Event,
    what: str,
    logger: logging.Logger,
    expected: tuple[type[BaseException], ...] = (KafkaException,),
    stop_on: tuple[type[BaseException], ...] = (),
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """The poll loop of every confluent consumer of ours: ``once()`` until ``stopping``.

    The loop outlives any failure: after one it logs (a warning for an ``expected`` kind,
    the traceback for any other), pauses on a growing backoff and goes on; a success
    resets the backoff. ``stop_on`` errors, from ``once`` or from ``pause`` (a pause that
    ends early when the service stops), end the loop quietly.
    """
    delays = Backoff().delays()
    while not stopping.is_set():
        try:
            await once()
            delays.reset()
        except stop_on:
            return
        except Exception as exc:  # the loop must outlive any one failure
            delay = next(delays)
            if isinstance(exc, expected):
                logger.warning("%s: %s; retrying in %.1fs", what, exc, delay)
            else:
                logger.exception("%s failed; retrying in %.1fs", what, delay)
            try:
                await pause(delay)
            except stop_on:
                return


class LowWaterConsumer:
    """One group member: its thread, its offset tracker, its commits and rebalances."""

    def __init__(
        self,
        settings: AlerterSettings | DispatcherSettings,
        kafka_metrics: KafkaMetrics,
        *,
        name: str,
        thread_name: str,
        logger: logging.Logger,
        on_assigned: PartitionsHook,
        on_released: PartitionsHook,
        gate: RecordingGate | None = None,
        **overrides: Any,
    ) -> None:
        """``name`` says what is consumed in log lines ("outcome consumer"); ``gate``
        watches the producer whose acknowledgements make finished work durable (the
        service shares it with whatever else must wait); ``overrides`` are librdkafka
        settings added to the shared ones."""
        conf: dict[str, Any] = {
            **group_consumer_config(
                settings, settings.consumer_group, settings.consumer_session_timeout_seconds
            ),
            "enable.auto.offset.store": False,
            **overrides,
        }
        # Lag and records consumed per topic, measured on the consumer's thread.
        self._meter = ConsumerMeter(
            kafka_metrics, conf, interval_seconds=settings.consumer_lag_interval_seconds
        )
        self._conf = self._meter.consumer_config
        self._name = name
        self._thread_name = thread_name
        self._log = logger
        self._on_assigned = on_assigned
        self._on_released = on_released
        self._commit_interval = settings.commit_interval_seconds
        self.gate = gate or RecordingGate(None, settings.recording_stall_seconds)
        self._not_redone = kafka_metrics.not_redone.labels(settings.consumer_group)
        self.state = ClientState("consumer", kafka_metrics)

        self._tracker = OffsetTracker()
        self.lock = threading.Lock()  # the tracker is shared with rebalance callbacks
        self._consumer: Consumer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_commit = 0.0

    @property
    def consumer(self) -> Consumer | None:
        """The client while started; call it only through ``in_thread``."""
        return self._consumer

    def count(self, messages: list[Message]) -> None:
        """Count records consumed (on the consumer's thread)."""
        self._meter.count(messages)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, topics: list[str]) -> None:
        if self._consumer is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=self._thread_name)
        self._consumer = Consumer(self._conf)
        await self.in_thread(
            partial(
                self._consumer.subscribe,
                topics,
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
        )

    async def close(self) -> None:
        """Leave the group (revoking commits what is done) and release the thread."""
        consumer = self._consumer
        if consumer is None:
            return
        try:
            await self.in_thread(consumer.close)
        except KafkaException as exc:
            self._log.warning("closing the %s: %s", self._name, exc)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._consumer = self._executor = None
        self._meter.close()

    async def in_thread(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        """Hand ``callback`` to the event loop from the consumer thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback, *args)

    # -- offsets -------------------------------------------------------------------------

    def track(self, msg: Message) -> tuple[Partition, Ticket] | None:
        """Track a consumed record; None for an error event, or for a record fetched for
        a partition revoked meanwhile (its new owner has it)."""
        err = msg.error()
        if err is not None:
            self.note_error(err)
            return None
        key = Partition(msg.topic() or "", msg.partition() or 0)
        offset = msg.offset() or 0
        with self.lock:
            skipped = self._tracker.skipped
            try:
                ticket = self._tracker.track(key, offset)
            except ValueError:
                # The consumer went back within one assignment (an offset reset): start
                # the partition afresh; what was in flight there is redone, never skipped.
                self._log.warning(
                    "%s[%d] rewound to %d; tracking it afresh", key.topic, key.partition, offset
                )
                self._tracker.assign([key])
                ticket = self._tracker.track(key, offset)
            if self._tracker.skipped != skipped:
                self._not_redone.inc()
        return None if ticket is None else (key, ticket)

    def note_error(self, err: KafkaError) -> None:
        """A consumer error: logged; a fatal one restarts the process (the client is dead
        and a group member cannot be swapped under its partitions' in-flight work)."""
        if err.fatal():
            if self.state.failed(err.str()):
                request_restart(f"{self._name}: {err.str()}")
            return
        self._log.warning("%s: %s", self._name, err.str())

    def complete(self, ticket: Ticket) -> None:
        """The ticket's work is durable; its offset may be committed."""
        with self.lock:
            self._tracker.complete(ticket)

    def owns(self, ticket: Ticket) -> bool:
        with self.lock:
            return self._tracker.owns(ticket)

    async def commit_if_due(self) -> None:
        if time.monotonic() >= self._next_commit:
            await self.commit()

    async def commit(self) -> None:
        self._next_commit = time.monotonic() + self._commit_interval
        consumer = self._consumer
        with self.lock:
            commits = self._tracker.uncommitted()
        if consumer is None or not commits:
            self.gate.commits_recorded()  # nothing waits to be committed
            return
        try:
            await self.in_thread(
                partial(consumer.commit, offsets=_topic_partitions(commits), asynchronous=False)
            )
        except KafkaException as exc:
            self._log.warning("offset commit failed (will retry): %s", exc)
            self.gate.commits_failed()
            return
        self.gate.commits_recorded()
        with self.lock:
            self._tracker.mark_committed(commits)

    # -- recording stalls ----------------------------------------------------------------

    async def wait_until_recordable(self, stopping: asyncio.Event) -> bool:
        """Hold the caller while the gate is shut; True if it held. Commits are retried
        meanwhile (they tell when the broker is back). librdkafka's poll interval keeps
        running: a stall longer than ``max.poll.interval.ms`` costs a rejoin afterwards."""
        gate = self.gate
        if gate.open:
            return False
        self._log.warning(
            "%s: finished work unrecorded for %.1fs (broker stalled?); taking no new records "
            "until it is recorded",
            self._name,
            gate.unrecorded_for(),
        )
        started = time.monotonic()
        while not stopping.is_set() and not gate.open:
            await self.commit_if_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), STALL_CHECK_SECONDS)
        self._log.info(
            "%s: recording again after %.1fs; taking records",
            self._name,
            time.monotonic() - started,
        )
        return True

    @property
    def skipped(self) -> int:
        """Records not redone: completed by this member in an earlier assignment."""
        with self.lock:
            return self._tracker.skipped

    # -- rebalances: on the consumer thread, inside consume() or close() -----------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        with self.lock:
            self._tracker.assign(keys)
            self._on_assigned(keys)
        self._log.info(
            "assigned %s (%d records not redone so far)", _describe(partitions), self.skipped
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        with self.lock:
            commits = self._tracker.revoke(keys)
            self._on_released(keys)
        if commits:
            try:
                consumer.commit(offsets=_topic_partitions(commits), asynchronous=False)
            except KafkaException as exc:
                self._log.warning("commit on revoke failed: %s", exc)
        self._log.info("revoked %s", _describe(partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        with self.lock:
            self._tracker.lose(keys)
            self._on_released(keys)
        self._log.warning("lost %s (another member may own them now)", _describe(partitions))


def _keys(partitions: list[TopicPartition]) -> list[Partition]:
    return [Partition(tp.topic, tp.partition) for tp in partitions]


def _topic_partitions(commits: list[Commit]) -> list[TopicPartition]:
    return [TopicPartition(c.topic, c.partition, c.offset) for c in commits]


def _describe(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
