"""Retries through the delay tiers, with a real dispatcher process and real receivers.

The dispatcher here runs a short platform schedule (1 s, then 2 s, ±20 %): a retry
shorter than the smallest tier waits on ``retry.5s`` and is held in memory until due.
"""

from __future__ import annotations

import dataclasses
import email.utils
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from signet_sdk.ids import new_id
from signet_sdk.signing import generate_secret
from standardwebhooks import Webhook

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import OUTCOME_STATUS_HEADER, Topics
from signet.records import codec
from signet.records.model import (
    DeadLetter,
    Delivery,
    Outcome,
    OutcomeStatus,
    RetryPolicy,
    WorkspaceCommand,
)
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import RunningDispatcher, dispatcher_process
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    outcomes_of,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]
DELAYS = (1.0, 2.0)


@pytest.fixture(scope="module")
async def retrying(kafka_settings: CommonSettings) -> AsyncIterator[RunningDispatcher]:
    process, running = dispatcher_process(
        kafka_settings,
        retry_delays_seconds=str(list(DELAYS)),
        retry_max_attempts=6,
        breaker_failure_threshold=3,
        breaker_cooldown_seconds=1,
    )
    async with process:
        yield running


@pytest.fixture(scope="module")
async def commands(
    kafka_settings: CommonSettings, topics: Topics
) -> AsyncIterator[TopicTail[WorkspaceCommand]]:
    tail = TopicTail(kafka_settings, topics.workspace_commands, WorkspaceCommand)
    await tail.start()
    yield tail
    await tail.stop()


@pytest.fixture(scope="module")
async def first_tier(
    kafka_settings: CommonSettings, topics: Topics
) -> AsyncIterator[TopicTail[Delivery]]:
    tail = TopicTail(kafka_settings, topics.retry(5), Delivery)
    await tail.start()
    yield tail
    await tail.stop()


def secret() -> str:
    return generate_secret("standard-webhooks").secret


async def test_failures_are_retried_on_schedule_never_early_with_one_webhook_id(
    retrying: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    first_tier: TopicTail[Delivery],
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(status=500), Reply(reset=True), Reply(status=200))
    ws, key = new_id("ws"), secret()
    destination = webhook(retrying.ring, ws, receiver.url, [key])
    config = await publish_workspace(producer, topics, ws, [destination])
    delivery = delivery_for(config, destination.id)
    await send_delivery(producer, topics, delivery)

    requests = await receiver.wait_for(3, timeout=30)
    first, second, third = await outcomes_of(outcomes, delivery, 3)
    assert [o.status for o in (first, second, third)] == ["failed", "failed", "delivered"]
    assert [o.attempt for o in (first, second, third)] == [1, 2, 3]
    assert first.http_status == 500 and second.http_status is None
    assert second.error is not None and "connection" in second.error
    assert third.next_attempt_at is None

    for outcome, delay in ((first, DELAYS[0]), (second, DELAYS[1])):
        assert outcome.next_attempt_at is not None
        assert outcome.latency_ms is not None
        planned = outcome.next_attempt_at - outcome.attempted_at - outcome.latency_ms
        assert planned >= delay * 1000 * 0.8  # the jitter's lower bound (exact in unit tests)
        assert planned <= delay * 1000 * 1.2 + 1000  # the upper one, plus processing
    # never before its due time
    due = [first.next_attempt_at, second.next_attempt_at]
    assert due[0] is not None and due[1] is not None
    assert requests[1].at * 1000 >= due[0] and requests[2].at * 1000 >= due[1]
    for request in requests:
        assert request.headers["webhook-id"] == delivery.event_id
        Webhook(key).verify(request.body, request.headers)

    retries = await first_tier.wait_for(
        lambda rs: len([r for r in rs if r.id == delivery.id]) >= 2, "the two retries"
    )
    mine = sorted((r for r in retries if r.id == delivery.id), key=lambda r: r.attempt)
    assert [r.attempt for r in mine] == [2, 3]
    assert [r.due_at for r in mine] == [first.next_attempt_at, second.next_attempt_at]
    assert all(r.first_attempt_at == first.attempted_at for r in mine)
    assert all(r.failing_since == first.attempted_at for r in mine)
    assert all(r.body == delivery.body and r.event_id == delivery.event_id for r in mine)


