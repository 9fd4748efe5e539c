"""The projection against the real broker: records produced onto ``deliveries`` and
``outcomes`` land in the store, the same records again change nothing, a bad record is a
dead letter and the ones after it still land, and a restart resumes where it committed."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import pytest
from prometheus_client import CollectorRegistry
from signet_sdk.ids import new_id

from services.portal.delivery_log.factory import store_for
from services.portal.delivery_log.metrics import LogMetrics
from services.portal.delivery_log.projection import LogProjection
from services.portal.delivery_log.sql_store import SqlLogStore
from signet.kafka.clients import AsyncProducer, DeadLetterWriter
from signet.kafka.metrics import KafkaMetrics
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import DeadLetter, Delivery, Outcome, OutcomeStatus
from signet.settings import CommonSettings, PortalSettings
from tests.eventually import eventually
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.portal.delivery_log.conftest import BACKENDS, database_url, drop
from tests.services.portal.delivery_log.records import delivery, outcome

pytestmark = pytest.mark.timeout(120)
T = TypeVar("T")


def log_settings(kafka: CommonSettings, url: str) -> PortalSettings:
    return PortalSettings(
        kafka_bootstrap=kafka.kafka_bootstrap,
        topic_prefix=kafka.topic_prefix,
        partitions=kafka.partitions,
        deliveries_partitions=kafka.deliveries_partitions,
        database_url=url,
        log_consumer_group=f"portal-log-{uuid.uuid4().hex[:8]}",
        log_consumer_session_timeout_seconds=3,
        consumer_lag_interval_seconds=0.2,
    )


@dataclasses.dataclass(slots=True)
class Projected:
    settings: PortalSettings
    store: SqlLogStore
    producer: AsyncProducer
    topics: Topics
    registry: CollectorRegistry  # the Kafka metrics', kept across restarts as in a portal
    kafka: KafkaMetrics
    projection: LogProjection

    async def send(self, *records: Delivery | Outcome) -> None:
        for record in records:
            if isinstance(record, Delivery):
                await self.send_raw(
                    self.topics.deliveries, codec.encode(record), record.destination_id
                )
            else:
                await self.send_raw(self.topics.outcomes, codec.encode(record), record.workspace_id)

    async def send_raw(self, topic: str, value: bytes | None, key: str) -> None:
        await self.producer.send(topic, value, key=key, timeout=10)

    def new_projection(self) -> LogProjection:
        return _projection(self.settings, self.store, self.producer, self.kafka)

    def kafka_sample(self, name: str, topic: str) -> float | None:
        labels = {"group": self.settings.log_consumer_group, "topic": topic}
        return self.registry.get_sample_value(name, labels)


def _projection(
    settings: PortalSettings, store: SqlLogStore, producer: AsyncProducer, kafka: KafkaMetrics
) -> LogProjection:
    dead_letters = DeadLetterWriter(producer, Topics.from_settings(settings), "portal-log")
    metrics = LogMetrics.create(CollectorRegistry())
    return LogProjection(settings, store, dead_letters, metrics, kafka)


@pytest.fixture(scope="module", params=BACKENDS)
async def projected(
    request: pytest.FixtureRequest,
    kafka_settings: CommonSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Projected]:
    tmp: Path = tmp_path_factory.mktemp("projection")
    settings = log_settings(kafka_settings, database_url(request.param, tmp))
    store = store_for(settings.database_url, pool_size=4)
    async with AsyncProducer(kafka_settings) as producer:
        await store.start()
        topics = Topics.from_settings(kafka_settings)
        registry = CollectorRegistry()
        kafka = KafkaMetrics.create(registry)
        projection = _projection(settings, store, producer, kafka)
        await projection.start()
        running = Projected(settings, store, producer, topics, registry, kafka, projection)
        try:
            yield running
        finally:
            await running.projection.stop()  # the test may have restarted it
            await drop(store)
            await store.stop()


async def test_records_land_in_the_log(projected: Projected) -> None:
    ws = new_id("ws")
    sent = [delivery(ws, "dst_a") for _ in range(3)]
    attempts = [outcome(sent[0], OutcomeStatus.FAILED), outcome(sent[0], attempt=2)]
    attempts += [outcome(d, OutcomeStatus.EXHAUSTED) for d in sent[1:]]
    await projected.send(*sent, *attempts)

    async def all_logged() -> bool:
        head = await projected.store.log_head(ws)
        bodies = [await projected.store.get_delivery(ws, d.id) for d in sent]
        return head.seq == 4 and all(b is not None and b.body is not None for b in bodies)

    await eventually(all_logged, "3 deliveries with bodies and 4 attempts")
    first = await projected.store.get_delivery(ws, sent[0].id)
    assert first is not None and first.status.value == "delivered" and first.attempts == 2
    assert [a.id for a in await projected.store.attempts(ws, sent[0].id)] == [
        attempts[0].id,
        attempts[1].id,
    ]

    # Through the shared consumer meter: records read per topic, and all of them read.
    topics = (projected.topics.deliveries, projected.topics.outcomes)
    consumed = [projected.kafka_sample("signet_kafka_records_consumed_total", t) for t in topics]
    assert consumed[0] is not None and consumed[0] >= len(sent)
    assert consumed[1] is not None and consumed[1] >= len(attempts)

    async def no_lag() -> bool:
        lags = [projected.kafka_sample("signet_kafka_consumer_lag", t) for t in topics]
        return lags == [0, 0]

    await eventually(no_lag, "a lag of 0 on deliveries and outcomes")


async def test_the_same_records_again_change_nothing(projected: Projected) -> None:
    ws = new_id("ws")
    sent = [delivery(ws, "dst_a") for _ in range(2)]
    attempts = [outcome(d) for d in sent]
    await projected.send(*sent, *attempts)

    async def attempts_and_bodies_logged() -> bool:
        # Deliveries and outcomes are two topics: an attempt may be logged before the
        # delivery record that brings the body.
        if not await _seq_is(projected.store, ws, 2):
            return False
        rows = [await projected.store.get_delivery(ws, d.id) for d in sent]
        return all(row is not None and row.body is not None for row in rows)

    await eventually(attempts_and_bodies_logged, "the first two attempts and bodies", timeout=30)
    head = await projected.store.log_head(ws)
    before = [await projected.store.get_delivery(ws, d.id) for d in sent]

    # The topics replayed (a producer retry, a consumer rewind): then one new attempt.
    sentinel = outcome(sent[1], OutcomeStatus.FAILED, attempt=2)
    await projected.send(*sent, *attempts, *attempts, sentinel)
    await eventually(lambda: _seq_is(projected.store, ws, 3), "the sentinel attempt")
    after_head = await projected.store.log_head(ws)
    assert after_head.seq == head.seq + 1
    assert (await projected.store.attempts(ws, sent[1].id))[-1].prev_hash == head.hash
    assert await projected.store.get_delivery(ws, sent[0].id) == before[0]
    second = await projected.store.get_delivery(ws, sent[1].id)
    assert second is not None and before[1] is not None
    assert (second.attempts, second.status.value) == (2, "failed")


async def test_bad_records_are_dead_letters_and_the_next_ones_land(
    projected: Projected, kafka_settings: CommonSettings
) -> None:
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    unknown_status = dataclasses.replace(outcome(sent), status="teleported")
    wrong_type = codec.encode(sent)  # a Delivery on the outcomes topic
    await projected.send_raw(projected.topics.outcomes, b"garbage", ws)
    await projected.send_raw(projected.topics.outcomes, codec.encode(unknown_status), ws)
    await projected.send_raw(projected.topics.outcomes, wrong_type, ws)
    await projected.send_raw(projected.topics.deliveries, None, "dst_a")  # a tombstone
    good = outcome(sent)
    await projected.send(sent, good)
    await eventually(lambda: _seq_is(projected.store, ws, 1), "the good outcome after the bad")

    tail = TopicTail(kafka_settings, projected.topics.dlq, DeadLetter)
    await tail.start()
    try:
        letters = await tail.wait_for(
            lambda found: len(_mine(found, ws)) >= 3, "three dead letters keyed by the workspace"
        )
    finally:
        await tail.stop()
    reasons = [letter.reason for letter in _mine(letters, ws)]
    assert any("bad magic" in r for r in reasons)
    assert any("teleported" in r for r in reasons)
    assert any("expected signet.Outcome" in r for r in reasons)
    assert all(letter.service == "portal-log" for letter in _mine(letters, ws))
    assert any(
        letter.original_value == b"garbage" and letter.source_topic == projected.topics.outcomes
        for letter in letters
    )
    assert projected.projection.dead_lettered >= 4


async def test_a_restart_resumes_from_the_committed_offsets(projected: Projected) -> None:
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    await projected.send(sent, outcome(sent, OutcomeStatus.FAILED))
    await eventually(lambda: _seq_is(projected.store, ws, 1), "the first attempt")
    await projected.projection.stop()
    await projected.projection.stop()  # idempotent

    await projected.send(outcome(sent, attempt=2))
    projected.projection = projected.new_projection()
    await projected.projection.start()
    await projected.projection.start()  # idempotent
    await eventually(lambda: _seq_is(projected.store, ws, 2), "the attempt sent while stopped")
    found = await projected.store.get_delivery(ws, sent.id)
    assert found is not None and found.status.value == "delivered" and found.attempts == 2


async def _seq_is(store: SqlLogStore, workspace_id: str, seq: int) -> bool:
    head = await store.log_head(workspace_id)
    assert head.seq <= seq, f"the chain of {workspace_id} grew past {seq}: {head.seq}"
    return head.seq == seq


def _mine(letters: list[DeadLetter], workspace_id: str) -> list[DeadLetter]:
    return [letter for letter in letters if letter.original_key == workspace_id.encode()]
