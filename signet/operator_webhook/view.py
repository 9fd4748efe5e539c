"""The operator's webhook as configured: followed from its compacted topic.

One key (:data:`KEY`), one partition; a tombstone means none is set. The portal writes it
and waits to see its own write here (read-your-writes, by the record's revision ``id``);
the router and the dispatcher read it to decide whether an operational event is wanted
and where it goes. Like ``ConfigView``: a thread reads from the beginning and follows, and
``ready`` says it has read what was there when it started.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from signet.errors import BrokerError, CodecError
from signet.kafka.topics import Topics, consumer_client_config
from signet.records import codec
from signet.records.model import OperatorWebhook
from signet.runner import request_restart
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)

KEY = b"operator-webhook"
FETCH_WAIT_MAX_MS = 50


class OperatorWebhookView:
    def __init__(self, settings: CommonSettings, *, poll_seconds: float = 0.1) -> None:
        self.topic = Topics.from_settings(settings).operator_webhook
        self._conf = {
            **consumer_client_config(settings),
            "group.id": f"signet-operator-webhook-view-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
        }
        self._poll_seconds = poll_seconds
        self._current: OperatorWebhook | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._caught_up = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Condition | None = None

    @property
    def current(self) -> OperatorWebhook | None:
        """The webhook as last read; None when none is set."""
        return self._current

    def wants(self, event_type: str) -> bool:
        """Is a webhook set, and does it subscribe to ``event_type``?"""
        hook = self._current
        return hook is not None and event_type in hook.event_types

    @property
    def ready(self) -> bool:
        return self._caught_up.is_set()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        if not await asyncio.to_thread(self._caught_up.wait, timeout):
            raise BrokerError(f"operator webhook view did not catch up with {self.topic}")

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        if self._changed is None:
            raise RuntimeError("OperatorWebhookView.start() first")
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                return False
        return True

    async def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Condition()
        self._stopping.clear()
        consumer = Consumer(self._conf)
        try:
            metadata = await asyncio.to_thread(consumer.list_topics, self.topic, 10)
        except Exception as exc:
            consumer.close()
            raise BrokerError(f"cannot read metadata of {self.topic}: {exc}") from exc
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            consumer.close()
            raise BrokerError(f"topic {self.topic} does not exist; run `signet topics ensure`")
        partitions = [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in topic.partitions]
        consumer.assign(partitions)
        self._thread = threading.Thread(
            target=self._follow,
            args=(consumer, len(partitions)),
            name="operator-webhook-view",
            daemon=True,
        )
        self._thread.start()

    async def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        await asyncio.to_thread(thread.join)
        self._thread = None

    async def __aenter__(self) -> OperatorWebhookView:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _follow(self, consumer: Consumer, partition_count: int) -> None:
        at_end: set[int] = set()
        try:
            while not self._stopping.is_set():
                changed = False
                for msg in consumer.consume(100, self._poll_seconds):
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            at_end.add(msg.partition() or 0)
                        elif err.fatal():
                            request_restart(f"operator webhook view: {err.str()}")
                        else:
                            logger.warning("operator webhook view: %s", err.str())
                        continue
                    if msg.key() != KEY:
                        continue
                    changed |= self._apply(msg.value())
                if not self._caught_up.is_set() and len(at_end) >= partition_count:
                    self._caught_up.set()
                    changed = True
                if changed:
                    self._notify()
        finally:
            consumer.close()

    def _apply(self, value: bytes | None) -> bool:
        if value is None:
            self._current = None
            return True
        try:
            self._current = codec.decode(value, OperatorWebhook)
        except CodecError as exc:
            logger.error("operator webhook view: skipped an undecodable record: %s", exc)
            return False
        return True

    def _notify(self) -> None:
        loop, changed = self._loop, self._changed
        if loop is None or changed is None or loop.is_closed():
            return

        async def notify_all() -> None:
            async with changed:
                changed.notify_all()

        asyncio.run_coroutine_threadsafe(notify_all(), loop)
