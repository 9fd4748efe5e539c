"""Follow a compacted topic into memory: the base of every config view.

A service that needs the latest record of each key of a compacted topic (the workspace
configs, the event-type catalog, the operator's webhook) reads every partition from the
beginning on a thread of its own and keeps following; the event loop reads what the
thread built. ``ready`` says everything on the topic at start-up has been read; a
subclass says what a record means in :meth:`CompactedView.apply`.

Read-your-writes for a writer on the same process: :meth:`~CompactedView.wait_for` (until
a predicate over the view holds) or :meth:`~CompactedView.wait_for_offset` (until the
record the broker acknowledged at an offset has been applied).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from typing import ClassVar, Self

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from signet.errors import BrokerError
from signet.kafka.topics import consumer_client_config
from signet.runner import request_restart
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)

# On a broker that answers a fetch only at its deadline (Tansu), how late a change is
# seen; librdkafka's 500 ms would be every read-your-write's.
FETCH_WAIT_MAX_MS = 50


class CompactedView(abc.ABC):
    """Follows one compacted topic in a background thread; read from the event loop."""

    name: ClassVar[str]  # for logs, errors and the thread: "config view"

    def __init__(self, settings: CommonSettings, topic: str, *, poll_seconds: float) -> None:
        self.topic = topic
        self._conf = {
            **consumer_client_config(settings),
            "group.id": f"signet-{self.name.replace(' ', '-')}-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
        }
        self._poll_seconds = poll_seconds
        self._next_offsets: dict[int, int] = {}  # partition → the next offset to read
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._caught_up = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Condition | None = None
        self.undecodable = 0  # records skipped because they could not be read

    @abc.abstractmethod
    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Take one record (``value`` None: a tombstone), on the follower thread. A record
        that cannot be read is logged, counted in ``undecodable`` and skipped: it must not
        stop the view. Waiters are woken after each batch of records."""

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Assign every partition from the beginning and start following. Idempotent;
        :class:`~signet.errors.BrokerError` when the topic is missing or unreadable."""
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
            name=self.name.replace(" ", "-"),
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

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- waiting -----------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once everything on the topic at start-up has been read."""
        return self._caught_up.is_set()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        if not await asyncio.to_thread(self._caught_up.wait, timeout):
            raise BrokerError(f"{self.name} did not catch up with {self.topic} in {timeout:g}s")

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds after some update; False on timeout."""
        if self._changed is None:
            raise RuntimeError(f"{type(self).__name__}.start() first")
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                return False
        return True

    async def wait_for_offset(self, partition: int, offset: int, timeout: float) -> bool:
        """Wait until the record at ``offset`` of ``partition`` has been applied."""
        return await self.wait_for(lambda: self._next_offsets.get(partition, 0) > offset, timeout)

    # -- the follower thread -----------------------------------------------------------

    def _follow(self, consumer: Consumer, partition_count: int) -> None:
        at_end: set[int] = set()
        try:
            while not self._stopping.is_set():
                changed = False
                for msg in consumer.consume(500, self._poll_seconds):
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            at_end.add(msg.partition() or 0)
                        elif err.fatal():
                            # A dead client: the process restarts and reads the topic anew.
                            request_restart(f"{self.name}: {err.str()}")
                        else:
                            logger.warning("%s: %s", self.name, err.str())
                        continue
                    self.apply(msg.key(), msg.value())
                    self._next_offsets[msg.partition() or 0] = (msg.offset() or 0) + 1
                    changed = True
                if not self._caught_up.is_set() and len(at_end) >= partition_count:
                    self._caught_up.set()
                    changed = True
                if changed:
                    self._notify()
        finally:
            consumer.close()

    def _notify(self) -> None:
        loop, changed = self._loop, self._changed
        if loop is None or changed is None or loop.is_closed():
            return

        async def notify_all() -> None:
            async with changed:
                changed.notify_all()

        asyncio.run_coroutine_threadsafe(notify_all(), loop)
