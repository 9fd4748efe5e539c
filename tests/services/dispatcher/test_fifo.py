"""Ordered delivery with a real dispatcher process, real receivers and the real broker:
a FIFO destination gets its deliveries one at a time in the order they were accepted; a
failing one holds the rest (no attempts, no outcomes for them) until it is delivered or
exhausted; a destination beside it on the same partition is not held up."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from signet_sdk.ids import new_id
from signet_sdk.signing import generate_secret

from signet.dev.broker import EmbeddedBroker
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Delivery, Outcome, RetryPolicy
from signet.settings import CommonSettings
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import (
    RunningDispatcher,
    dispatcher_process,
    single_partition_settings,
)
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]
COUNT = 6


@pytest.fixture(scope="module")
def kafka_settings(broker: EmbeddedBroker) -> CommonSettings:
    # One partition: the FIFO destination and the healthy one share it (and its commits).
    return single_partition_settings(broker)


@pytest.fixture(scope="module")
async def ordered(kafka_settings: CommonSettings) -> AsyncIterator[RunningDispatcher]:
    process, running = dispatcher_process(
        kafka_settings,
        retry_delays_seconds="[1]",
        retry_max_attempts=10,
        breaker_failure_threshold=50,
    )
    async with process:
        yield running


def ids(receiver: Receiver) -> list[str]:
    return [r.headers["webhook-id"] for r in receiver.requests]


def outcomes_for(outcomes: TopicTail[Outcome], deliveries: list[Delivery]) -> list[Outcome]:
    wanted = {d.id for d in deliveries}
    return [o for o in outcomes.records if o.delivery_id in wanted]


async def test_a_failing_head_holds_the_line_and_the_rest_follow_in_order(
    ordered: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    ordered_receiver, healthy_receiver = await make_receiver(), await make_receiver()
    ordered_receiver.script(Reply(status=500), Reply(status=503))  # the head fails twice
    ws, key = new_id("ws"), generate_secret("standard-webhooks").secret
    line = dataclasses.replace(
        webhook(ordered.ring, ws, ordered_receiver.url, [key]), ordering="fifo"
    )
    healthy = webhook(ordered.ring, ws, healthy_receiver.url, [key])
    config = await publish_workspace(producer, topics, ws, [line, healthy])
    in_line = [delivery_for(config, line.id) for _ in range(COUNT)]
    beside = [delivery_for(config, healthy.id) for _ in range(COUNT)]
    for first, second in zip(in_line, beside, strict=True):
        await send_delivery(producer, topics, first)
        await send_delivery(producer, topics, second)

    beside_received = await healthy_receiver.wait_for(COUNT, timeout=30)
    received = await ordered_receiver.wait_for(COUNT + 2, timeout=60)
    # The healthy destination beside it got everything while the head was still failing
    # (its success came after two retries, a second or more apart).
    assert max(r.at for r in beside_received) < received[2].at
    events = [d.event_id for d in in_line]
    assert ids(ordered_receiver) == [events[0], events[0], *events]
    assert [r.status for r in received] == [500, 503] + [200] * COUNT
    # One at a time: each request arrived after the one before it was answered.
    # The held ones made no attempt and wrote no outcome: 2 failures + 1 success for the
    # head, one success each for the rest.
    seen = await outcomes.wait_for(
        lambda rs: len([o for o in rs if o.delivery_id in {d.id for d in in_line}]) >= COUNT + 2,
        "the line's outcomes",
    )
    mine = [o for o in seen if o.delivery_id in {d.id for d in in_line}]
    assert [(o.delivery_id, o.attempt, o.status) for o in mine] == [
        (in_line[0].id, 1, "failed"),
        (in_line[0].id, 2, "failed"),
        (in_line[0].id, 3, "delivered"),
        *[(d.id, 1, "delivered") for d in in_line[1:]],
    ]


async def test_an_exhausted_head_lets_the_next_one_go(
    ordered: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(status=500), Reply(status=500))
    ws, key = new_id("ws"), generate_secret("standard-webhooks").secret
    line = dataclasses.replace(
        webhook(ordered.ring, ws, receiver.url, [key], retry_policy=RetryPolicy(max_attempts=2)),
        ordering="fifo",
    )
    config = await publish_workspace(producer, topics, ws, [line])
    in_line = [delivery_for(config, line.id) for _ in range(3)]
    for delivery in in_line:
        await send_delivery(producer, topics, delivery)

    await receiver.wait_for(4, timeout=60)
    events = [d.event_id for d in in_line]
    assert ids(receiver) == [events[0], events[0], events[1], events[2]]
    seen = await outcomes.wait_for(
        lambda rs: len([o for o in rs if o.destination_id == line.id]) >= 4, "outcomes"
    )
    statuses = [(o.delivery_id, o.status) for o in seen if o.destination_id == line.id]
    assert statuses == [
        (in_line[0].id, "failed"),
        (in_line[0].id, "exhausted"),
        (in_line[1].id, "delivered"),
        (in_line[2].id, "delivered"),
    ]


async def test_a_replay_goes_to_the_back_of_the_line(
    ordered: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(status=500))  # the head fails once: the rest wait behind it
    ws, key = new_id("ws"), generate_secret("standard-webhooks").secret
    line = dataclasses.replace(webhook(ordered.ring, ws, receiver.url, [key]), ordering="fifo")
    config = await publish_workspace(producer, topics, ws, [line])
    in_line = [delivery_for(config, line.id) for _ in range(3)]
    for delivery in in_line:
        await send_delivery(producer, topics, delivery)
    # A replay of the first one, as the portal writes it: a new delivery on deliveries.
    replay = dataclasses.replace(in_line[0], id=new_id("dlv"), replay_of=in_line[0].id)
    await send_delivery(producer, topics, replay)

    await receiver.wait_for(5, timeout=60)
    events = [d.event_id for d in in_line]
    assert ids(receiver) == [events[0], events[0], events[1], events[2], events[0]]


async def test_every_one_in_line_keeps_its_own_trace(
    ordered: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(status=500))  # the rest are held, and sent by the line's task
    ws, key = new_id("ws"), generate_secret("standard-webhooks").secret
    line = dataclasses.replace(webhook(ordered.ring, ws, receiver.url, [key]), ordering="fifo")
    config = await publish_workspace(producer, topics, ws, [line])
    in_line = [delivery_for(config, line.id) for _ in range(3)]
    traces = [f"{n:032x}" for n in range(0xA1, 0xA4)]
    for delivery, trace_id in zip(in_line, traces, strict=True):
        traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
        await producer.send(
            topics.deliveries,
            codec.encode(delivery),
            key=delivery.destination_id,
            headers=[("traceparent", traceparent.encode())],
        )

    received = await receiver.wait_for(4, timeout=60)
    assert ids(receiver) == [in_line[0].event_id, *(d.event_id for d in in_line)]
    assert [r.headers["traceparent"].split("-")[1] for r in received] == [traces[0], *traces]
