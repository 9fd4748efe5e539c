"""The records the router consumes, independent of the Kafka client that fetched them.

Faust's message types stay in ``streams.py`` and ``transport.py``; the command and event
paths see only :class:`SourceRecord`, so they can be driven by unit tests and by any
consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from aiokafka.partitioner import murmur2
from confluent_kafka import Message

from signet.errors import InvalidRecordError
from signet.tracing import RecordHeaders


@dataclass(slots=True, frozen=True)
class SourceRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # The trace context travels here (``traceparent``, ``signet/tracing.py``).
    headers: RecordHeaders = ()

    def as_message(self) -> Message:
        """The shape :class:`signet.kafka.clients.DeadLetterWriter` keeps."""
        return Message(
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            key=self.key,
            value=self.value,
        )


@lru_cache(maxsize=65536)
def expected_partition(key: bytes, partitions: int) -> int:
    """The partition Java clients, aiokafka and ``murmur2_random`` choose for ``key``."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def check_keyed_by_workspace(record: SourceRecord, workspace_id: str, partitions: int) -> None:
    """The record must sit on its workspace's partition, or the config lookup goes wrong.

    Commands, config snapshots and events are co-partitioned by workspace id: the worker
    owning events partition p holds the config of exactly the workspaces hashed to p. A
    record keyed otherwise, or placed by another partitioner (librdkafka's default is not
    murmur2), would be applied to or looked up in the wrong shard once there are two
    workers, so it is refused now rather than misrouted later.
    """
    if record.key is None:
        raise InvalidRecordError("record has no key; the key must be its workspace_id")
    if record.key != workspace_id.encode():
        raise InvalidRecordError(
            f"record key {record.key[:100]!r} is not its workspace_id {workspace_id!r}"
        )
    expected = expected_partition(record.key, partitions)
    if record.partition != expected:
        raise InvalidRecordError(
            f"record for workspace {workspace_id} is on partition {record.partition} but "
            f"belongs on {expected}: produce keyed records with the murmur2 partitioner"
        )
