"""kill -9 between an alert and its commit: the restart sends at most one duplicate and
loses nothing (the folded outcomes of the killed window come out in a digest)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

from signet_sdk.ids import new_id

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.settings import CommonSettings
from tests.receiver import Receiver
from tests.services.alerter.conftest import (
    alerter_process,
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

MakeReceiver = Callable[[], Awaitable[Receiver]]


async def test_a_crash_after_an_alert_resends_at_most_it_and_loses_no_folded_alert(
    kafka_settings: CommonSettings,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
) -> None:
    # A long commit interval: the kill certainly lands between the alert and its commit.
    first, running = alerter_process(
        kafka_settings, storm_window_seconds=120, commit_interval_seconds=60
    )
    slack = await make_receiver()
    ws = new_id("ws")
    destination = webhook_destination()
    channel = slack_channel(running.ring, ws, stand_in_url(slack.port))
    await publish_workspace(producer, topics, workspace(ws, [destination, channel]))
    records = [outcome(ws, destination) for _ in range(3)]
    try:
        await first.start()
        await send_outcome(producer, topics, records[0])
        await slack.wait_for(1)
        for record in records[1:]:
            await send_outcome(producer, topics, record)
        await wait_for_metric(
            running.metrics_url, "signet_alerter_alerts_folded_total", lambda v: v >= 2, "folds"
        )
        first.kill()
    finally:
        await first.stop()
    assert len(slack.requests) == 1  # the folded two were never sent

    second, _ = alerter_process(
        kafka_settings,
        master_keys=running.master_keys,
        group=running.consumer_group,
        storm_window_seconds=2,
    )
    async with second:
        # After the restart: the first of the re-read outcomes alerts at once, the rest
        # fold into a digest when the (2 s) window closes.
        messages = slack_messages(await slack.wait_for(3, timeout=45))

    alerts = [m for m in messages if not m.is_digest]
    digests = [m for m in messages if m.is_digest]
    assert len(digests) == 1 and len(alerts) == 2
    sent = Counter(event for m in alerts for event in m.event_ids)
    covered = set(sent) | set(digests[0].event_ids)
    assert covered == {r.event_id for r in records}  # nothing lost
    assert sum(sent.values()) + digests[0].digest_count == len(records) + 1  # one duplicate
    assert all(n == 1 for event, n in sent.items() if event != records[0].event_id)
    assert len(slack.requests) == 3  # and nothing more once the digest went out
