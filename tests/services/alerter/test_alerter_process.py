"""The alerter as a real process, on the real broker, posting to real Slack stand-ins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from signet_sdk.ids import new_id

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics, outcome_headers
from signet.records import codec
from signet.records.model import DeadLetter, Outcome, OutcomeStatus
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.receiver import Receiver, Reply
from tests.services.alerter.conftest import (
    PUBLIC_URL,
    SECRET_PATH,
    RunningAlerter,
    alerter_process,
    metric,
    read_metrics,
    slack_messages,
    stand_in_url,
    wait_for_metric,
)
from tests.services.alerter.records import (
    outcome,
    publish_workspace,
    send_outcome,
    slack_channel,
    webhook_destination,
    workspace,
)
from tests.services.dispatcher.topic_tail import TopicTail

MakeReceiver = Callable[[], Awaitable[Receiver]]
OUTCOMES = "signet_alerter_outcomes_total"


@pytest.fixture(scope="module")
async def alerter(kafka_settings: CommonSettings) -> AsyncIterator[RunningAlerter]:
    process, running = alerter_process(kafka_settings)
    async with process:
        yield running


def letters_for(value: bytes) -> Callable[[list[DeadLetter]], bool]:
    return lambda letters: any(letter.original_value == value for letter in letters)


def letter_of(letters: list[DeadLetter], value: bytes) -> DeadLetter:
    (found,) = [letter for letter in letters if letter.original_value == value]
    return found


async def test_an_exhausted_outcome_alerts_every_enabled_channel_with_the_facts(
    alerter: RunningAlerter, producer: AsyncProducer, topics: Topics, make_receiver: MakeReceiver
) -> None:
    ops, oncall, muted = await make_receiver(), await make_receiver(), await make_receiver()
    ws, ring = new_id("ws"), alerter.ring
    destination = webhook_destination("https://user:pw@api.acme.test/hooks/x?token=s3cr3t")
    channels = [
        slack_channel(ring, ws, stand_in_url(ops.port), name="#ops"),
        slack_channel(ring, ws, stand_in_url(oncall.port), name="#on-call"),
        slack_channel(ring, ws, stand_in_url(muted.port), name="#muted", enabled=False),
    ]
    await publish_workspace(producer, topics, workspace(ws, [destination, *channels]))
    skipped_before = await metric(alerter.metrics_url, OUTCOMES, action="skipped")

    # Not alerts: delivered and failed outcomes of the same destination are skipped.
    for status in (OutcomeStatus.DELIVERED, OutcomeStatus.FAILED):
        await send_outcome(producer, topics, outcome(ws, destination, status=status, attempt=1))
    record = outcome(ws, destination, attempt=8, http_status=502, error="HTTP 502")
    await send_outcome(producer, topics, record)

    for stand_in in (ops, oncall):
        (message,) = slack_messages(await stand_in.wait_for(1))
        for expected in (
            "Acme Corp",
            "Orders API",
            "api.acme.test",
            "order.completed",
            record.event_id,
            "*Attempts*\\n8",
            "HTTP 502",
            f"<!date^{record.attempted_at // 1000}^",
        ):
            assert expected in message.body, expected
        assert message.event_ids == [record.event_id]
        assert f"{PUBLIC_URL}/embed#/events/{record.event_id}" in message.body
        for secret in ("s3cr3t", "user:pw", "/hooks/x"):
            assert secret not in message.body
    # Outcomes of a partition are handled in order: the skips happened before the alert.
    assert await metric(alerter.metrics_url, OUTCOMES, action="skipped") >= skipped_before + 2
    assert len(ops.requests) == len(oncall.requests) == 1
    assert muted.requests == []


async def test_a_disabled_destination_is_announced(
    alerter: RunningAlerter, producer: AsyncProducer, topics: Topics, make_receiver: MakeReceiver
) -> None:
    slack = await make_receiver()
    ws = new_id("ws")
    destination = webhook_destination()
    channel = slack_channel(alerter.ring, ws, stand_in_url(slack.port))
    await publish_workspace(producer, topics, workspace(ws, [destination, channel]))
    reason = "HTTP 410: the receiver asked to stop deliveries"
    record = outcome(
        ws, destination, status=OutcomeStatus.DESTINATION_DISABLED, http_status=410, error=reason
    )
    await send_outcome(producer, topics, record)
    (message,) = slack_messages(await slack.wait_for(1))
    assert "disabled" in message.raw["text"] and reason in message.body


async def test_further_alerts_within_the_window_fold_into_one_digest(
    alerter: RunningAlerter, producer: AsyncProducer, topics: Topics, make_receiver: MakeReceiver
) -> None:
    slack = await make_receiver()
    ws = new_id("ws")
    destination = webhook_destination()
    channel = slack_channel(alerter.ring, ws, stand_in_url(slack.port))
    await publish_workspace(producer, topics, workspace(ws, [destination, channel]))

    first = outcome(ws, destination)
    await send_outcome(producer, topics, first)
    (alert,) = slack_messages(await slack.wait_for(1))
    assert alert.event_ids == [first.event_id] and not alert.is_digest

    more = [outcome(ws, destination) for _ in range(5)]
    for record in more:
        await send_outcome(producer, topics, record)
    # The digest comes when the 4 s window closes, not one message per outcome.
    messages = slack_messages(await slack.wait_for(2, timeout=30))
    assert len(messages) == 2
    digest = messages[1]
    assert digest.is_digest and digest.digest_count == 5
    assert digest.event_ids == [r.event_id for r in more]  # all five, as examples
    assert "Exhausted: *5*" in digest.body
    assert digest.request.at - alert.request.at >= 3.0  # held until the window closed


async def test_a_429_is_retried_after_its_retry_after_and_delivered_once(
    alerter: RunningAlerter,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
    dead_letters: TopicTail[DeadLetter],
) -> None:
    slack = await make_receiver()
    slack.script(Reply(status=429, body=b"rate_limited", headers={"Retry-After": "2"}))
    ws = new_id("ws")
    destination = webhook_destination()
    channel = slack_channel(alerter.ring, ws, stand_in_url(slack.port))
    await publish_workspace(producer, topics, workspace(ws, [destination, channel]))
    sent_before = await metric(
        alerter.metrics_url, "signet_alerter_alerts_sent_total", kind="alert"
    )

    value = (await send_outcome(producer, topics, outcome(ws, destination))).value() or b""
    limited, accepted = await slack.wait_for(2)
    assert accepted.body == limited.body
    assert accepted.at - limited.at >= 1.9  # it waited what Retry-After asked
    await wait_for_metric(
        alerter.metrics_url,
        "signet_alerter_alerts_sent_total",
        lambda v: v >= sent_before + 1,
        "the alert counted as sent",
        kind="alert",
    )
    assert len(slack.requests) == 2
    assert not letters_for(value)(dead_letters.records)


async def test_slack_failing_past_the_retry_budget_dead_letters_the_alert(
    alerter: RunningAlerter,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
    dead_letters: TopicTail[DeadLetter],
) -> None:
    slack = await make_receiver()
    slack.default = Reply(status=500, body=b"internal_error")
    ws = new_id("ws")
    destination = webhook_destination()
    channel = slack_channel(alerter.ring, ws, stand_in_url(slack.port), name="#broken")
    await publish_workspace(producer, topics, workspace(ws, [destination, channel]))

    value = (await send_outcome(producer, topics, outcome(ws, destination))).value() or b""
    letters = await dead_letters.wait_for(letters_for(value), "the alert's dead letter")
    letter = letter_of(letters, value)
    assert len(slack.requests) == 3  # the whole budget, no more
    assert letter.service == "alerter" and letter.error_type == "SlackGaveUp"
    assert letter.source_topic == topics.outcomes
    assert "gave up after 3 attempts" in letter.reason and "HTTP 500" in letter.reason
    assert "#broken" in letter.reason and SECRET_PATH not in letter.reason
    assert codec.decode(letter.original_value, Outcome).workspace_id == ws


async def test_a_revoked_webhook_is_dead_lettered_at_once(
    alerter: RunningAlerter,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
    dead_letters: TopicTail[DeadLetter],
) -> None:
    slack = await make_receiver()
    slack.default = Reply(status=404, body=b"no_service")
    ws = new_id("ws")
    destination = webhook_destination()
    channel = slack_channel(alerter.ring, ws, stand_in_url(slack.port))
    await publish_workspace(producer, topics, workspace(ws, [destination, channel]))

    value = (await send_outcome(producer, topics, outcome(ws, destination))).value() or b""
    letter = letter_of(await dead_letters.wait_for(letters_for(value), "dead letter"), value)
    assert len(slack.requests) == 1
    assert letter.error_type == "SlackRejected" and "HTTP 404 no_service" in letter.reason


async def test_a_garbage_record_is_dead_lettered_and_the_next_alert_still_goes_out(
    alerter: RunningAlerter,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
    dead_letters: TopicTail[DeadLetter],
) -> None:
    slack = await make_receiver()
    ws = new_id("ws")
    destination = webhook_destination()
    channel = slack_channel(alerter.ring, ws, stand_in_url(slack.port))
    await publish_workspace(producer, topics, workspace(ws, [destination, channel]))

    garbage = b"\xc3\x01 not an outcome " + new_id("x").encode()
    await producer.send(topics.outcomes, garbage, key=ws)  # same partition as what follows
    record = outcome(ws, destination)
    await send_outcome(producer, topics, record)

    letter = letter_of(await dead_letters.wait_for(letters_for(garbage), "dead letter"), garbage)
    assert letter.error_type in ("CodecError", "UnknownSchemaError")
    assert letter.original_key == ws.encode()
    (message,) = slack_messages(await slack.wait_for(1))
    assert message.event_ids == [record.event_id]


async def test_the_status_header_decides_what_is_read(
    alerter: RunningAlerter,
    producer: AsyncProducer,
    topics: Topics,
    dead_letters: TopicTail[DeadLetter],
) -> None:
    """A record whose header names a status no alert is for is skipped without being
    decoded; one whose header calls for an alert is read, and dead-lettered if unreadable."""
    ws = new_id("ws")
    skipped_before = await metric(alerter.metrics_url, OUTCOMES, action="skipped")
    unread = b"\xc3\x01 never decoded " + new_id("x").encode()
    unreadable = b"\xc3\x01 not an outcome " + new_id("x").encode()
    await producer.send(topics.outcomes, unread, key=ws, headers=outcome_headers("delivered"))
    await producer.send(topics.outcomes, unreadable, key=ws, headers=outcome_headers("exhausted"))

    letter = letter_of(
        await dead_letters.wait_for(letters_for(unreadable), "dead letter"), unreadable
    )
    assert letter.error_type in ("CodecError", "UnknownSchemaError")
    # Same partition, in order: the skip happened before the dead letter.
    assert await metric(alerter.metrics_url, OUTCOMES, action="skipped") >= skipped_before + 1
    assert not letters_for(unread)(dead_letters.records)


async def test_a_workspace_without_a_slack_channel_needs_nothing_sent(
    alerter: RunningAlerter, producer: AsyncProducer, topics: Topics
) -> None:
    ws = new_id("ws")
    destination = webhook_destination()
    await publish_workspace(producer, topics, workspace(ws, [destination]))
    before = await metric(alerter.metrics_url, OUTCOMES, action="no_channel")
    await send_outcome(producer, topics, outcome(ws, destination))
    await wait_for_metric(
        alerter.metrics_url, OUTCOMES, lambda v: v >= before + 1, "no channel", action="no_channel"
    )


async def test_health_readiness_and_metrics_are_served(alerter: RunningAlerter) -> None:
    base = alerter.metrics_url.removesuffix("/metrics")
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/readyz"):
            async with session.get(base + path) as response:
                assert response.status == 200
        async with session.get(alerter.metrics_url) as response:
            text = await response.text()
    for name in (
        "signet_alerter_alerts_sent_total",
        "signet_alerter_alerts_failed_total",
        "signet_alerter_alerts_folded_total",
        "signet_alerter_dead_letters_total",
    ):
        assert name in text
    assert SECRET_PATH not in text


async def test_records_consumed_and_the_lag_of_outcomes_are_served(
    alerter: RunningAlerter, producer: AsyncProducer, topics: Topics
) -> None:
    ws = new_id("ws")
    destination = webhook_destination()
    await publish_workspace(producer, topics, workspace(ws, [destination]))
    mine = {"group": alerter.consumer_group, "topic": topics.outcomes}
    consumed = "signet_kafka_records_consumed_total"
    before = await metric(alerter.metrics_url, consumed, **mine)
    await send_outcome(producer, topics, outcome(ws, destination, status=OutcomeStatus.DELIVERED))
    await wait_for_metric(
        alerter.metrics_url,
        consumed,
        lambda v: v >= before + 1,
        "the outcome counted",
        group=alerter.consumer_group,
        topic=topics.outcomes,
    )
    lag_key = ("signet_kafka_consumer_lag", tuple(sorted(mine.items())))

    async def all_read() -> bool:
        return (await read_metrics(alerter.metrics_url)).get(lag_key) == 0

    await eventually(all_read, "a lag of 0 reported for outcomes (read it all)", 30)