async def test_retry_after_in_seconds_and_as_an_http_date(
    retrying: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    busy, limited = await make_receiver(), await make_receiver()
    busy.script(Reply(status=503, headers={"Retry-After": "3"}))
    when = time.time() + 4
    limited.script(
        Reply(status=429, headers={"Retry-After": email.utils.formatdate(when, usegmt=True)})
    )
    ws = new_id("ws")
    to_busy = webhook(retrying.ring, ws, busy.url, [secret()])
    to_limited = webhook(retrying.ring, ws, limited.url, [secret()])
    config = await publish_workspace(producer, topics, ws, [to_busy, to_limited])
    deliveries = [delivery_for(config, to_busy.id), delivery_for(config, to_limited.id)]
    for delivery in deliveries:
        await send_delivery(producer, topics, delivery)

    (_, again_busy) = await busy.wait_for(2, timeout=30)
    (_, again_limited) = await limited.wait_for(2, timeout=30)
    busy_first, _ = await outcomes_of(outcomes, deliveries[0], 2)
    limited_first, _ = await outcomes_of(outcomes, deliveries[1], 2)

    assert busy_first.http_status == 503 and busy_first.next_attempt_at is not None
    assert busy_first.next_attempt_at - busy_first.attempted_at >= 3000  # not the 1 s schedule
    assert again_busy.at * 1000 >= busy_first.next_attempt_at
    assert limited_first.http_status == 429 and limited_first.next_attempt_at is not None
    # an HTTP date has one-second resolution: due no earlier than that second
    assert limited_first.next_attempt_at >= int(when) * 1000 - 1000
    assert again_limited.at * 1000 >= limited_first.next_attempt_at


async def test_exhausted_after_the_last_attempt(
    retrying: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    receiver.default = Reply(status=500, body=b"still broken")
    ws = new_id("ws")
    destination = webhook(
        retrying.ring,
        ws,
        receiver.url,
        [secret()],
        retry_policy=RetryPolicy(max_attempts=3, delays_seconds=[1]),
    )
    config = await publish_workspace(producer, topics, ws, [destination])
    delivery = delivery_for(config, destination.id)
    await send_delivery(producer, topics, delivery)

    *failed, last = await outcomes_of(outcomes, delivery, 3)
    assert [o.status for o in failed] == ["failed", "failed"]
    assert all(o.next_attempt_at is not None for o in failed)
    assert last.status == OutcomeStatus.EXHAUSTED and last.attempt == 3
    assert outcomes.headers_of(last) == [(OUTCOME_STATUS_HEADER, b"exhausted")]
    assert last.next_attempt_at is None and last.http_status == 500
    assert last.error == "HTTP 500; gave up after attempt 3 of 3"
    assert last.response_excerpt == "still broken"
    assert len(receiver.requests) == 3


async def test_exhausted_when_the_next_attempt_would_pass_the_max_age(
    retrying: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    receiver.default = Reply(status=502)
    ws = new_id("ws")
    destination = webhook(
        retrying.ring,
        ws,
        receiver.url,
        [secret()],
        retry_policy=RetryPolicy(max_attempts=50, max_age_seconds=2, delays_seconds=[1]),
    )
    config = await publish_workspace(producer, topics, ws, [destination])
    delivery = delivery_for(config, destination.id)
    await send_delivery(producer, topics, delivery)

    records = await outcomes.wait_for(
        lambda rs: any(
            o.delivery_id == delivery.id and o.status == OutcomeStatus.EXHAUSTED for o in rs
        ),
        "the exhausted outcome",
    )
    mine = sorted((o for o in records if o.delivery_id == delivery.id), key=lambda o: o.attempt)
    last = mine[-1]
    assert last.status == OutcomeStatus.EXHAUSTED
    assert last.error is not None and "after the max age of 2s" in last.error
    assert 2 <= last.attempt < 50 and len(mine) == last.attempt
    assert all(o.status == OutcomeStatus.FAILED for o in mine[:-1])
    assert len(receiver.requests) == last.attempt


async def test_410_disables_the_destination_through_a_workspace_command(
    retrying: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    commands: TopicTail[WorkspaceCommand],
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(status=410, body=b"this endpoint is gone"))
    ws = new_id("ws")
    destination = webhook(retrying.ring, ws, receiver.url, [secret()])
    config = await publish_workspace(producer, topics, ws, [destination])
    delivery = delivery_for(config, destination.id)
    await send_delivery(producer, topics, delivery)

    records = await outcomes.wait_for(
        lambda rs: (
            {OutcomeStatus.FAILED, OutcomeStatus.DESTINATION_DISABLED}
            <= {o.status for o in rs if o.delivery_id == delivery.id}
        ),
        "the 410 and the disabled outcome",
    )
    by_status = {o.status: o for o in records if o.delivery_id == delivery.id}
    attempt = by_status[OutcomeStatus.FAILED]
    disabled = by_status[OutcomeStatus.DESTINATION_DISABLED]
    assert attempt.http_status == 410 and attempt.response_excerpt == "this endpoint is gone"
    assert disabled.http_status == 410 and disabled.destination_id == destination.id
    assert disabled.error is not None and "410" in disabled.error
    assert disabled.url == receiver.url and disabled.workspace_id == ws

    found = await commands.wait_for(
        lambda cs: any(c.target_id == destination.id for c in cs), "the disable command"
    )
    (command,) = [c for c in found if c.target_id == destination.id]
    assert command.kind == "disable_destination" and command.workspace_id == ws
    assert command.reason == disabled.error


async def test_breaker_opens_sends_nothing_probes_after_the_cooldown_and_closes(
    retrying: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    """Threshold 3, cool-down 1 s doubling on a failed probe. Each delivery's own retry
    is an hour away, so every request below was caused by a fresh delivery."""
    receiver = await make_receiver()
    receiver.default = Reply(status=500)
    ws = new_id("ws")
    destination = webhook(
        retrying.ring,
        ws,
        receiver.url,
        [secret()],
        retry_policy=RetryPolicy(delays_seconds=[3600]),
    )
    config = await publish_workspace(producer, topics, ws, [destination])
    seen: list[Outcome] = []

    async def deliver_one() -> Outcome:
        delivery = delivery_for(config, destination.id)
        await send_delivery(producer, topics, delivery)
        (outcome,) = await outcomes_of(outcomes, delivery, 1)
        seen.append(outcome)
        return outcome

    for _ in range(3):
        assert (await deliver_one()).http_status == 500
    blocked = await deliver_one()
    assert blocked.status == OutcomeStatus.FAILED and blocked.http_status is None
    assert blocked.error is not None
    assert blocked.error.startswith("not sent: circuit open after 3 consecutive failures")
    assert blocked.request_headers == {} and blocked.next_attempt_at is not None
    assert len(receiver.requests) == 3

    async def sent() -> Outcome | None:
        """A fresh delivery's outcome, if the breaker let it through as a probe."""
        outcome = await deliver_one()
        return outcome if outcome.request_headers else None

    failed_probe = await eventually(sent, "a probe sent after the cool-down", 20, interval=0.2)
    assert failed_probe.http_status == 500 and len(receiver.requests) == 4
    receiver.default = Reply(status=204)
    closing_probe = await eventually(sent, "a probe after the doubled cool-down", 20, interval=0.2)
    assert closing_probe.status == OutcomeStatus.DELIVERED and len(receiver.requests) == 5
    for _ in range(3):
        assert (await deliver_one()).status == OutcomeStatus.DELIVERED
    assert len(receiver.requests) == 8
    # every outcome with headers is a request; every other one sent nothing
    assert len([o for o in seen if o.request_headers]) == len(receiver.requests)
    assert all(o.http_status is None for o in seen if not o.request_headers)


async def test_poison_records_on_a_retry_tier_are_dead_lettered(
    retrying: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    dead_letters: TopicTail[DeadLetter],
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    ws = new_id("ws")
    destination = webhook(retrying.ring, ws, receiver.url, [secret()])
    config = await publish_workspace(producer, topics, ws, [destination])
    good = dataclasses.replace(delivery_for(config, destination.id), attempt=2)
    invalid = dataclasses.replace(delivery_for(config, destination.id), body=b"")
    tier = topics.retry(30)
    await producer.send(tier, b"\x00 not avro at all", key=destination.id)
    await producer.send(tier, codec.encode(invalid), key=destination.id)
    await producer.send(tier, codec.encode(good), key=destination.id)

    (request,) = await receiver.wait_for(1)
    assert request.headers["webhook-id"] == good.event_id
    (outcome,) = await outcomes_of(outcomes, good, 1)
    assert outcome.status == OutcomeStatus.DELIVERED and outcome.attempt == 2
    letters = await dead_letters.wait_for(
        lambda ls: len([x for x in ls if x.source_topic == tier]) >= 2, "two dead letters"
    )
    mine = {x.error_type: x for x in letters if x.source_topic == tier}
    assert set(mine) == {"CodecError", "InvalidRecordError"}
    assert "empty body" in mine["InvalidRecordError"].reason
    assert mine["InvalidRecordError"].original_value == codec.encode(invalid)
    assert all(x.original_key == destination.id.encode() for x in mine.values())
