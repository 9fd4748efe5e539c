"""The dispatcher as a real process, on the real broker, POSTing to real receivers."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import aiohttp
from signet_sdk.ids import new_id, now_ms
from signet_sdk.signing import generate_secret
from standardwebhooks import Webhook

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import OUTCOME_STATUS_HEADER, Topics
from signet.records import codec
from signet.records.model import DeadLetter, Delivery, Outcome, OutcomeStatus, WorkspaceConfig
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import RunningDispatcher
from tests.services.dispatcher.scrape import sample, samples, scrape, scrape_until
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]


def new_secret() -> str:
    return generate_secret("standard-webhooks").secret


def outcomes_for(deliveries: list[Delivery]) -> Callable[[list[Outcome]], bool]:
    wanted = {d.id for d in deliveries}
    return lambda records: wanted <= {o.delivery_id for o in records}


def outcome_of(records: list[Outcome], delivery: Delivery) -> Outcome:
    (found,) = [o for o in records if o.delivery_id == delivery.id]
    return found


async def test_two_destinations_get_signed_posts_that_verify(
    dispatcher: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    first, second = await make_receiver(), await make_receiver()
    ws, ring = new_id("ws"), dispatcher.ring
    secret_a = new_secret()
    new_b, old_b = new_secret(), new_secret()  # mid-rotation: new primary, old overlapping
    dst_a = webhook(ring, ws, first.url, [secret_a])
    dst_b = webhook(ring, ws, second.url, [new_b, old_b])
    config = await publish_workspace(producer, topics, ws, [dst_a, dst_b])

    event = delivery_for(config, dst_a.id)
    deliveries = [event, delivery_for(config, dst_b.id, event_id=event.event_id)]
    for delivery in deliveries:
        await send_delivery(producer, topics, delivery)

    (got_a,) = await first.wait_for(1)
    (got_b,) = await second.wait_for(1)
    Webhook(secret_a).verify(got_a.body, got_a.headers)
    Webhook(new_b).verify(got_b.body, got_b.headers)
    Webhook(old_b).verify(got_b.body, got_b.headers)
    assert len(got_b.headers["webhook-signature"].split(" ")) == 2
    assert got_a.body == got_b.body == event.body
    assert got_a.headers["webhook-id"] == got_b.headers["webhook-id"] == event.event_id
    assert got_a.headers["Content-Type"] == "application/json"
    assert got_a.headers["User-Agent"].startswith("Signet/")

    records = await outcomes.wait_for(outcomes_for(deliveries), "two delivered outcomes")
    for delivery, received, url in ((event, got_a, first.url), (deliveries[1], got_b, second.url)):
        outcome = outcome_of(records, delivery)
        assert outcome.status == OutcomeStatus.DELIVERED
        assert outcome.http_status == 200 and outcome.error is None
        assert outcome.url == url and outcome.attempt == 1
        assert outcome.workspace_id == ws and outcome.event_id == event.event_id
        assert outcome.latency_ms is not None and outcome.latency_ms > 0
        assert outcome.response_excerpt == "ok"
        assert outcomes.headers_of(outcome) == [(OUTCOME_STATUS_HEADER, b"delivered")]
        sent = outcome.request_headers
        assert sent["webhook-signature"] == received.headers["webhook-signature"]
        assert sent["webhook-id"] == event.event_id


async def test_every_failure_is_a_failed_outcome_that_says_why(
    dispatcher: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    broken, hanging = await make_receiver(), await make_receiver()
    broken.default = Reply(status=500, body=b"kaput: database is down")
    hanging.default = Reply(delay_seconds=4)  # well past its 1 s timeout
    ws, ring, secret = new_id("ws"), dispatcher.ring, [new_secret()]
    dst_500 = webhook(ring, ws, broken.url, secret)
    dst_hang = webhook(ring, ws, hanging.url, secret, timeout_seconds=1)
    dst_off = webhook(
        ring, ws, broken.url, secret, enabled=False, disabled_reason="paused by the customer"
    )
    dst_metadata = webhook(ring, ws, "http://169.254.169.254/latest/meta-data/", secret)
    dst_no_secret = webhook(ring, ws, broken.url, [])
    config = await publish_workspace(
        producer, topics, ws, [dst_500, dst_hang, dst_off, dst_metadata, dst_no_secret]
    )
    deliveries = {
        name: delivery_for(config, destination_id)
        for name, destination_id in (
            ("500", dst_500.id),
            ("hang", dst_hang.id),
            ("off", dst_off.id),
            ("metadata", dst_metadata.id),
            ("no secret", dst_no_secret.id),
            ("deleted", new_id("dst")),
        )
    }
    for delivery in deliveries.values():
        await send_delivery(producer, topics, delivery)

    records = await outcomes.wait_for(
        outcomes_for(list(deliveries.values())), "six failed outcomes", timeout=45
    )
    got = {name: outcome_of(records, d) for name, d in deliveries.items()}
    assert all(o.status == OutcomeStatus.FAILED for o in got.values()), got
    assert all(outcomes.headers_of(o) == [(OUTCOME_STATUS_HEADER, b"failed")] for o in got.values())

    assert got["500"].http_status == 500
    assert got["500"].response_excerpt == "kaput: database is down"
    assert got["500"].error == "HTTP 500"
    assert got["500"].request_headers["webhook-id"] == deliveries["500"].event_id

    assert got["hang"].http_status is None
    assert got["hang"].error is not None and "timed out" in got["hang"].error
    assert got["hang"].latency_ms is not None and got["hang"].latency_ms >= 900
    assert len(hanging.requests) == 1  # no retries yet: one attempt, one outcome

    assert got["off"].error == "destination disabled: paused by the customer"
    assert got["deleted"].error == "destination deleted"
    assert got["off"].url is None and got["deleted"].url is None
    assert got["metadata"].error is not None and "cloud metadata" in got["metadata"].error
    assert got["metadata"].request_headers == {}  # refused before anything was sent
    assert got["no secret"].error is not None and "no signing secret" in got["no secret"].error
    assert len(broken.requests) == 1  # only dst_500 reached it

    async with aiohttp.ClientSession() as session, session.get(dispatcher.metrics_url) as r:
        metrics = await r.text()
    assert 'signet_dispatcher_attempts_total{outcome="failed",status_class="5xx"}' in metrics
    assert 'signet_dispatcher_attempts_total{outcome="failed",status_class="none"}' in metrics
    assert "signet_dispatcher_http_latency_seconds_bucket" in metrics
    assert "signet_dispatcher_in_flight" in metrics


async def test_poison_records_are_dead_lettered_and_later_ones_still_sent(
    dispatcher: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    dead_letters: TopicTail[DeadLetter],
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    ws, secret = new_id("ws"), new_secret()
    destination = webhook(dispatcher.ring, ws, receiver.url, [secret])
    config = await publish_workspace(producer, topics, ws, [destination])
    good = delivery_for(config, destination.id)
    invalid = dataclasses.replace(delivery_for(config, destination.id), attempt=0)
    garbage = b"\x00not an avro record"
    # same key as the good delivery: the same partition, read before it
    await producer.send(topics.deliveries, garbage, key=destination.id)
    await producer.send(topics.deliveries, codec.encode(invalid), key=destination.id)
    await send_delivery(producer, topics, good)

    (request,) = await receiver.wait_for(1)
    Webhook(secret).verify(request.body, request.headers)
    letters = await dead_letters.wait_for(
        lambda records: len([r for r in records if r.original_key == destination.id.encode()]) >= 2,
        "two dead letters",
    )
    mine = [r for r in letters if r.original_key == destination.id.encode()]
    by_value = {r.original_value: r for r in mine}
    assert set(by_value) == {garbage, codec.encode(invalid)}
    assert "bad magic" in by_value[garbage].reason
    assert by_value[garbage].error_type == "CodecError"
    assert "attempt must be at least 1" in by_value[codec.encode(invalid)].reason
    assert all(r.service == "dispatcher" and r.source_topic == topics.deliveries for r in mine)
    records = await outcomes.wait_for(outcomes_for([good]), "the good delivery's outcome")
    assert outcome_of(records, good).status == OutcomeStatus.DELIVERED
    assert not any(o.delivery_id == invalid.id for o in outcomes.records)
    async with aiohttp.ClientSession() as session, session.get(dispatcher.metrics_url) as r:
        metrics = await r.text()
    assert 'signet_dispatcher_dead_letters_total{error_type="CodecError"}' in metrics
    assert 'signet_dispatcher_dead_letters_total{error_type="InvalidRecordError"}' in metrics


async def test_a_delivery_ahead_of_its_config_waits_for_it(
    dispatcher: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    """The router's snapshot may reach us after the delivery it routed: not "deleted"."""
    receiver = await make_receiver()
    ws, secret = new_id("ws"), new_secret()
    destination = webhook(dispatcher.ring, ws, receiver.url, [secret])
    config = WorkspaceConfig(ws, 1, "Late", "production", now_ms(), now_ms(), [], [destination])
    delivery = delivery_for(config, destination.id)
    await send_delivery(producer, topics, delivery)
    await publish_workspace(producer, topics, ws, [destination])

    (request,) = await receiver.wait_for(1)
    Webhook(secret).verify(request.body, request.headers)
    records = await outcomes.wait_for(outcomes_for([delivery]), "the late config's outcome")
    assert outcome_of(records, delivery).status == OutcomeStatus.DELIVERED


