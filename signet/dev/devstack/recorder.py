"""Keep the dev stack's copy of its setup current: follow every compacted topic, save often.

With the embedded broker, ``signet up`` runs one :class:`ConfigRecorder`: a consumer (no
group, every partition from the beginning) on a thread of its own, keeping the newest
record of each key (``snapshot.LatestRecords``) and rewriting the file
(``snapshot.write_snapshot``) as they change.

How soon a change is in the file: the broker answers this consumer's fetch within
``FETCH_WAIT_MAX_MS`` (Tansu answers at the deadline), the thread polls every
``POLL_SECONDS``, and the file is rewritten at most every ``SAVE_INTERVAL_SECONDS`` (a
burst of changes costs one write, not one per record). A record the broker acknowledged
is in the file within about 0.4 s; the promise is :data:`SAVE_BOUND_SECONDS`, so a crash
of ``signet up`` (SIGKILL, power cut) loses at most the last second of changes. ``stop``
reads up to the end of every partition and saves once more, so a clean stop loses nothing.

Nothing is written before the consumer has read everything that was on the topics when
it started (which, after a restore, is the whole restored setup): a partial copy must
never replace a complete one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from signet_sdk.ids import now_ms

from signet.dev.devstack.snapshot import LatestRecords, compacted_topics, write_snapshot
from signet.errors import BrokerError
from signet.kafka.topics import consumer_client_config
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)

FETCH_WAIT_MAX_MS = 100
POLL_SECONDS = 0.1
SAVE_INTERVAL_SECONDS = 0.2
# What the stack promises (docs/getting-started.md): a change acknowledged by the broker
# is in the file within this, the three waits above with room to spare.
SAVE_BOUND_SECONDS = 1.0
DRAIN_SECONDS = 5.0
SAVE_RETRY_SECONDS = 5.0  # after a failed write (disk full): not five complaints a second
WATERMARK_TIMEOUT_SECONDS = 1.0

Partition = tuple[str, int]


class ConfigRecorder:
    """Follows the compacted topics of ``settings`` and keeps ``path`` up to date."""

    def __init__(
        self,
        settings: CommonSettings,
        path: Path,
        *,
        save_interval: float = SAVE_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._topics = compacted_topics(settings)
        self._path = path
        self._save_interval = save_interval
        self._clock = clock
        self._conf: dict[str, Any] = {
            **consumer_client_config(settings),
            "group.id": f"signet-config-recorder-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
        }
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._caught_up = threading.Event()
        self._next: dict[Partition, int] = {}  # the next offset to read, per partition
        self._last_error = ""
        self.saves = 0  # files written, for tests and the log

    @property
    def path(self) -> Path:
        return self._path

    @property
    def caught_up(self) -> bool:
        return self._caught_up.is_set()

    async def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        consumer = Consumer(self._conf)
        try:
            metadata = await asyncio.to_thread(consumer.list_topics, None, 10)
        except KafkaException as exc:
            consumer.close()
            raise BrokerError(f"cannot read the topics' metadata: {exc}") from exc
        counts: dict[str, int] = {}
        for name in self._topics:
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None or not topic.partitions:
                consumer.close()
                raise BrokerError(f"topic {name} does not exist; the stack creates it first")
            counts[name] = len(topic.partitions)
        partitions = [
            TopicPartition(name, p, OFFSET_BEGINNING)
            for name, count in counts.items()
            for p in range(count)
        ]
        consumer.assign(partitions)
        self._thread = threading.Thread(
            target=self._follow,
            args=(consumer, LatestRecords(counts), partitions),
            name="config-recorder",
            daemon=True,
        )
        self._thread.start()

    async def wait_caught_up(self, timeout: float) -> bool:
        """Whether everything on the topics at start has been read, within ``timeout``."""
        return await asyncio.to_thread(self._caught_up.wait, timeout)

    async def stop(self) -> None:
        """Read up to the end of every partition (bounded), save, close; idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        await asyncio.to_thread(thread.join)
        self._thread = None

    # -- the follower thread -------------------------------------------------------------

    def _follow(
        self, consumer: Consumer, latest: LatestRecords, partitions: list[TopicPartition]
    ) -> None:
        try:
            self._keep_current(consumer, latest, partitions)
        except Exception:  # said loudly, rather than lost with the thread
            logger.exception(
                "the copy of the stack's setup (%s) is no longer kept current", self._path
            )
        finally:
            consumer.close()

    def _keep_current(
        self, consumer: Consumer, latest: LatestRecords, partitions: list[TopicPartition]
    ) -> None:
        at_end: set[Partition] = set()
        dirty = False
        next_save = float("-inf")
        while not self._stopping.is_set():
            changed, alive = self._read(consumer, latest, at_end)
            dirty |= changed
            if not self._caught_up.is_set() and len(at_end) >= len(partitions):
                self._caught_up.set()
                dirty = True  # the first save: the file matches the topics from now on
            if not alive:
                if dirty and self._caught_up.is_set():
                    self._save(latest)
                logger.error(
                    "the copy of the stack's setup (%s) is no longer kept current: "
                    "changes from now on are lost when the stack stops",
                    self._path,
                )
                return
            now = self._clock()
            if dirty and self._caught_up.is_set() and now >= next_save:
                if self._save(latest):
                    next_save, dirty = now + self._save_interval, False
                else:
                    next_save = now + SAVE_RETRY_SECONDS
        if self._drain(consumer, latest, partitions) or self._caught_up.is_set():
            self._caught_up.set()
            if self._save(latest):
                kept = len(latest)
                noun = "record" if kept == 1 else "records"
                logger.info("setup saved to %s (%d %s)", self._path, kept, noun)
        else:
            logger.warning(
                "stopped before the copy of the setup had caught up; %s is unchanged",
                self._path,
            )

    def _read(
        self, consumer: Consumer, latest: LatestRecords, at_end: set[Partition]
    ) -> tuple[bool, bool]:
        """One poll: (whether a key changed, whether the consumer can go on)."""
        changed = False
        for msg in consumer.consume(500, POLL_SECONDS):
            err = msg.error()
            where = (msg.topic() or "", msg.partition() or 0)
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(where)
                    self._next[where] = max(self._next.get(where, 0), msg.offset() or 0)
                    continue
                if err.fatal():
                    logger.error("config recorder: %s", err.str())
                    return changed, False
                if err.str() != self._last_error:  # once per distinct complaint
                    self._last_error = err.str()
                    logger.warning("config recorder: %s", err.str())
                continue
            changed |= self._keep(msg, latest)
            self._next[where] = (msg.offset() or 0) + 1
        return changed, True

    @staticmethod
    def _keep(msg: Message, latest: LatestRecords) -> bool:
        key, value = msg.key(), msg.value()
        kind, stamp = msg.timestamp()
        return latest.apply(
            topic=msg.topic() or "",
            partition=msg.partition() or 0,
            offset=msg.offset() or 0,
            key=key.encode() if isinstance(key, str) else key,
            value=value.encode() if isinstance(value, str) else value,
            headers=_header_list(msg.headers()),
            timestamp=None if kind == TIMESTAMP_NOT_AVAILABLE else stamp,
        )

    def _drain(
        self, consumer: Consumer, latest: LatestRecords, partitions: list[TopicPartition]
    ) -> bool:
        """Read until every partition's position reaches the end it has now; whether it
        did within ``DRAIN_SECONDS``."""
        deadline = self._clock() + DRAIN_SECONDS
        ends: dict[Partition, int] = {}
        try:
            for tp in partitions:
                low, high = consumer.get_watermark_offsets(tp, WATERMARK_TIMEOUT_SECONDS)
                if high > low:
                    ends[(tp.topic, tp.partition)] = high
        except KafkaException as exc:
            logger.warning("config recorder: cannot read the topics' ends at stop (%s)", exc)
            return False
        at_end: set[Partition] = set()

        def behind() -> bool:
            return any(self._next.get(where, -1) < end for where, end in ends.items())

        while behind():
            if self._clock() > deadline:
                logger.warning("config recorder: not at the topics' ends within %ss", DRAIN_SECONDS)
                return False
            if not self._read(consumer, latest, at_end)[1]:
                return False
        return True

    def _save(self, latest: LatestRecords) -> bool:
        try:
            write_snapshot(self._path, latest.snapshot(saved_at=now_ms()))
        except OSError as exc:
            logger.error("cannot save the stack's setup to %s: %s", self._path, exc)
            return False
        self.saves += 1
        return True


def _header_list(headers: Any) -> list[tuple[str, bytes | str | None]]:
    """confluent-kafka gives headers as a list of pairs (or None); keep their order."""
    if not headers:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return [(str(name), value) for name, value in headers]
