"""Replay and recover while the delivery log catches up, on the real broker, router and log.

The log projects two topics: a delivery's attempt (signet.outcomes) can be logged a fetch
before its body (signet.deliveries). That is what a replay right after a test send met in
CI (409 "the log has not recorded the body … yet"), and a recover right after the listing
showed the failures (0 of 3 replayed). Here the order is forced: the attempt is logged,
the replay or recover reads the log once, and only then is the body produced. Both must
wait for it and answer 202 with the delivery replayed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from signet_sdk.ids import new_id, now_ms

from services.portal.delivery_log.store import DeliveryRecord
from services.portal.ping import ping_delivery, ping_event
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Delivery, Outcome, OutcomeStatus
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.services.portal.conftest import RunningPortal

pytestmark = pytest.mark.timeout(180)

DESTINATIONS = "/v1/workspace/destinations"


def outcome_of(delivery: Delivery, status: OutcomeStatus) -> Outcome:
    return Outcome(
        id=new_id("att"),
        status=status.value,
        delivery_id=delivery.id,
        event_id=delivery.event_id,
        workspace_id=delivery.workspace_id,
        destination_id=delivery.destination_id,
        event_type=delivery.event_type,
        attempt=1,
        attempted_at=now_ms(),
        event_created_at=delivery.event_created_at,
        url="https://hooks.example.com/in",
        http_status=200 if status is OutcomeStatus.DELIVERED else 500,
    )


class Scene:
    """A workspace with one webhook destination, and a test send whose attempt the log has
    recorded but whose body it has not."""

    def __init__(self, portal: RunningPortal, kafka: CommonSettings) -> None:
        self.portal, self.kafka = portal, kafka
        self.topics = Topics.from_settings(kafka)
        self.token = self.workspace_id = self.destination_id = ""

    async def set_up(self) -> None:
        client = self.portal.client
        workspace = await client.new_workspace()
        self.workspace_id = workspace["id"]
        self.token = await client.session(self.workspace_id)
        created = await client.workspace(
            self.token, "POST", DESTINATIONS, {"name": "Orders", "url": "https://hooks.x.io/in"}
        )
        assert created.status == 201, created.text
        self.destination_id = created.json["id"]

    async def attempt_logged_before_body(self, status: OutcomeStatus) -> Delivery:
        config = self.portal.service.view.workspace(self.workspace_id)
        assert config is not None
        destination = config.destination(self.destination_id)
        assert destination is not None
        delivery = ping_delivery(
            ping_event(self.workspace_id, destination, now_ms=now_ms()), self.destination_id
        )
        await self.produce(self.topics.outcomes, codec.encode(outcome_of(delivery, status)))
        store = self.portal.service.delivery_log.store

        async def logged() -> DeliveryRecord | None:
            return await store.get_delivery(self.workspace_id, delivery.id)

        record = await eventually(logged, "the attempt in the delivery log")
        assert record.body is None  # the state the flake met
        return delivery

    async def produce(self, topic: str, value: bytes) -> None:
        async with AsyncProducer(self.kafka) as producer:
            await producer.send(topic, value, key=self.destination_id, timeout=10)


def first_read(monkeypatch: pytest.MonkeyPatch, target: object, name: str) -> asyncio.Event:
    """Set once ``target.name`` (a store read) has answered for the first time."""
    read = asyncio.Event()
    original: Callable[..., Awaitable[Any]] = getattr(target, name)

    async def spied(*args: Any, **kwargs: Any) -> Any:
        answer = await original(*args, **kwargs)
        read.set()
        return answer

    monkeypatch.setattr(target, name, spied)
    return read


@pytest.fixture
async def scene(portal: RunningPortal, kafka_settings: CommonSettings) -> Scene:
    built = Scene(portal, kafka_settings)
    await built.set_up()
    return built


async def test_a_replay_right_after_a_test_send_waits_for_the_logged_body(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = await scene.attempt_logged_before_body(OutcomeStatus.DELIVERED)
    read = first_read(monkeypatch, scene.portal.service.delivery_log.store, "get_delivery")
    replay = asyncio.create_task(
        scene.portal.client.workspace(
            scene.token, "POST", f"/v1/workspace/deliveries/{delivery.id}/replay"
        )
    )
    await asyncio.wait_for(read.wait(), 30)  # the replay found the attempt without its body
    await scene.produce(scene.topics.deliveries, codec.encode(delivery))
    answer = await replay
    assert answer.status == 202, answer.text
    assert answer.json["replay_of"] == delivery.id
    assert answer.json["event_id"] == delivery.event_id


async def test_a_recover_right_after_the_failures_waits_for_their_bodies(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = await scene.attempt_logged_before_body(OutcomeStatus.EXHAUSTED)
    store = scene.portal.service.delivery_log.store
    read = first_read(monkeypatch, store, "failed_deliveries")
    recover = asyncio.create_task(
        scene.portal.client.workspace(
            scene.token,
            "POST",
            f"{DESTINATIONS}/{scene.destination_id}/recover",
            {"since": "2020-01-01T00:00:00Z"},
        )
    )
    await asyncio.wait_for(read.wait(), 30)
    await scene.produce(scene.topics.deliveries, codec.encode(delivery))
    answer = await recover
    assert answer.status == 202, answer.text
    assert answer.json["replayed"] == 1, answer.text
    assert [d["replay_of"] for d in answer.json["deliveries"]] == [delivery.id]
    assert "skipped_without_body" not in answer.json
