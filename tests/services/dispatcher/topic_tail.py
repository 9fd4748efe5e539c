"""Follow a topic from the beginning in a thread and wait for records to show up."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from typing import Generic, TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from signet.errors import CodecError
from signet.kafka.topics import kafka_client_config
from signet.records import codec
from signet.records.model import Record
from signet.settings import CommonSettings
from tests.eventually import eventually

R = TypeVar("R", bound=Record)


class TopicTail(Generic[R]):
    def __init__(self, settings: CommonSettings, topic: str, record_type: type[R]) -> None:
        self._settings = settings
        self._topic = topic
        self._type = record_type
        self._records: list[R] = []
        self._headers: list[object] = []  # of each record, in order
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        consumer = Consumer(
            {
                **kafka_client_config(self._settings),
                "group.id": f"tail-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )
        metadata = await asyncio.to_thread(consumer.list_topics, self._topic, 10)
        partitions = metadata.topics[self._topic].partitions
        consumer.assign([TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in partitions])
        self._thread = threading.Thread(target=self._follow, args=(consumer,), daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def _follow(self, consumer: Consumer) -> None:
        try:
            while not self._stop.is_set():
                for msg in consumer.consume(100, 0.1):
                    if msg.error() is not None:
                        continue
                    try:
                        record = codec.decode(msg.value(), self._type)
                    except CodecError:
                        continue
                    with self._lock:
                        self._records.append(record)
                        self._headers.append(msg.headers() or [])
        finally:
            consumer.close()

    @property
    def records(self) -> list[R]:
        with self._lock:
            return list(self._records)

    def headers_of(self, record: R) -> object:
        """The Kafka headers ``record`` was read with."""
        with self._lock:
            return self._headers[self._records.index(record)]

    async def wait_for(
        self, predicate: Callable[[list[R]], bool], what: str, timeout: float = 30.0
    ) -> list[R]:
        """The records once ``predicate`` holds for them; fails the test at the deadline."""

        def held() -> tuple[list[R]] | None:
            records = self.records
            return (records,) if predicate(records) else None

        (records,) = await eventually(
            held, lambda: f"{what}: not seen on {self._topic}: {self.records}", timeout
        )
        return records
