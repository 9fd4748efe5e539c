"""DeadLetterWriter: a dead letter keeps the record whole with the reason, and is written
again until the broker takes it (a fake producer: pure logic; the services' tests write
real dead letters to the real broker)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from confluent_kafka import Message

from signet.errors import BrokerError, InvalidRecordError
from signet.kafka.clients import AsyncProducer, DeadLetterWriter
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import DeadLetter
from signet.settings import CommonSettings


class RefusingProducer:
    """Refuses the first ``refusals`` sends, then keeps what it is sent."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.sent: list[tuple[str, bytes | None, Any]] = []

    async def send(self, topic: str, value: bytes | None, key: Any = None) -> None:
        if self.refusals:
            self.refusals -= 1
            raise BrokerError("broker unavailable")
        self.sent.append((topic, value, key))


class Record:
    """What the writer reads of a consumed record."""

    def topic(self) -> str:
        return "signet.deliveries"

    def partition(self) -> int:
        return 3

    def offset(self) -> int:
        return 42

    def key(self) -> bytes:
        return b"dst_1"

    def value(self) -> bytes:
        return b"\x00not avro"


async def test_a_refused_dead_letter_is_written_again_with_growing_pauses() -> None:
    producer = RefusingProducer(refusals=3)
    topics = Topics.from_settings(CommonSettings())
    writer = DeadLetterWriter(cast(AsyncProducer, producer), topics, "dispatcher")
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    error = InvalidRecordError("delivery has an empty body")
    await writer.write_until_acknowledged(cast(Message, Record()), error, pause=pause)

    assert pauses == [0.1, 0.2, 0.4]
    [(topic, value, key)] = producer.sent
    assert (topic, key) == (topics.dlq, b"dst_1")
    letter = codec.decode(value, DeadLetter)
    assert (letter.source_topic, letter.partition, letter.offset) == ("signet.deliveries", 3, 42)
    assert (letter.reason, letter.error_type) == (
        "delivery has an empty body",
        "InvalidRecordError",
    )
    assert (letter.service, letter.original_value) == ("dispatcher", b"\x00not avro")


async def test_a_pause_that_raises_gives_up() -> None:
    writer = DeadLetterWriter(
        cast(AsyncProducer, RefusingProducer(refusals=10)),
        Topics.from_settings(CommonSettings()),
        "portal",
    )

    async def stopping(seconds: float) -> None:
        raise RuntimeError("stopping")

    with pytest.raises(RuntimeError, match="stopping"):
        await writer.write_until_acknowledged(
            cast(Message, Record()), InvalidRecordError("x"), pause=stopping
        )
