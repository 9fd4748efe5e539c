"""Reads the router's source partitions straight from the broker, beside Faust.

:class:`~services.router.sequencer.Sequencer` asks it two things: where a partition's
processing starts (the group's committed offset) and the records of a range Faust fetched
but never handed to the agents. The table recovery asks it a third: where each changelog
partition really ends (:meth:`BrokerReader.log_ends`). It is a librdkafka consumer that
only ever ``assign``s: it carries the router's ``group.id`` to read the group's committed
offsets, but never joins the group nor commits, so Faust's group membership is untouched.

Broker errors are retried until the broker answers (a stall only delays the range), except
one librdkafka calls fatal: the client is dead, its state says so (``/readyz`` 503), the
worker restarts (``signet.runner.request_restart``), and the read fails so the batch
waiting for it is never marked done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from signet_sdk.kafka_errors import kafka_error_of

from signet.errors import BrokerError
from signet.kafka.health import ClientState
from signet.kafka.topics import consumer_client_config
from signet.runner import request_restart
from signet.settings import RouterSettings

from .output import RETRY
from .sequencer import Partition
from .source import SourceRecord

logger = logging.getLogger(__name__)

T = TypeVar("T")

REQUEST_TIMEOUT_SECONDS = 10.0
# A range is read within a few fetches; a read making no progress this long is retried.
READ_STALL_SECONDS = 30.0


class BrokerReader:
    def __init__(
        self, settings: RouterSettings, group_id: str, state: ClientState | None = None
    ) -> None:
        self.state = state or ClientState("broker-reader")
        self._config: dict[str, Any] = {
            **consumer_client_config(settings),
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            # A committed offset below the log start (retention) reads from the start, as
            # Faust's consumer does (consumer_auto_offset_reset="earliest").
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": settings.fetch_wait_max_ms,
            # Served on the thread of whichever call polls (consume, committed, ...).
            "error_cb": self._on_error,
        }
        self._consumer: Consumer | None = None
        self._lock = asyncio.Lock()  # one librdkafka consumer: one call at a time

    async def start(self) -> None:
        if self._consumer is None:
            self._consumer = Consumer(self._config)

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            async with self._lock:
                await asyncio.to_thread(consumer.close)

    async def start_offset(self, topic: str, partition: int) -> int:
        return await self._retrying(
            f"the committed offset of {topic}[{partition}]", self._start_offset, topic, partition
        )

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[SourceRecord]:
        return await self._retrying(
            f"{topic}[{partition}] offsets {start}..{end - 1}",
            self._read,
            topic,
            partition,
            start,
            end,
        )

    async def log_ends(self, reported: Mapping[Partition, int]) -> dict[Partition, int]:
        """Each partition's end as a read finds it: the offset after the last record read
        from its ``reported`` end on, or that end when nothing lies beyond (one empty
        fetch). ``transport.py`` says why the reported end is not taken on trust."""
        if not reported:
            return {}
        return await self._retrying(
            f"the end of {len(reported)} partitions", self._log_ends, dict(reported)
        )

    async def _retrying(self, what: str, call: Callable[..., T], *args: Any) -> T:
        """Until the broker answers: moving on without the answer could lose records."""
        delays = RETRY.delays()
        while True:
            async with self._lock:
                try:
                    return await asyncio.to_thread(call, self._started(), *args)
                except KafkaException as exc:
                    err = kafka_error_of(exc)
                    if err is not None and err.fatal():
                        self._died(err)
                        raise BrokerError(f"reading {what}: {err.str()}") from exc
                    logger.warning("reading %s from the broker failed (%s); retrying", what, exc)
            await asyncio.sleep(next(delays))

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._died(err)
        else:  # connection trouble: librdkafka reconnects, and the calls are retried
            logger.debug("broker reader: %s", err.str())

    def _died(self, err: KafkaError) -> None:
        """Any thread. As the services' group consumers do (``signet/kafka/consumer.py``): a
        fresh worker loses nothing (the batch waiting on this reader never completes),
        and a fatal error is too rare to be worth swapping clients under a read."""
        if self.state.failed(err.str()):
            request_restart(f"router broker reader: {err.str()}")

    def _started(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("BrokerReader is not started")
        return self._consumer

    @staticmethod
    def _start_offset(consumer: Consumer, topic: str, partition: int) -> int:
        [committed] = consumer.committed(
            [TopicPartition(topic, partition)], timeout=REQUEST_TIMEOUT_SECONDS
        )
        if committed.error is not None:
            raise KafkaException(committed.error)
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=REQUEST_TIMEOUT_SECONDS
        )
        offset = int(committed.offset)
        if offset > high:  # beyond the reported end: is it, or was the end reported short?
            where = (topic, partition)
            high = BrokerReader._log_ends(consumer, {where: int(high)})[where]
        # No commit yet (a negative sentinel), or one the log no longer holds: Faust's
        # consumer starts from the earliest record then, and so do we.
        return offset if low <= offset <= high else int(low)

    @staticmethod
    def _log_ends(consumer: Consumer, reported: dict[Partition, int]) -> dict[Partition, int]:
        consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in reported.items()])
        try:
            ends = dict(reported)
            unfinished = set(reported)
            stalled = 0.0
            while unfinished:
                messages = consumer.consume(500, 1.0)
                for message in messages:
                    where = (cast(str, message.topic()), cast(int, message.partition()))
                    error = message.error()
                    if error is None:
                        ends[where] = max(ends[where], cast(int, message.offset()) + 1)
                    elif error.code() == KafkaError._PARTITION_EOF:
                        unfinished.discard(where)
                    else:
                        raise KafkaException(error)
                stalled = 0.0 if messages else stalled + 1.0
                if stalled >= READ_STALL_SECONDS:
                    raise KafkaException(
                        KafkaError(KafkaError._TIMED_OUT, "no end of partition reached")
                    )
            return ends
        finally:
            consumer.unassign()

    @staticmethod
    def _read(
        consumer: Consumer, topic: str, partition: int, start: int, end: int
    ) -> list[SourceRecord]:
        consumer.assign([TopicPartition(topic, partition, start)])
        try:
            records: list[SourceRecord] = []
            stalled = 0.0
            while True:
                messages = consumer.consume(500, 1.0)
                for message in messages:
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            return records
                        raise KafkaException(error)
                    offset = cast(int, message.offset())  # set on every fetched record
                    if offset >= end:
                        return records
                    records.append(
                        SourceRecord(
                            topic,
                            partition,
                            offset,
                            message.key(),
                            message.value(),
                            message.headers() or (),
                        )
                    )
                    if offset == end - 1:
                        return records
                # Offsets holding no record (transaction markers) end the range too.
                [position] = consumer.position([TopicPartition(topic, partition)])
                if position.offset >= end:
                    return records
                stalled = 0.0 if messages else stalled + 1.0
                if stalled >= READ_STALL_SECONDS:
                    raise KafkaException(
                        KafkaError(KafkaError._TIMED_OUT, "no progress reading the range")
                    )
        finally:
            consumer.unassign()
