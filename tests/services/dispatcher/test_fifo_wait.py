"""A held delivery whose turn comes after it waited in line longer than
``SIGNET_FIFO_MAX_WAIT_SECONDS`` is given up (exhausted, never sent), so no record stays
on the hold topic anywhere near its retention (services/dispatcher/fifo.py); the ones
that did not wait that long, and those after, go in order. A real dispatcher, broker and
receiver, with a wait of seconds instead of 60 hours."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from signet_sdk.ids import new_id
from signet_sdk.signing import generate_secret

from signet.dev.broker import EmbeddedBroker
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import Outcome
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import dispatcher_process, single_partition_settings
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]
MAX_WAIT_SECONDS = 2


async def test_a_delivery_that_waited_too_long_in_line_is_given_up_and_the_rest_go_on(
    broker: EmbeddedBroker, make_receiver: MakeReceiver
) -> None:
    settings = single_partition_settings(broker)
    topics = Topics.from_settings(settings)
    receiver = await make_receiver()
    # The head fails for longer than the followers may wait (retries a second apart).
    receiver.script(*[Reply(status=500)] * 4)
    outcomes = TopicTail(settings, topics.outcomes, Outcome)
    await outcomes.start()
    process, running = dispatcher_process(
        settings,
        retry_delays_seconds="[1]",
        retry_max_attempts=20,
        breaker_failure_threshold=1000,
        fifo_max_wait_seconds=MAX_WAIT_SECONDS,
    )
    try:
        async with process, AsyncProducer(settings) as producer:
            ws, key = new_id("ws"), generate_secret("standard-webhooks").secret
            line = dataclasses.replace(
                webhook(running.ring, ws, receiver.url, [key]), ordering="fifo"
            )
            config = await publish_workspace(producer, topics, ws, [line])
            head, *behind = [delivery_for(config, line.id) for _ in range(4)]
            for delivery in (head, *behind):
                await send_delivery(producer, topics, delivery)
            await receiver.wait_for(5, timeout=60)  # the head: 4 failures, then delivered
            seen = await outcomes.wait_for(
                lambda rs: (
                    {o.delivery_id for o in rs if o.status == "exhausted"} >= {d.id for d in behind}
                ),
                "the ones behind the head given up",
            )
            later = delivery_for(config, line.id)  # after them: it goes at once
            await send_delivery(producer, topics, later)
            await receiver.wait_for(6, timeout=30)
    finally:
        await outcomes.stop()

    assert [r.headers["webhook-id"] for r in receiver.requests] == [head.event_id] * 5 + [
        later.event_id
    ]
    given_up = [o for o in seen if o.delivery_id in {d.id for d in behind}]
    assert [o.delivery_id for o in given_up] == [d.id for d in behind]  # in line order
    for outcome in given_up:
        assert outcome.status == "exhausted"
        assert outcome.http_status is None
        assert outcome.error is not None and "waited in line" in outcome.error
