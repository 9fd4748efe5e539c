"""An in-memory view of the event-type catalog, followed from Kafka.

Like :class:`~signet.kafka.config_view.ConfigView`: every partition of ``event-types``
read from the beginning on a thread of its own, ``ready`` once what was on the topic at
start-up has been read. The topic is compacted and keyed by type name, so the newest
record of a name is the type and a tombstone deletes it.

Each :class:`CatalogEntry` is one version of one type and compiles its schema the first
time a payload is checked against it: a validator is compiled once per type version,
and a new version (a new entry) never sees an old one's validator.

``wait_for_offset`` gives the portal read-your-writes: a write is answered once this
view has read past the offset the broker acknowledged it at.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from signet.catalog.json_schema import PayloadSchema
from signet.errors import BrokerError, CodecError
from signet.kafka.config_view import FETCH_WAIT_MAX_MS
from signet.kafka.topics import Topics, consumer_client_config
from signet.records import codec
from signet.records.model import EventTypeDefinition
from signet.runner import request_restart
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)


class CatalogEntry:
    """One version of one event type, with its parsed schema and example."""

    __slots__ = ("_compiled", "_lock", "definition", "example", "schema")

    def __init__(self, definition: EventTypeDefinition) -> None:
        self.definition = definition
        self.schema: dict[str, Any] | None = _parsed(definition.schema_json)
        self.example: dict[str, Any] | None = _parsed(definition.example_json)
        self._compiled: PayloadSchema | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def version(self) -> int:
        return self.definition.version

    @property
    def payload_schema(self) -> PayloadSchema | None:
        """The compiled schema (compiled on first use), or None for a type without one."""
        if self.schema is None:
            return None
        compiled = self._compiled
        if compiled is None:
            with self._lock:  # the router's loop and a test thread may ask at once
                if self._compiled is None:
                    self._compiled = PayloadSchema(self.schema)
                compiled = self._compiled
        return compiled


def _parsed(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = orjson.loads(text)
    return value if isinstance(value, dict) else None


class EventTypeView:
    """Follows ``event-types`` in a background thread; read from the event loop."""

    def __init__(self, settings: CommonSettings, *, poll_seconds: float = 0.1) -> None:
        self._topic = Topics.from_settings(settings).event_types
        self._conf = {
            **consumer_client_config(settings),
            "group.id": f"signet-catalog-view-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
        }
        self._poll_seconds = poll_seconds
        self._entries: dict[str, CatalogEntry] = {}
        # The last version of each name seen, deleted ones too: a type created again
        # after a delete continues from it (while this process remembers it).
        self._last_versions: dict[str, int] = {}
        self._next_offsets: dict[int, int] = {}  # partition → the next offset to read
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._caught_up = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Condition | None = None
        self.undecodable = 0

    @property
    def topic(self) -> str:
        return self._topic

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Condition()
        self._stopping.clear()
        consumer = Consumer(self._conf)
        try:
            metadata = await asyncio.to_thread(consumer.list_topics, self._topic, 10)
        except Exception as exc:
            consumer.close()
            raise BrokerError(f"cannot read metadata of {self._topic}: {exc}") from exc
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            consumer.close()
            raise BrokerError(f"topic {self._topic} does not exist; run `signet topics ensure`")
        partitions = [TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in topic.partitions]
        consumer.assign(partitions)
        self._thread = threading.Thread(
            target=self._follow, args=(consumer, len(partitions)), name="catalog-view", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        await asyncio.to_thread(thread.join)
        self._thread = None

    async def __aenter__(self) -> EventTypeView:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- reads -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once everything on the topic at start-up has been read."""
        return self._caught_up.is_set()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        if not await asyncio.to_thread(self._caught_up.wait, timeout):
            raise BrokerError(f"catalog view did not catch up with {self._topic} in {timeout}s")

    def get(self, name: str) -> CatalogEntry | None:
        return self._entries.get(name)

    def entries(self) -> list[CatalogEntry]:
        """Every type, by name."""
        return sorted(self._entries.values(), key=lambda e: e.name)

    def last_version(self, name: str) -> int:
        """The version of ``name`` last seen, 0 when never (or not since this start)."""
        return self._last_versions.get(name, 0)

    async def wait_for_offset(self, partition: int, offset: int, timeout: float) -> bool:
        """Wait until the record at ``offset`` of ``partition`` has been applied."""
        if self._changed is None:
            raise RuntimeError("EventTypeView.start() first")

        def applied() -> bool:
            return self._next_offsets.get(partition, 0) > offset

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(applied), timeout)
            except TimeoutError:
                return False
        return True

    # -- the follower thread -----------------------------------------------------------

    def _follow(self, consumer: Consumer, partition_count: int) -> None:
        at_end: set[int] = set()
        try:
            while not self._stopping.is_set():
                messages = consumer.consume(500, self._poll_seconds)
                changed = False
                for msg in messages:
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            at_end.add(msg.partition() or 0)
                        elif err.fatal():
                            request_restart(f"catalog view: {err.str()}")
                        else:
                            logger.warning("catalog view: %s", err.str())
                        continue
                    self._apply(msg.key(), msg.value())
                    self._next_offsets[msg.partition() or 0] = (msg.offset() or 0) + 1
                    changed = True
                if not self._caught_up.is_set() and len(at_end) >= partition_count:
                    self._caught_up.set()
                    changed = True
                if changed:
                    self._notify()
        finally:
            consumer.close()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:  # tombstone: the type was deleted
            self._entries.pop(key.decode() if key else "", None)
            return
        try:
            definition = codec.decode(value, EventTypeDefinition)
            entry = CatalogEntry(definition)
        except (CodecError, orjson.JSONDecodeError) as exc:
            self.undecodable += 1
            logger.error("catalog view: skipped an unreadable event type: %s", exc)
            return
        # Dict assignment is atomic: readers on the loop see the old entry or the new one.
        self._entries[definition.name] = entry
        self._last_versions[definition.name] = max(
            definition.version, self._last_versions.get(definition.name, 0)
        )

    def _notify(self) -> None:
        loop, changed = self._loop, self._changed
        if loop is None or changed is None or loop.is_closed():
            return

        async def notify_all() -> None:
            async with changed:
                changed.notify_all()

        asyncio.run_coroutine_threadsafe(notify_all(), loop)
