"""KafkaHealth: readiness needs the broker and no dead client; liveness fails only for a
dead client left unreplaced past its grace, never for an unreachable broker."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from signet.api.operations import Api
from signet.kafka.health import ClientState, KafkaHealth
from signet.kafka.metrics import KafkaMetrics
from signet.settings import CommonSettings
from signet.web import add_health_routes
from tests.eventually import eventually


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


REGISTRIES: dict[int, CollectorRegistry] = {}


def health(grace: float = 60.0) -> tuple[KafkaHealth, KafkaMetrics]:
    registry = CollectorRegistry()
    metrics = KafkaMetrics.create(registry)
    REGISTRIES[id(metrics)] = registry
    settings = CommonSettings(kafka_bootstrap="127.0.0.1:1", kafka_fatal_grace_seconds=grace)
    return KafkaHealth(settings, metrics), metrics


def reachable_gauge(metrics: KafkaMetrics) -> float | None:
    return REGISTRIES[id(metrics)].get_sample_value("signet_kafka_broker_reachable")


def test_a_dead_client_is_not_ready_until_replaced_and_counted() -> None:
    clock = Clock()
    kafka, metrics = health()
    state = kafka.watch(ClientState("producer", metrics, clock=clock))
    assert kafka.ready and kafka.live

    assert state.failed("fenced")
    assert not state.failed("fenced again")  # one failure until the replacement
    assert not kafka.ready
    assert "producer dead (fenced)" in kafka.why_not_ready()
    assert kafka.live  # a replacement is on its way

    clock.now += 59
    assert kafka.live
    clock.now += 2
    assert not kafka.live  # stuck dead past the grace: let the orchestrator restart us

    state.replaced()
    assert kafka.ready and kafka.live
    assert metrics.replacements.labels("producer")._value.get() == 1


def test_an_unreachable_broker_is_not_ready_but_alive() -> None:
    kafka, metrics = health()
    kafka._record("Local: Timed out")
    assert not kafka.ready
    assert kafka.live
    assert kafka.why_not_ready() == "kafka unreachable (Local: Timed out)"
    assert reachable_gauge(metrics) == 0.0
    kafka._record("")
    assert kafka.ready
    assert reachable_gauge(metrics) == 1.0


async def test_the_probe_marks_a_broker_that_does_not_answer() -> None:
    """Port 1 on loopback refuses connections: the probe says unreachable within ~2 s."""
    kafka, _ = health()
    async with kafka:
        await eventually(lambda: not kafka.reachable, "the broker marked unreachable", 10)


@pytest.mark.parametrize(
    ("reachable", "dead_for", "ready", "live"),
    [
        (True, None, 200, 200),
        (False, None, 503, 200),
        (True, 5.0, 503, 200),
        (True, 61.0, 503, 503),
    ],
)
async def test_the_probes_answer_what_kafka_health_says(
    reachable: bool, dead_for: float | None, ready: int, live: int
) -> None:
    clock = Clock()
    kafka, _ = health()
    state = kafka.watch(ClientState("consumer", clock=clock))
    kafka._record("" if reachable else "down")
    if dead_for is not None:
        state.failed("fatal")
        clock.now += dead_for
    app = web.Application()
    add_health_routes(app, api=Api("test", "0"), ready=lambda: True, kafka=kafka)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/readyz")).status == ready
        response = await client.get("/healthz")
        assert response.status == live
        if live == 503:
            assert (await response.json(content_type=None))["detail"] == kafka.why_not_ready()
