"""Thousands of retries with different due times in one partition per tier: none is sent
before its due time, and with a small hold the partition pauses and resumes so memory
stays bounded. How late they are is printed (a measurement, not an assertion)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from signet_sdk.ids import new_id, now_ms
from signet_sdk.signing import generate_secret

from services.dispatcher.schedule import tier_for
from signet.dev.broker import EmbeddedBroker
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.settings import CommonSettings, DispatcherSettings
from tests.receiver import Receiver
from tests.services.dispatcher.conftest import (
    RunningDispatcher,
    dispatcher_process,
    single_partition_settings,
)
from tests.services.dispatcher.scrape import sample, scrape
from tests.services.dispatcher.workspace import delivery_for, publish_workspace, webhook

MakeReceiver = Callable[[], Awaitable[Receiver]]
RETRIES = 2000
DESTINATIONS = 20
SMALL_HOLD = 100
DEFAULT_HOLD = DispatcherSettings.model_fields["retry_hold_capacity"].default
POLL_BATCH = 500  # the consumer's batch: a hold may exceed its capacity by one batch


@pytest.fixture(scope="module")
def kafka_settings(broker: EmbeddedBroker) -> CommonSettings:
    return single_partition_settings(broker)


async def dispatcher(settings: CommonSettings, capacity: int) -> AsyncIterator[RunningDispatcher]:
    process, running = dispatcher_process(
        settings,
        max_queued_per_destination=RETRIES,
        max_pending=RETRIES,
        retry_hold_capacity=capacity,
    )
    async with process:
        yield running


@pytest.fixture
async def small_hold(kafka_settings: CommonSettings) -> AsyncIterator[RunningDispatcher]:
    async for running in dispatcher(kafka_settings, SMALL_HOLD):
        yield running


@pytest.fixture
async def default_hold(kafka_settings: CommonSettings) -> AsyncIterator[RunningDispatcher]:
    async for running in dispatcher(kafka_settings, DEFAULT_HOLD):
        yield running


async def test_a_small_hold_pauses_stays_bounded_and_sends_nothing_early(
    small_hold: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
) -> None:
    held = await send_thousands(small_hold, producer, topics, await make_receiver())
    metrics = await scrape(small_hold.metrics_url)
    assert sample(metrics, "signet_dispatcher_partition_pauses_total") > 0
    # two tier partitions in use (5 s and 30 s), each within its capacity plus one batch
    assert 0 < max(held) <= 2 * (SMALL_HOLD + POLL_BATCH)


async def test_the_default_hold_sends_thousands_nothing_early(
    default_hold: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
) -> None:
    await send_thousands(default_hold, producer, topics, await make_receiver())
    metrics = await scrape(default_hold.metrics_url)
    assert sample(metrics, "signet_dispatcher_partition_pauses_total") == 0


async def send_thousands(
    running: RunningDispatcher, producer: AsyncProducer, topics: Topics, receiver: Receiver
) -> list[float]:
    """Retries due 4 s to 30 s from now (writing them all takes a moment) in random
    order, on the tiers the dispatcher itself would have chosen; every one arrives, none
    before its due time. Returns the number of held retries seen over time."""
    ws, secret = new_id("ws"), generate_secret("standard-webhooks").secret
    destinations = [webhook(running.ring, ws, receiver.url, [secret]) for _ in range(DESTINATIONS)]
    config = await publish_workspace(producer, topics, ws, destinations)
    rng = random.Random(42)
    start = now_ms()
    due_by_event: dict[str, int] = {}
    acks = []
    for i in range(RETRIES):
        delay_ms = rng.randrange(4_000, 30_000)
        retry = dataclasses.replace(
            delivery_for(config, destinations[i % DESTINATIONS].id),
            attempt=2,
            due_at=start + delay_ms,
        )
        due_by_event[retry.event_id] = retry.due_at
        topic = topics.retry(tier_for(delay_ms / 1000))
        acks.append(producer.send_nowait(topic, codec.encode(retry), key=retry.destination_id))
    await asyncio.gather(*acks)

    held: list[float] = []
    watcher = asyncio.create_task(_watch(running.metrics_url, held))
    try:
        requests = await receiver.wait_for(RETRIES, timeout=90)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    lateness = []
    for request in requests:
        due = due_by_event[request.headers["webhook-id"]]
        assert request.at * 1000 >= due, "a retry was sent before its due time"
        lateness.append(request.at - due / 1000)
    assert {r.headers["webhook-id"] for r in requests} == set(due_by_event)
    lateness.sort()
    print(
        f"\n{RETRIES} retries, held at most {max(held):.0f}: late by p50 "
        f"{lateness[len(lateness) // 2]:.3f}s, p99 {lateness[int(len(lateness) * 0.99)]:.3f}s, "
        f"max {lateness[-1]:.3f}s"
    )
    return held


async def _watch(url: str, seen: list[float]) -> None:
    """Samples the held-retries gauge until cancelled (its peak is the measurement)."""
    while True:
        seen.append(sample(await scrape(url), "signet_dispatcher_retries_held"))
        await asyncio.sleep(0.1)  # a sampling period, not a wait for anything
