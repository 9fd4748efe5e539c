"""The recorder: nothing saved before every partition was read (a scripted consumer), and
on a real broker the file follows the compacted topics within the bound, tombstones remove
keys, and a stop saves what came just before it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, Producer, TopicPartition

from signet.dev.broker import EmbeddedBroker
from signet.dev.devstack.recorder import SAVE_BOUND_SECONDS, ConfigRecorder
from signet.dev.devstack.snapshot import (
    SNAPSHOT_FILE,
    LatestRecords,
    Snapshot,
    StoredRecord,
    read_snapshot,
    write_snapshot,
)
from signet.kafka.topics import Topics, kafka_client_config
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.topics import fresh_topics

pytestmark = pytest.mark.timeout(120)

Saved = dict[bytes, tuple[int, bytes, tuple[tuple[str, bytes | None], ...], int | None]]


def saved(path: Path) -> Saved | None:
    """key → (partition, value, headers, timestamp) as the file has them; None: no file."""
    snapshot = read_snapshot(path)
    if snapshot is None:
        return None
    return {r.key: (r.partition, r.value, r.headers, r.timestamp) for r in snapshot.records}


TOPIC = "signet.workspace-config"


class Scripted:
    """A stand-in message: a record, or the end of a partition."""

    def __init__(self, partition: int, offset: int, key: bytes | None = None) -> None:
        self._partition, self._offset, self._key = partition, offset, key

    def error(self) -> KafkaError | None:
        return None if self._key else KafkaError(KafkaError._PARTITION_EOF)

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes:
        return b"value of " + (self._key or b"")

    def headers(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


class ScriptedConsumer:
    """Serves one batch per poll; ``before_poll(n)`` runs before the n-th (from 0)."""

    def __init__(self, batches: list[list[Scripted]], before_poll: Any) -> None:
        self._batches = batches
        self._before_poll = before_poll
        self.polls = 0

    def consume(self, num_messages: int, timeout: float) -> list[Scripted]:
        self._before_poll(self.polls)
        self.polls += 1
        return self._batches.pop(0) if self._batches else []

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        return (0, 1)  # one record on each partition

    def close(self) -> None:
        pass


def test_nothing_is_saved_before_every_partition_was_read(tmp_path: Path) -> None:
    path = tmp_path / SNAPSHOT_FILE
    previous = Snapshot(
        (StoredRecord(TOPIC, 0, 0, b"ws_old", b"old"), StoredRecord(TOPIC, 1, 0, b"ws_b", b"b")),
        {TOPIC: 2},
    )
    write_snapshot(path, previous)
    recorder = ConfigRecorder(CommonSettings(), path, save_interval=0)

    problems: list[str] = []  # the recorder's thread body logs exceptions: collect instead

    def before_poll(n: int) -> None:
        saved_now = read_snapshot(path)
        if n < 3 and saved_now != previous:  # partition 1 is not read yet: keep the old copy
            problems.append(f"saved before poll {n}: {saved_now}")
        if n == 3:  # everything read: saved, and the key no longer on the topic is gone
            keys = {r.key for r in saved_now.records} if saved_now else set()
            if keys != {b"ws_a", b"ws_b"}:
                problems.append(f"after every partition was read, the file has {keys}")
            recorder._stopping.set()

    consumer = ScriptedConsumer(
        [
            [Scripted(0, 0, b"ws_a"), Scripted(0, 1)],  # partition 0 read to its end
            [],
            [Scripted(1, 0, b"ws_b"), Scripted(1, 1)],  # partition 1 too
        ],
        before_poll,
    )
    partitions = [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)]
    recorder._follow(consumer, LatestRecords({TOPIC: 2}), partitions)  # type: ignore[arg-type]
    assert problems == []
    assert consumer.polls >= 4 and recorder.caught_up


class Writer:
    """Produces to the config topic and returns once the broker acknowledged."""

    def __init__(self, settings: CommonSettings) -> None:
        self.topic = Topics.from_settings(settings).workspace_config
        self._producer = Producer({**kafka_client_config(settings), "acks": "all"})

    async def put(
        self,
        key: bytes,
        value: bytes | None,
        *,
        partition: int = 0,
        headers: list[tuple[str, str | bytes | None]] | None = None,
        timestamp: int = 0,
    ) -> None:
        self._producer.produce(
            self.topic,
            value=value,
            key=key,
            partition=partition,
            headers=headers,
            timestamp=timestamp,
        )
        assert await asyncio.to_thread(self._producer.flush, 10) == 0


async def test_the_file_follows_the_topics_within_the_bound(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = fresh_topics(broker.bootstrap)
    path = tmp_path / SNAPSHOT_FILE
    writer = Writer(settings)
    await writer.put(b"ws_a", b"a1", partition=1, headers=[("h", b"\x01"), ("n", None)])
    await writer.put(b"ws_b", b"b1", partition=2, timestamp=1_700_000_000_000)
    recorder = ConfigRecorder(settings, path)
    await recorder.start()
    try:
        assert await recorder.wait_caught_up(30)
        first = await eventually(lambda: saved(path), "the first save", 10)
        assert first[b"ws_a"][:3] == (1, b"a1", (("h", b"\x01"), ("n", None)))
        assert first[b"ws_b"] == (2, b"b1", (), 1_700_000_000_000)

        # Acknowledged by the broker → in the file within the promised bound.
        await writer.put(b"ws_a", b"a2", partition=1)
        await writer.put(b"ws_b", None, partition=2)  # a tombstone: the key is gone

        def changed() -> bool:
            now = saved(path)
            return now is not None and set(now) == {b"ws_a"} and now[b"ws_a"][1] == b"a2"

        await eventually(changed, "the change in the file", SAVE_BOUND_SECONDS)
    finally:
        await recorder.stop()
    snapshot = read_snapshot(path)
    # Every compacted topic is recorded: the catalog's and the operator webhook's too (empty).
    catalog = Topics.from_settings(settings).event_types
    operator_webhook = Topics.from_settings(settings).operator_webhook
    assert snapshot is not None
    assert snapshot.partitions == {writer.topic: 3, catalog: 1, operator_webhook: 1}


async def test_stop_saves_what_came_just_before(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = fresh_topics(broker.bootstrap)
    path = tmp_path / SNAPSHOT_FILE
    writer = Writer(settings)
    # Saves far apart: after the first one, only the stop can write the change.
    recorder = ConfigRecorder(settings, path, save_interval=3600)
    await recorder.start()
    try:
        assert await recorder.wait_caught_up(30)
        await eventually(lambda: saved(path) == {}, "the first save (empty topics)", 10)
        await writer.put(b"ws_late", b"late", partition=0)
    finally:
        await recorder.stop()
    after = saved(path)
    assert after is not None and set(after) == {b"ws_late"}
    partition, value, headers, timestamp = after[b"ws_late"]
    assert (partition, value, headers) == (0, b"late", ())
    assert timestamp is not None and timestamp > 0  # the broker's CreateTime, kept
    await recorder.stop()  # idempotent
