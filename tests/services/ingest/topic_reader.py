"""Test helpers over a real topic: read back events, and Kafka's (Java) murmur2 partitioner.

``murmur2`` is an independent, pure-Python port of ``org.apache.kafka.common.utils.Utils
.murmur2``; tests check it against Kafka's published test vectors and against a
confluent-kafka producer configured with ``murmur2_random``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from signet.kafka.topics import kafka_client_config
from signet.records import codec
from signet.records.model import Event
from signet.settings import CommonSettings

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of ``data`` as a signed 32-bit int (Java ``Utils.murmur2``)."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    for i in range(0, length - length % 4, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & ~3
    extra = length % 4
    if extra == 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def kafka_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default (and Faust's) partitioner picks for ``key``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


@dataclass(slots=True, frozen=True)
class EventRecord:
    key: str
    partition: int
    offset: int
    event: Event


def _read(
    settings: CommonSettings,
    topic: str,
    until: Callable[[list[EventRecord]], bool],
    timeout: float,
) -> list[EventRecord]:
    consumer = Consumer(
        {
            **kafka_client_config(settings),
            "group.id": "ingest-test-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic, 10)
        partitions = list(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records: list[EventRecord] = []
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition() or 0)
                        continue
                    raise AssertionError(f"reading {topic}: {err.str()}")
                at_end.discard(msg.partition() or 0)
                key = msg.key()
                records.append(
                    EventRecord(
                        key.decode() if isinstance(key, bytes) else str(key),
                        msg.partition() or 0,
                        msg.offset() or 0,
                        codec.decode(msg.value(), Event),
                    )
                )
            if len(at_end) == len(partitions) and until(records):
                return records
        raise AssertionError(f"condition not met on {topic} within {timeout}s: {records}")
    finally:
        consumer.close()


async def read_events(
    settings: CommonSettings,
    topic: str,
    until: Callable[[list[EventRecord]], bool],
    timeout: float = 20.0,
) -> list[EventRecord]:
    """Every record on ``topic``, read to the end, once ``until(records)`` holds."""
    return await asyncio.to_thread(_read, settings, topic, until, timeout)


def contains_ids(*event_ids: str) -> Callable[[list[EventRecord]], bool]:
    wanted = set(event_ids)
    return lambda records: wanted <= {r.event.id for r in records}
