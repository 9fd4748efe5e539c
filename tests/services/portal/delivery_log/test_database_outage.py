"""The delivery log through a PostgreSQL outage, on the real broker and the machine's
PostgreSQL: the store's path to the database is cut (every connection reset, new ones
refused) while outcomes keep arriving, then mended. Reads answer ``StoreUnavailable`` (the
portal's 503) while it is down; the projection retries its batch without a hand and,
once the database is back, every record is logged exactly once, the chain unbroken."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from prometheus_client import CollectorRegistry
from signet_sdk.ids import new_id

from services.portal.delivery_log.errors import StoreUnavailable
from services.portal.delivery_log.factory import store_for
from services.portal.delivery_log.sql_store import SqlLogStore
from signet.kafka.clients import AsyncProducer
from signet.kafka.metrics import KafkaMetrics
from signet.kafka.topics import Topics
from signet.records.model import Delivery, Outcome, OutcomeStatus
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.services.portal.delivery_log.conftest import POSTGRES_URL, drop, postgres_url_through
from tests.services.portal.delivery_log.records import delivery, outcome
from tests.services.portal.delivery_log.test_projection import Projected, _projection, log_settings
from tests.tcp_forwarder import TcpForwarder

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def forwarder() -> AsyncIterator[TcpForwarder]:
    port = urlsplit(POSTGRES_URL).port or 5432
    async with TcpForwarder(port) as running:
        yield running


@pytest.fixture
async def projected(
    kafka_settings: CommonSettings, forwarder: TcpForwarder
) -> AsyncIterator[Projected]:
    settings = log_settings(kafka_settings, postgres_url_through(forwarder.port))
    store = store_for(settings.database_url, pool_size=4)
    async with AsyncProducer(kafka_settings) as producer:
        await store.start()
        registry = CollectorRegistry()
        kafka = KafkaMetrics.create(registry)
        projection = _projection(settings, store, producer, kafka)
        await projection.start()
        running = Projected(
            settings,
            store,
            producer,
            Topics.from_settings(kafka_settings),
            registry,
            kafka,
            projection,
        )
        try:
            yield running
        finally:
            await running.projection.stop()
            await forwarder.mend()
            await drop(store)
            await store.stop()


def batch(ws: str, count: int) -> tuple[list[Delivery], list[Outcome]]:
    sent = [delivery(ws, "dst_a") for _ in range(count)]
    return sent, [outcome(d, OutcomeStatus.DELIVERED) for d in sent]


async def logged_seqs(store: SqlLogStore, ws: str) -> list[int]:
    async with store.snapshot(ws) as snapshot:
        links = [link async for links in snapshot.links() for link in links]
    for before, after in itertools.pairwise(links):
        assert after.prev_hash == before.hash, f"chain broken at {after.seq}"
    return [link.seq for link in links]


async def test_the_log_heals_after_the_database_comes_back(
    projected: Projected, forwarder: TcpForwarder, caplog: pytest.LogCaptureFixture
) -> None:
    ws = new_id("ws")
    before_deliveries, before_outcomes = batch(ws, 5)
    await projected.send(*before_deliveries, *before_outcomes)

    async def logged(count: int) -> bool:
        return (await projected.store.log_head(ws)).seq == count

    await eventually(lambda: logged(5), "the first 5 attempts logged")

    caplog.set_level(logging.WARNING, logger="services.portal.delivery_log.projection")
    await forwarder.cut()
    during_deliveries, during_outcomes = batch(ws, 7)
    await projected.send(*during_deliveries, *during_outcomes)
    with pytest.raises(StoreUnavailable):
        await projected.store.get_delivery(ws, before_deliveries[0].id)

    def met_the_outage() -> bool:
        # Its batch failed on the database, and it is being retried.
        return any("delivery log unavailable" in r.getMessage() for r in caplog.records)

    await eventually(met_the_outage, "the projection retrying its batch", 30)
    with pytest.raises(StoreUnavailable):
        await projected.store.log_head(ws)

    await forwarder.mend()
    await eventually(lambda: logged(12), "all 12 attempts logged once the database is back", 60)
    assert await logged_seqs(projected.store, ws) == list(range(1, 13))
    for sent in (*before_deliveries, *during_deliveries):
        record = await projected.store.get_delivery(ws, sent.id)
        assert record is not None and record.body is not None and record.attempts == 1
