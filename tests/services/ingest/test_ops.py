"""Health, readiness, metrics, and a broker that does not answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.ingest.app import IngestApp
from signet.dev.broker import free_port
from signet.kafka.clients import AsyncProducer
from signet.kafka.config_view import ConfigView
from signet.kafka.topics import Topics
from signet.settings import CommonSettings, IngestSettings
from tests.eventually import eventually
from tests.services.ingest.conftest import Client, Workspaces, new_key, seed_event


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def _metrics(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = await client.request("GET", "/metrics")
    assert reply.status == 200
    return _samples(reply.body.decode())


async def test_health_and_readiness(client: Client) -> None:
    health = await client.request("GET", "/healthz")
    assert (health.status, health.json) == (200, {"status": "ok"})
    ready = await client.request("GET", "/readyz")
    assert (ready.status, ready.json) == (200, {"status": "ready"})


async def test_metrics_count_requests_events_and_produce_latency(
    client: Client, workspaces: Workspaces, topics: Topics
) -> None:
    workspace = await workspaces.create()
    before = await _metrics(client)
    assert (await client.emit(seed_event(), workspace.key)).status == 202
    assert (await client.emit(seed_event(event="bad type"), workspace.key)).status == 400
    assert (await client.emit(seed_event(), new_key())).status == 401
    assert (await client.bulk({"events": [seed_event()] * 3}, workspace.key)).status == 202
    assert (await client.request("GET", "/nope")).status == 404
    after = await _metrics(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    requests = "signet_ingest_requests_total"
    assert delta(requests, route="/v1/events", status="202") == 1
    assert delta(requests, route="/v1/events", status="400") == 1
    assert delta(requests, route="/v1/events", status="401") == 1
    assert delta(requests, route="/v1/events/bulk", status="202") == 1
    assert delta(requests, route="other", status="404") == 1
    assert delta("signet_ingest_events_accepted_total", endpoint="single") == 1
    assert delta("signet_ingest_events_accepted_total", endpoint="bulk") == 3
    assert delta("signet_ingest_events_rejected_total", reason="invalid") == 1
    assert delta("signet_ingest_produce_seconds_count", result="ok") == 4
    assert delta("signet_kafka_records_produced_total", topic=topics.events) == 4
    assert after[("signet_ingest_produce_seconds_sum", (("result", "ok"),))] > 0
    assert after[("signet_ingest_requests_in_flight", ())] == 1  # this very scrape


@pytest.fixture
async def unreachable_broker_app(
    ingest_settings: IngestSettings,
) -> AsyncIterator[IngestApp]:
    """Config from the real broker, but the producer points at a port nobody listens on."""
    dead = ingest_settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    settings = ingest_settings.model_copy(update={"produce_timeout_seconds": 2.0})
    producer = AsyncProducer(dead, **{"message.timeout.ms": 1500})
    async with IngestApp(settings, producer=producer, config_view=ConfigView(settings)) as app:
        await eventually(app.ready, "ingest ready", 30)
        yield app


async def test_broker_failure_is_503_and_never_202(
    unreachable_broker_app: IngestApp,
    kafka_settings: CommonSettings,
    topics: Topics,
) -> None:
    async with AsyncProducer(kafka_settings) as producer:
        workspace = await Workspaces(producer, topics, unreachable_broker_app).create()
    async with aiohttp.ClientSession() as session:
        client = Client(session, unreachable_broker_app.url)
        reply = await client.emit(seed_event(), workspace.key, headers={"Idempotency-Key": "x"})
        assert reply.status == 503, reply.body
        assert reply.content_type == "application/problem+json"
        assert reply.headers["Retry-After"] == "1"
        assert reply.json["type"] == "https://signet.dev/problems/broker-unavailable"
        # A failed key is not remembered as done: the retry tries again (and fails again).
        assert (
            await client.emit(seed_event(), workspace.key, headers={"Idempotency-Key": "x"})
        ).status == 503
        bulk = await client.bulk(
            {"events": [seed_event(), seed_event(event="bad type")]}, workspace.key
        )
        assert bulk.status == 503, bulk.body
        health = await client.request("GET", "/healthz")
        assert health.status == 200  # the process itself is fine
