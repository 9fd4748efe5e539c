"""SIGTERM drains: in-flight requests finish, outcomes are written, offsets committed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from confluent_kafka import Consumer, TopicPartition
from signet_sdk.ids import new_id
from signet_sdk.signing import generate_secret
from standardwebhooks import Webhook

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics, kafka_client_config
from signet.records.model import Outcome, OutcomeStatus
from signet.settings import CommonSettings
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import dispatcher_process
from tests.services.dispatcher.scrape import sample, scrape_until
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]


def committed_offset(settings: CommonSettings, group: str, topic: str, partition: int) -> int:
    consumer = Consumer({**kafka_client_config(settings), "group.id": group})
    try:
        (tp,) = consumer.committed([TopicPartition(topic, partition)], timeout=10)
        return int(tp.offset)
    finally:
        consumer.close()


async def test_sigterm_lets_the_in_flight_request_finish_and_commits_it(
    kafka_settings: CommonSettings,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    process, running = dispatcher_process(kafka_settings)
    slow = await make_receiver()
    slow.default = Reply(delay_seconds=3, body=b"took my time")
    ws, secret = new_id("ws"), generate_secret("standard-webhooks").secret
    destination = webhook(running.ring, ws, slow.url, [secret])
    config = await publish_workspace(producer, topics, ws, [destination])
    delivery = delivery_for(config, destination.id)
    try:
        await process.start()
        message = await send_delivery(producer, topics, delivery)
        (request,) = await slow.wait_for(1)  # the request is in flight now
        exit_code = await process.stop(timeout=30)
    finally:
        await process.stop()

    assert exit_code == 0, process.output()
    Webhook(secret).verify(request.body, request.headers)
    records = await outcomes.wait_for(
        lambda rs: any(o.delivery_id == delivery.id for o in rs), "the drained outcome", 10
    )
    (outcome,) = [o for o in records if o.delivery_id == delivery.id]
    assert outcome.status == OutcomeStatus.DELIVERED
    assert outcome.response_excerpt == "took my time"
    committed = await asyncio.to_thread(
        committed_offset,
        kafka_settings,
        running.consumer_group,
        topics.deliveries,
        message.partition() or 0,
    )
    assert committed == (message.offset() or 0) + 1


async def test_work_past_the_drain_deadline_is_redone_after_a_restart(
    kafka_settings: CommonSettings,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    process, running = dispatcher_process(kafka_settings, drain_timeout_seconds=0.5)
    receiver = await make_receiver()
    receiver.script(Reply(delay_seconds=4))  # outlives the drain deadline, then fast replies
    ws, secret = new_id("ws"), generate_secret("standard-webhooks").secret
    destination = webhook(running.ring, ws, receiver.url, [secret])
    config = await publish_workspace(producer, topics, ws, [destination])
    delivery = delivery_for(config, destination.id)
    try:
        await process.start()
        message = await send_delivery(producer, topics, delivery)
        await receiver.wait_for(1)
        assert await process.stop(timeout=30) == 0, process.output()
    finally:
        await process.stop()
    # abandoned: no outcome, offset not committed past it
    assert not any(o.delivery_id == delivery.id for o in outcomes.records)
    committed = await asyncio.to_thread(
        committed_offset,
        kafka_settings,
        running.consumer_group,
        topics.deliveries,
        message.partition() or 0,
    )
    assert committed <= (message.offset() or 0)

    again, _ = dispatcher_process(
        kafka_settings, master_keys=running.master_keys, group=running.consumer_group
    )
    async with again:
        first, second = await receiver.wait_for(2, timeout=30)
        records = await outcomes.wait_for(
            lambda rs: any(o.delivery_id == delivery.id for o in rs), "the redone outcome"
        )
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.event_id
    Webhook(secret).verify(second.body, second.headers)
    (outcome,) = [o for o in records if o.delivery_id == delivery.id]
    assert outcome.status == OutcomeStatus.DELIVERED


async def test_retries_waiting_at_sigterm_are_kept_for_the_next_owner(
    kafka_settings: CommonSettings,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    """A retry held in memory when SIGTERM comes is neither sent early nor lost: its
    offset on the tier stays uncommitted, and the restarted dispatcher sends it."""
    process, running = dispatcher_process(kafka_settings, retry_delays_seconds="[8]")
    receiver = await make_receiver()
    receiver.script(Reply(status=500))  # then 200s
    ws, secret = new_id("ws"), generate_secret("standard-webhooks").secret
    destination = webhook(running.ring, ws, receiver.url, [secret])
    config = await publish_workspace(producer, topics, ws, [destination])
    delivery = delivery_for(config, destination.id)
    try:
        await process.start()
        await send_delivery(producer, topics, delivery)
        records = await outcomes.wait_for(
            lambda rs: any(o.delivery_id == delivery.id for o in rs), "the failed attempt"
        )
        await _until_held(running.metrics_url)
        assert await process.stop(timeout=30) == 0, process.output()
    finally:
        await process.stop()
    (failed,) = [o for o in records if o.delivery_id == delivery.id]
    assert failed.status == OutcomeStatus.FAILED and failed.next_attempt_at is not None
    left = re.search(r"(\d+) retries left held", process.output())
    assert left is not None and int(left.group(1)) >= 1
    assert len(receiver.requests) == 1

    again, _ = dispatcher_process(
        kafka_settings,
        master_keys=running.master_keys,
        group=running.consumer_group,
        retry_delays_seconds="[8]",
    )
    async with again:
        _, retried = await receiver.wait_for(2, timeout=30)
        records = await outcomes.wait_for(
            lambda rs: len([o for o in rs if o.delivery_id == delivery.id]) >= 2, "the retry"
        )
    assert retried.at * 1000 >= failed.next_attempt_at
    assert retried.headers["webhook-id"] == delivery.event_id
    delivered = [o for o in records if o.delivery_id == delivery.id and o.attempt == 2]
    assert [o.status for o in delivered] == [OutcomeStatus.DELIVERED]


async def _until_held(metrics_url: str, timeout: float = 20) -> None:
    """Until the dispatcher holds a retry in memory (deadline)."""
    await scrape_until(
        metrics_url,
        lambda text: sample(text, "signet_dispatcher_retries_held") >= 1,
        "a retry held",
        timeout,
    )
