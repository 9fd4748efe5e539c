"""Fills the delivery log from ``signet.deliveries`` and ``signet.outcomes``, and erases
payloads as ``signet.payload-erasures`` asks (``erasure_writes.py``).

One consumer in group ``signet-portal-log`` (the setting) reads both topics; confluent-kafka
runs in one dedicated thread, so the event loop never blocks on it. Each poll is one
batch, written in one transaction; offsets are committed only after that commit and after
any dead letter was acknowledged (at-least-once). The store is idempotent, so whatever
is read twice (a crash before the commit, a rebalance) changes nothing.

Outcomes are keyed by workspace, so one member of the group owns each workspace's
partition and appends to its chain in topic order; the store's head lock keeps the chain
linear even while a rebalance briefly lets two members read one partition.

A record that does not decode or breaks a rule is a dead letter, and so is one the
database refuses on its own; an unavailable database is waited for, never skipped.

While the broker stalls, commits fail: past ``recording_stall_seconds`` of that, no new
batch is read until the last one's offsets are committed (a stalled broker must not make
the projection read further ahead than it can record). A consumer error librdkafka calls
fatal restarts the process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from signet_sdk.ids import now_ms
from signet_sdk.kafka_errors import kafka_error_of

from services.portal.delivery_log.chain import (
    checked_delivery,
    checked_erasure,
    checked_outcome,
)
from services.portal.delivery_log.errors import RecordRejected, StoreUnavailable
from services.portal.delivery_log.metrics import LogMetrics
from services.portal.delivery_log.store import ApplyResult, LogStore, ProjectionBatch
from signet.backoff import retry_until_done
from signet.errors import SignetError
from signet.kafka.clients import DeadLetterWriter
from signet.kafka.consumer import STALL_CHECK_SECONDS, RecordingGate, poll_until_stopped
from signet.kafka.health import ClientState
from signet.kafka.metrics import ConsumerMeter, KafkaMetrics
from signet.kafka.topics import BATCHING_FETCH, Topics, group_consumer_config
from signet.records import codec
from signet.records.model import Delivery, Outcome, PayloadErasure
from signet.runner import request_restart
from signet.settings import PortalSettings

logger = logging.getLogger(__name__)

# Commit errors that mean "the broker did not answer" (retry the same offsets), as opposed
# to "these partitions are not ours any more" (drop them: their new owner re-reads).
UNREACHABLE = frozenset(
    {
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError._WAIT_COORD,
    }
)
T = TypeVar("T")
Record = Delivery | Outcome | PayloadErasure


class _Stopping(Exception):
    """The projection is stopping: abandon the batch (its offsets stay uncommitted)."""


class LogProjection:
    def __init__(
        self,
        settings: PortalSettings,
        store: LogStore,
        dead_letters: DeadLetterWriter,
        metrics: LogMetrics,
        kafka_metrics: KafkaMetrics,
        *,
        poll_timeout_seconds: float = 0.2,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        topics = Topics.from_settings(settings)
        self._deliveries_topic, self._outcomes_topic = topics.deliveries, topics.outcomes
        self._erasures_topic = topics.payload_erasures
        conf: dict[str, Any] = {
            **group_consumer_config(
                settings,
                settings.log_consumer_group,
                settings.log_consumer_session_timeout_seconds,
            ),
            **BATCHING_FETCH,  # the log may trail the deliveries by a fetch's wait
        }
        # Lag and records consumed per topic, measured on the consumer's thread.
        self._meter = ConsumerMeter(
            kafka_metrics, conf, interval_seconds=settings.consumer_lag_interval_seconds
        )
        self._conf = self._meter.consumer_config
        self._store = store
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._batch_size = settings.log_batch_max_records
        self._poll_timeout = poll_timeout_seconds
        self._clock = clock
        self._consumer: Consumer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Shut while commits fail past the bound (no producer to watch: the log's writes
        # go to the database, which the batch waits for itself).
        self._gate = RecordingGate(None, settings.recording_stall_seconds)
        self._unrecorded: list[TopicPartition] = []  # offsets whose commit failed
        self.state = ClientState("log-consumer", kafka_metrics)
        self.batches = 0
        self.dead_lettered = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self._consumer is not None:
            return
        self._stopping.clear()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="portal-log-consumer")
        self._consumer = Consumer(self._conf)
        topics = [self._deliveries_topic, self._outcomes_topic, self._erasures_topic]
        await self._in_thread(partial(self._consumer.subscribe, topics))
        self._task = asyncio.create_task(self._run(), name="portal-log-projection")

    async def stop(self) -> None:
        """Finish the batch in hand (or abandon it while waiting for the database), leave."""
        consumer = self._consumer
        if consumer is None:
            return
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        try:
            await self._in_thread(consumer.close)
        except KafkaException as exc:
            logger.warning("closing the log consumer: %s", exc)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._consumer = self._executor = None
        self._meter.close()
        logger.info(
            "log projection stopped: %d batches, %d dead-lettered", self.batches, self.dead_lettered
        )

    async def _in_thread(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless the projection is stopping (then raise ``_Stopping`` at once)."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return
        raise _Stopping

    # -- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        await poll_until_stopped(
            self._once,
            stopping=self._stopping,
            what="log projection",
            logger=logger,
            expected=(KafkaException, SignetError),
            stop_on=(_Stopping,),
            pause=self._pause,
        )

    async def _once(self) -> None:
        consumer = self._consumer
        if consumer is None:
            raise _Stopping
        if not self._gate.open:
            await self._pause(STALL_CHECK_SECONDS)
            await self._commit_offsets(consumer, self._unrecorded)
            return

        def consume() -> list[Message]:
            messages = consumer.consume(self._batch_size, self._poll_timeout)
            self._meter.count(messages)
            return messages

        messages = await self._in_thread(consume)
        records = []
        for msg in messages:
            err = msg.error()
            if err is None:
                records.append(msg)
            elif err.fatal():
                if self.state.failed(err.str()):
                    request_restart(f"log consumer: {err.str()}")
            else:
                logger.warning("log consumer: %s", err.str())
        if not records:
            return
        await self._project(records)
        await self._commit(consumer, records)
        self.batches += 1

    async def _project(self, messages: Sequence[Message]) -> None:
        good: list[tuple[Message, Record]] = []
        bad: list[tuple[Message, SignetError]] = []
        for msg in messages:
            try:
                good.append((msg, self._decode(msg)))
            except SignetError as exc:
                bad.append((msg, exc))
        try:
            if good:
                self._count(await self._apply([record for _, record in good]))
        except RecordRejected:
            # Something in the batch is refused by the database itself: find it.
            for msg, record in good:
                try:
                    self._count(await self._apply([record]))
                except RecordRejected as exc:
                    bad.append((msg, exc))
        for msg, error in bad:
            await self._dead_letter(msg, error)

    def _decode(self, msg: Message) -> Record:
        if msg.topic() == self._outcomes_topic:
            return checked_outcome(codec.decode(msg.value(), Outcome))
        if msg.topic() == self._erasures_topic:
            return checked_erasure(codec.decode(msg.value(), PayloadErasure))
        return checked_delivery(codec.decode(msg.value(), Delivery))

    async def _apply(self, records: Sequence[Record]) -> ApplyResult:
        batch = ProjectionBatch(
            deliveries=[r for r in records if isinstance(r, Delivery)],
            outcomes=[r for r in records if isinstance(r, Outcome)],
            erasures=[r for r in records if isinstance(r, PayloadErasure)],
        )

        def unavailable(exc: BaseException, delay: float) -> None:
            self._metrics.store_retries.inc()
            logger.warning("delivery log unavailable (%s); retrying in %.1fs", exc, delay)

        return await retry_until_done(
            # A lambda, not a partial: each try reads the clock anew.
            lambda: self._store.apply(batch, now_ms=self._clock()),
            retry_on=StoreUnavailable,
            on_retry=unavailable,
            pause=self._pause,
        )

    def _count(self, result: ApplyResult) -> None:
        records = self._metrics.records
        records.labels("attempt", "new").inc(result.new_attempts)
        records.labels("delivery", "new").inc(result.new_deliveries)
        records.labels("erasure", "new").inc(result.new_erasures)
        records.labels("record", "duplicate").inc(result.duplicates)

    async def _dead_letter(self, msg: Message, error: SignetError) -> None:
        await self._dead_letters.write_until_acknowledged(msg, error, pause=self._pause)
        self.dead_lettered += 1
        kind = {self._outcomes_topic: "outcome", self._erasures_topic: "erasure"}.get(
            msg.topic() or "", "delivery"
        )
        self._metrics.records.labels(kind, "dead_letter").inc()

    async def _commit(self, consumer: Consumer, messages: Sequence[Message]) -> None:
        ends: dict[tuple[str, int], int] = defaultdict(int)
        for msg in messages:
            key = (msg.topic() or "", msg.partition() or 0)
            ends[key] = max(ends[key], (msg.offset() or 0) + 1)
        await self._commit_offsets(
            consumer, [TopicPartition(t, p, o) for (t, p), o in ends.items()]
        )

    async def _commit_offsets(self, consumer: Consumer, offsets: list[TopicPartition]) -> None:
        try:
            await self._in_thread(partial(consumer.commit, offsets=offsets, asynchronous=False))
        except KafkaException as exc:
            err = kafka_error_of(exc)
            if err is not None and err.code() in UNREACHABLE:
                # The broker is away: keep the offsets and, past the bound, read no more.
                self._unrecorded = offsets
                self._gate.commits_failed()
                logger.warning("log offsets not committed (%s); will retry", exc)
                return
            # Lost the partitions meanwhile: their new owner re-reads; the store dedupes.
            logger.warning("log offsets not committed (%s); they will be re-read", exc)
        self._unrecorded = []
        self._gate.commits_recorded()
