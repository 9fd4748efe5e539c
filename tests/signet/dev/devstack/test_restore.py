"""Restoring on a real broker: every record back verbatim on its partition, the key's
partition when the count changed, other prefixes skipped, and what the banner counts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition as AioTopicPartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from services.router.source import expected_partition
from signet.dev.broker import EmbeddedBroker
from signet.dev.devstack.recorder import ConfigRecorder
from signet.dev.devstack.restore import restore_setup, restore_snapshot
from signet.dev.devstack.snapshot import (
    SNAPSHOT_FILE,
    Snapshot,
    StoredRecord,
    read_snapshot,
    write_snapshot,
)
from signet.kafka.topics import Topics, kafka_client_config
from signet.records import codec
from signet.records.model import PublishableKey, WorkspaceConfig
from signet.settings import CommonSettings
from tests.topics import fresh_topics

pytestmark = pytest.mark.timeout(120)

Read = tuple[int, bytes, bytes, tuple[tuple[str, bytes | None], ...], int]


def header_pairs(msg: Message) -> tuple[tuple[str, bytes | None], ...]:
    raw = msg.headers() or []
    pairs = list(raw.items()) if isinstance(raw, dict) else raw
    return tuple(
        (name, value.encode() if isinstance(value, str) else value) for name, value in pairs
    )


def read_topic(settings: CommonSettings, topic: str, partitions: int) -> list[Read]:
    """Every record of ``topic``: (partition, key, value, headers, timestamp)."""
    consumer = Consumer(
        {
            **kafka_client_config(settings),
            "group.id": "test-restore-reader",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    found: list[Read] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + 30
    try:
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, f"not at the end of {topic} within 30s"
            for msg in consumer.consume(100, 1.0):
                err = msg.error()
                if err is not None:
                    assert err.code() == KafkaError._PARTITION_EOF, err.str()
                    at_end.add(msg.partition() or 0)
                    continue
                key, value = msg.key(), msg.value()
                assert isinstance(key, bytes) and isinstance(value, bytes)
                headers = header_pairs(msg)
                found.append((msg.partition() or 0, key, value, headers, msg.timestamp()[1]))
    finally:
        consumer.close()
    return sorted(found)


def workspace(workspace_id: str, *, keys: int = 1) -> bytes:
    config = WorkspaceConfig(
        workspace_id=workspace_id,
        version=4,
        name="Casterly",
        environment="development",
        created_at=1_700_000_000_000,
        updated_at=1_700_000_000_500,
        publishable_keys=[
            PublishableKey(id=f"pk_{n}", sha256="0" * 64, hint="pk_…", created_at=1)
            for n in range(keys)
        ],
    )
    return codec.encode(config)


def stored(topic: str, key: bytes, value: bytes, partition: int, **extra: object) -> StoredRecord:
    return StoredRecord(
        topic=topic,
        partition=partition,
        offset=0,
        key=key,
        value=value,
        **extra,  # type: ignore[arg-type]
    )


async def test_records_come_back_verbatim_on_their_partitions(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = fresh_topics(broker.bootstrap)
    topic = Topics.from_settings(settings).workspace_config
    records = (
        stored(topic, b"ws_a", workspace("ws_a", keys=2), 0, timestamp=1_700_000_000_001),
        stored(
            topic,
            b"ws_b",
            workspace("ws_b"),
            2,
            headers=(("h", b"\x00\xff"), ("n", None)),
            timestamp=1_700_000_000_002,
        ),
        stored("other.workspace-config", b"ws_x", b"x", 0),  # another prefix
    )
    snapshot = Snapshot(records, {topic: 3, "other.workspace-config": 3})

    report = await asyncio.to_thread(restore_snapshot, settings, snapshot, tmp_path / "s")

    assert read_topic(settings, topic, 3) == [
        (0, b"ws_a", records[0].value, (), 1_700_000_000_001),
        (2, b"ws_b", records[1].value, (("h", b"\x00\xff"), ("n", None)), 1_700_000_000_002),
    ]
    assert (report.records, report.workspaces, report.publishable_keys) == (2, 2, 3)
    assert report.skipped == {"other.workspace-config": 1}
    assert report.repartitioned == ()


async def test_the_reported_end_covers_every_restored_record(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """The router's table recovery reads each changelog partition up to the end offset
    the broker reports (aiokafka's ``end_offsets``, as Faust asks). Tansu reports the last
    batch's base offset + 1, so records restored in one batch would end short of it and
    the restarted router would not know the workspaces restored last."""
    settings = fresh_topics(broker.bootstrap)
    topic = Topics.from_settings(settings).workspace_config
    keys = [f"ws_{n}".encode() for n in range(5)]
    snapshot = Snapshot(
        tuple(stored(topic, key, workspace(key.decode()), 1) for key in keys), {topic: 3}
    )

    await asyncio.to_thread(restore_snapshot, settings, snapshot, tmp_path / "s")

    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = AioTopicPartition(topic, 1)
        assert await consumer.end_offsets([partition]) == {partition: len(keys)}
    finally:
        await consumer.stop()


async def test_a_changed_partition_count_puts_records_where_their_keys_hash(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = fresh_topics(broker.bootstrap)  # 3 partitions now
    topic = Topics.from_settings(settings).workspace_config
    keys = [f"ws_{n}".encode() for n in range(8)]
    # Saved with 6 partitions: some old partitions do not even exist any more.
    snapshot = Snapshot(
        tuple(stored(topic, key, b"v", 5) for key in keys),
        {topic: 6},
    )
    report = await asyncio.to_thread(restore_snapshot, settings, snapshot, tmp_path / "s")
    assert report.repartitioned == (topic,)
    assert sorted((p, k) for p, k, *_ in read_topic(settings, topic, 3)) == sorted(
        (expected_partition(key, 3), key) for key in keys
    )


async def test_restored_then_recorded_is_the_same_copy(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """What a restart does: restore the file, follow the topics, save: nothing lost."""
    settings = fresh_topics(broker.bootstrap)
    topic = Topics.from_settings(settings).workspace_config
    path = tmp_path / SNAPSHOT_FILE
    before = Snapshot(
        (
            stored(topic, b"ws_a", workspace("ws_a"), 1, timestamp=1_700_000_000_003),
            stored(topic, b"ws_b", workspace("ws_b"), 2, headers=(("h", b"1"),), timestamp=7),
        ),
        {topic: 3},
    )
    write_snapshot(path, before)

    report = await asyncio.to_thread(
        restore_setup, settings, path, fresh=False, master_key_ids={"k1"}
    )
    assert report.workspaces == 2
    recorder = ConfigRecorder(settings, path)
    await recorder.start()
    assert await recorder.wait_caught_up(30)
    await recorder.stop()

    after = read_snapshot(path)
    assert after is not None and after.saved_at > before.saved_at

    def essence(s: Snapshot) -> set[tuple[str, int, bytes, bytes, object, object]]:
        return {(r.topic, r.partition, r.key, r.value, r.headers, r.timestamp) for r in s.records}

    assert essence(after) == essence(before)


def test_fresh_forgets_the_copy_without_touching_the_broker(tmp_path: Path) -> None:
    path = tmp_path / SNAPSHOT_FILE
    write_snapshot(path, Snapshot((), {}))
    settings = CommonSettings(kafka_bootstrap="127.0.0.1:1")  # never contacted
    report = restore_setup(settings, path, fresh=True, master_key_ids=set())
    assert report.fresh and not path.exists()
