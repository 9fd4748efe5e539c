"""Kafka clients for asyncio services: an acknowledged producer and dead-lettering.

The producer is confluent-kafka's synchronous ``Producer`` polled from one thread (the
fastest path; ``AIOProducer`` rejects headers). ``send`` resolves only when the broker
acknowledged the write with acks=all, which is what lets ingest answer 202 and consumers
commit offsets afterwards. Acknowledgements reach the event loop in batches: the poll
thread collects what one ``poll`` served and wakes the loop once for all of them (a
wake-up per record costs the loop more than the record). Keyed records use murmur2 so
they land on the partition Faust (Java-compatible) expects for co-partitioned joins.
Given the service's ``KafkaMetrics``, it counts the records acknowledged, by topic.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from prometheus_client import Counter
from signet_sdk.ids import now_ms
from signet_sdk.kafka_errors import is_dead_producer, kafka_error_of

from signet.backoff import Pause, retry_until_done
from signet.errors import BrokerError, SignetError
from signet.kafka.health import ClientState
from signet.kafka.metrics import KafkaMetrics
from signet.kafka.topics import Topics, kafka_client_config
from signet.records import codec
from signet.records.model import DeadLetter
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)

Headers = list[tuple[str, str | bytes | None]]


class AsyncProducer:
    """Produce from asyncio and await the broker's acknowledgement.

    A producer instance that dies (``is_dead_producer``) is replaced by a new idempotent
    one at once: what the dead one still held fails with a retriable ``BrokerError`` (its
    senders try again, ingest answers 503), and ``state`` (a ``ClientState`` the service's
    ``KafkaHealth`` watches) counts the replacement.
    """

    def __init__(
        self,
        settings: CommonSettings,
        metrics: KafkaMetrics | None = None,
        /,
        **overrides: Any,
    ) -> None:
        """``metrics``: the service's, to count what is produced and replaced;
        ``overrides`` are librdkafka settings (``**{"message.timeout.ms": 5000}``)."""
        self._conf: dict[str, Any] = {
            **kafka_client_config(settings),
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            "linger.ms": 2,
            "compression.type": "lz4",
            **overrides,
        }
        self.state = ClientState("producer", metrics)
        self._producer: Producer | None = None
        self._generation = 0  # which instance is current; a dead one's reports are stale
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Acknowledgements served by librdkafka, waiting for the loop (deque: thread-safe).
        self._acks: deque[tuple[asyncio.Future[Message], KafkaError | None, Message]] = deque()
        self._metrics = metrics
        self._produced: dict[str, Counter] = {}  # per topic; topic names are few
        # Acknowledgements so far (any thread), and since when none came while records
        # waited: ``unacknowledged_for``.
        self._acknowledged = 0
        self._seen_acknowledged = 0
        self._quiet_since = time.monotonic()

    async def start(self) -> None:
        if self._producer is not None:
            return
        self._stopping.clear()
        self._loop = asyncio.get_running_loop()
        self._producer = self._new_producer()
        self._poller = threading.Thread(
            target=self._poll_forever, name="producer-poll", daemon=True
        )
        self._poller.start()

    def _new_producer(self) -> Producer:
        self._generation += 1
        generation = self._generation

        def on_error(err: KafkaError) -> None:
            if err.fatal():
                self._died(generation, err)

        return Producer({**self._conf, "error_cb": on_error})

    def _poll_forever(self) -> None:
        loop = self._loop
        while not self._stopping.is_set():
            producer = self._producer  # read each time: it may have been replaced
            if producer is None:
                return
            producer.poll(0.05)
            if self._acks and loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._settle_acks)

    def _settle_acks(self) -> None:
        """On the loop: resolve every future whose acknowledgement has been served."""
        acks = self._acks
        while acks:
            _settle(*acks.popleft())

    # -- a dead instance and its replacement -------------------------------------------

    def _died(self, generation: int, err: KafkaError) -> None:
        """On any thread: the instance of ``generation`` reported ``err`` (a dead one)."""
        loop = self._loop
        if generation != self._generation or not self.state.failed(err.str()):
            return  # an instance already replaced, or a replacement already on its way
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._replace, generation)

    def _replace(self, generation: int) -> None:
        """On the loop: a new instance takes the dead one's place; the dead one's records
        fail (retriable) and it is closed on a thread of its own."""
        dead = self._producer
        if dead is None or generation != self._generation or self._stopping.is_set():
            return
        self._producer = self._new_producer()
        self.state.replaced()
        threading.Thread(
            target=self._dispose, args=(dead,), name="producer-dispose", daemon=True
        ).start()

    def _dispose(self, dead: Producer) -> None:
        try:
            dead.purge()  # queued and in-flight records fail now, not at their timeout
            dead.poll(0)  # serve their delivery reports (they fail the futures)
            dead.close()
        except Exception:  # a dead client may refuse anything; it is dropped either way
            logger.debug("closing a dead producer", exc_info=True)
        loop = self._loop
        if self._acks and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._settle_acks)

    # -- lifecycle -----------------------------------------------------------------------

    async def stop(self, timeout: float = 10.0) -> None:
        """Flush what is buffered (bounded by ``timeout``), then stop the poll thread."""
        producer, poller = self._producer, self._poller
        if producer is None:
            return
        remaining = await asyncio.to_thread(producer.flush, timeout)
        if remaining:
            logger.warning("producer stopped with %d unacknowledged records", remaining)
        self._stopping.set()
        if poller is not None:
            await asyncio.to_thread(poller.join)
        self._settle_acks()  # what the flush served
        self._producer = self._poller = None

    async def __aenter__(self) -> AsyncProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def send_nowait(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None = None,
        headers: Headers | None = None,
    ) -> asyncio.Future[Message]:
        """Enqueue a record; the future resolves on acknowledgement or fails with BrokerError."""
        producer = self._producer
        if producer is None:
            raise BrokerError("producer is not started")
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        generation = self._generation

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            # On whichever thread polled: the poll thread, the loop's own (a full queue),
            # or the thread disposing of a dead instance.
            if err is None:
                self._acknowledged += 1
                self._count(topic)
            elif is_dead_producer(err):
                self._died(generation, err)
            self._acks.append((future, err, msg))

        while True:
            try:
                producer.produce(
                    topic, value=value, key=key, headers=headers, on_delivery=on_delivery
                )
                return future
            except BufferError:
                # Local queue full: drain it here (we are on the loop), then try again.
                producer.poll(0.05)
                self._settle_acks()
            except KafkaException as exc:
                err = kafka_error_of(exc)
                if err is not None and is_dead_producer(err):
                    # As any failed write: a future that fails retriable (the instance is
                    # being replaced; the sender tries again).
                    self._died(generation, err)
                    future.set_exception(BrokerError(f"produce to {topic} failed: {err.str()}"))
                    return future
                raise

    def unacknowledged_for(self) -> float:
        """Seconds records have waited without the broker acknowledging any (0 while
        nothing waits or acknowledgements keep coming). Call it now and then from the loop:
        a consumer stops taking work it could not record (``signet.kafka.consumer``)."""
        now = time.monotonic()
        producer, acknowledged = self._producer, self._acknowledged
        if producer is None or len(producer) == 0 or acknowledged != self._seen_acknowledged:
            self._seen_acknowledged = acknowledged
            self._quiet_since = now
            return 0.0
        return now - self._quiet_since

    def _count(self, topic: str) -> None:
        """One record acknowledged, on whichever thread served the callback (counters are
        thread-safe)."""
        if self._metrics is None:
            return
        counter = self._produced.get(topic)
        if counter is None:
            counter = self._produced[topic] = self._metrics.produced.labels(topic)
        counter.inc()

    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None = None,
        *,
        headers: Headers | None = None,
        timeout: float | None = None,
    ) -> Message:
        try:
            return await asyncio.wait_for(self.send_nowait(topic, value, key, headers), timeout)
        except TimeoutError as exc:
            raise BrokerError(f"no acknowledgement for {topic} within {timeout}s") from exc


def _settle(future: asyncio.Future[Message], err: KafkaError | None, msg: Message) -> None:
    if future.done():
        return
    if err is not None:
        future.set_exception(BrokerError(f"produce to {msg.topic()} failed: {err.str()}"))
    else:
        future.set_result(msg)


class DeadLetterWriter:
    """Keeps a record we cannot process, whole and with the reason, on ``signet.dlq``."""

    def __init__(self, producer: AsyncProducer, topics: Topics, service: str) -> None:
        self._producer = producer
        self._topic = topics.dlq
        self._service = service

    async def write(self, msg: Message, error: BaseException) -> None:
        reason = str(error) or type(error).__name__
        letter = DeadLetter(
            source_topic=msg.topic() or "",
            partition=msg.partition() or 0,
            offset=msg.offset() or 0,
            reason=reason[:2000],
            error_type=type(error).__name__,
            service=self._service,
            failed_at=now_ms(),
            original_key=_as_bytes(msg.key()),
            original_value=_as_bytes(msg.value()),
        )
        logger.warning(
            "dead-lettered %s[%s]@%s: %s",
            letter.source_topic,
            letter.partition,
            letter.offset,
            letter.reason,
        )
        await self._producer.send(self._topic, codec.encode(letter), key=letter.original_key)

    async def write_until_acknowledged(
        self,
        msg: Message,
        error: BaseException,
        *,
        pause: Pause = asyncio.sleep,
    ) -> None:
        """``write``, tried again until the broker acknowledges it (backing off up to
        5 s): a record is never passed over without its dead letter. ``pause`` waits
        between tries and may raise to give up (a service that is stopping)."""
        await retry_until_done(
            partial(self.write, msg, error),
            retry_on=BrokerError,
            on_retry=lambda exc, _: logger.warning(
                "dead letter not acknowledged (%s); retrying", exc
            ),
            pause=pause,
        )


def _as_bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def is_poison(error: BaseException) -> bool:
    """A record error that will not go away by retrying: dead-letter it and move on."""
    return not (isinstance(error, SignetError) and error.retriable)
