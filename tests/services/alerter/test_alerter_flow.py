"""Flow control: a bounded number of alerts in flight, and a bound on the offsets held back
behind folded alerts (past it the digest goes out early instead of memory growing)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from signet_sdk.ids import new_id

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.settings import CommonSettings
from tests.receiver import Receiver, Reply
from tests.services.alerter.conftest import (
    RunningAlerter,
    alerter_process,
    slack_messages,
    stand_in_url,
)
from tests.services.alerter.records import (
    outcome,
    publish_workspace,
    send_outcome,
    slack_channel,
    webhook_destination,
    workspace,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]
MAX_HELD = 100


@pytest.fixture(scope="module")
async def alerter(kafka_settings: CommonSettings) -> AsyncIterator[RunningAlerter]:
    process, running = alerter_process(
        kafka_settings, max_in_flight=1, max_held_offsets=MAX_HELD, storm_window_seconds=600
    )
    async with process:
        yield running


async def test_one_alert_in_flight_at_a_time_when_the_limit_is_one(
    alerter: RunningAlerter, producer: AsyncProducer, topics: Topics, make_receiver: MakeReceiver
) -> None:
    slack = await make_receiver()
    slack.default = Reply(delay_seconds=1.0)  # a slow Slack
    ws = new_id("ws")
    destinations = [webhook_destination(name=f"API {n}") for n in range(3)]
    channel = slack_channel(alerter.ring, ws, stand_in_url(slack.port))
    await publish_workspace(producer, topics, workspace(ws, [*destinations, channel]))
    records = [outcome(ws, d) for d in destinations]  # three destinations: nothing folds
    for record in records:
        await send_outcome(producer, topics, record)

    messages = slack_messages(await slack.wait_for(3, timeout=30))
    assert [m.event_ids for m in messages] == [[r.event_id] for r in records]
    arrivals = [m.request.at for m in messages]
    # Each request began only after the previous one's second-long answer.
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(arrivals))


async def test_too_many_held_offsets_send_the_digest_early(
    alerter: RunningAlerter, producer: AsyncProducer, topics: Topics, make_receiver: MakeReceiver
) -> None:
    slack = await make_receiver()
    ws = new_id("ws")
    destination = webhook_destination()
    channel = slack_channel(alerter.ring, ws, stand_in_url(slack.port))
    await publish_workspace(producer, topics, workspace(ws, [destination, channel]))
    records = [outcome(ws, destination) for _ in range(MAX_HELD + 50)]
    for record in records:
        await send_outcome(producer, topics, record)

    # A window of ten minutes, yet the digest comes now: holding more offsets than the
    # bound flushes the folds (their offsets complete and the low-water mark moves on).
    alert, digest = slack_messages(await slack.wait_for(2, timeout=30))
    assert alert.event_ids == [records[0].event_id]
    assert digest.is_digest and MAX_HELD - 5 <= digest.digest_count <= MAX_HELD + 5
