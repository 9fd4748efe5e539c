"""A delivery is signed with a config at least as new as the one it was routed with: the
config and the deliveries reach the dispatcher on two consumers, and a secret rotated
before the event was emitted must apply to it even when the delivery comes first."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from signet_sdk.ids import new_id
from signet_sdk.signing import generate_secret
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.settings import CommonSettings
from tests.eventually import never
from tests.receiver import Receiver
from tests.services.dispatcher.conftest import RunningDispatcher, dispatcher_process
from tests.services.dispatcher.scrape import sample, scrape_until
from tests.services.dispatcher.workspace import (
    delivery_for,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]
CONFIG_LATE_SECONDS = 1.0  # well inside the dispatcher's config_wait_seconds (5 s)


def in_flight(count: int) -> Callable[[str], bool]:
    return lambda text: sample(text, "signet_dispatcher_in_flight") == count


@pytest.fixture(scope="module")
async def catching_up(kafka_settings: CommonSettings) -> AsyncIterator[RunningDispatcher]:
    process, running = dispatcher_process(kafka_settings)
    async with process:
        yield running


async def test_a_delivery_waits_for_the_config_version_it_was_routed_with(
    catching_up: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    old_secret = generate_secret("standard-webhooks").secret
    new_secret = generate_secret("standard-webhooks").secret
    ws, destination_id = new_id("ws"), new_id("dst")
    before = webhook(
        catching_up.ring, ws, receiver.url, [old_secret], destination_id=destination_id
    )
    config = await publish_workspace(producer, topics, ws, [before], version=1)
    # The dispatcher is consuming and knows version 1: a delivery routed with it arrives.
    first = dataclasses.replace(delivery_for(config, destination_id), config_version=1)
    await send_delivery(producer, topics, first)
    [warm] = await receiver.wait_for(1, timeout=30)
    Webhook(old_secret).verify(warm.body, warm.headers)

    await scrape_until(catching_up.metrics_url, in_flight(0), "the first delivery finished")

    # Routed with version 2 (the secret rotated), which the dispatcher has not read yet.
    delivery = dataclasses.replace(delivery_for(config, destination_id), config_version=2)
    await send_delivery(producer, topics, delivery)
    await scrape_until(catching_up.metrics_url, in_flight(1), "the delivery taken, waiting")
    # The config comes late on purpose; meanwhile nothing may be sent (a negative check).
    await never(
        lambda: len(receiver.requests) > 1,
        "sent before the config it was routed with arrived",
        CONFIG_LATE_SECONDS,
    )
    after = webhook(catching_up.ring, ws, receiver.url, [new_secret], destination_id=destination_id)
    await publish_workspace(producer, topics, ws, [after], version=2)

    request = (await receiver.wait_for(2, timeout=15))[1]
    Webhook(new_secret).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(request.body, request.headers)
