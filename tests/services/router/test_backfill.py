"""The router's direct reader on a real broker: where a partition's processing starts, and
where a partition ends, when the broker reports the end short.

Tansu, the broker of the tests, reports a partition's end (ListOffsets) as its last batch's
base offset + 1: five records produced in one batch read as an end of 1. Both answers
below must come from what a read finds, or a restarted router would recover its table
short (``transport.py``) or route a whole partition again from its first record.
"""

from __future__ import annotations

import asyncio

import pytest
from confluent_kafka import Consumer, TopicPartition

from services.router.backfill import BrokerReader
from signet.dev.broker import EmbeddedBroker
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics, kafka_client_config
from signet.settings import CommonSettings, RouterSettings
from tests.topics import fresh_topics

pytestmark = pytest.mark.timeout(60)

GROUP = "test-backfill"


async def five_in_one_batch(settings: CommonSettings, topic: str) -> None:
    producer = AsyncProducer(settings)
    await producer.start()
    try:
        await asyncio.gather(*(producer.send(topic, b"v", key="ws") for _ in range(5)))
    finally:
        await producer.stop()


def reported_end(settings: CommonSettings, topic: str) -> int:
    consumer = Consumer({**kafka_client_config(settings), "group.id": GROUP})
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return int(high)
    finally:
        consumer.close()


def commit(settings: CommonSettings, topic: str, offset: int) -> None:
    consumer = Consumer({**kafka_client_config(settings), "group.id": GROUP})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


@pytest.fixture
async def short_partition(broker: EmbeddedBroker) -> tuple[RouterSettings, str]:
    """A partition holding five records in one batch, whose end the broker reports as 1."""
    common = fresh_topics(broker.bootstrap, partitions=1)
    topic = Topics.from_settings(common).workspace_commands
    await five_in_one_batch(common, topic)
    # What the answers below are about: without it this module would test nothing.
    assert reported_end(common, topic) == 1
    return RouterSettings(**common.model_dump()), topic


async def test_the_end_is_where_a_read_finds_no_more_records(
    short_partition: tuple[RouterSettings, str],
) -> None:
    settings, topic = short_partition
    empty = Topics.from_settings(settings).events
    reader = BrokerReader(settings, GROUP)
    await reader.start()
    try:
        assert await reader.log_ends({(topic, 0): 1, (empty, 0): 0}) == {
            (topic, 0): 5,
            (empty, 0): 0,  # an empty partition ends where it was said to
        }
    finally:
        await reader.stop()


async def test_a_commit_beyond_the_reported_end_is_where_processing_starts(
    short_partition: tuple[RouterSettings, str],
) -> None:
    settings, topic = short_partition
    commit(settings, topic, 3)  # a worker had routed the first three records
    reader = BrokerReader(settings, GROUP)
    await reader.start()
    try:
        assert await reader.start_offset(topic, 0) == 3  # not 0: everything again
    finally:
        await reader.stop()