async def test_a_delivery_is_timed_end_to_end_and_the_kafka_metrics_are_served(
    dispatcher: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    ws = new_id("ws")
    destination = webhook(dispatcher.ring, ws, receiver.url, [new_secret()])
    config = await publish_workspace(producer, topics, ws, [destination])
    e2e = "signet_dispatcher_end_to_end_seconds"
    before = await scrape(dispatcher.metrics_url)
    count_before, sum_before = sample(before, f"{e2e}_count"), sample(before, f"{e2e}_sum")

    delivery = delivery_for(config, destination.id)
    await send_delivery(producer, topics, delivery)
    await receiver.wait_for(1)
    await outcomes.wait_for(outcomes_for([delivery]), "the delivered outcome")

    group = dispatcher.consumer_group
    lag = {"group": group, "topic": topics.deliveries}
    text = await scrape_until(
        dispatcher.metrics_url,
        # Everything on deliveries was read: a lag of zero (not an absent series).
        lambda t: (
            sample(t, f"{e2e}_count") >= count_before + 1
            and samples(t, "signet_kafka_consumer_lag", **lag) == [0.0]
        ),
        "the delivery timed end to end, and no lag on deliveries",
    )
    # Created when the workspace was published, a moment ago: seconds, not milliseconds.
    assert 0 < sample(text, f"{e2e}_sum") - sum_before < 120
    assert sample(text, "signet_kafka_records_consumed_total", **lag) >= 1
    assert sample(text, "signet_kafka_records_produced_total", topic=topics.outcomes) >= 1
