"""SIGTERM: the alerter stops reading, sends the pending digest at once, commits, exits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from confluent_kafka import Consumer, TopicPartition
from signet_sdk.ids import new_id

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics, kafka_client_config
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


def committed_offset(settings: CommonSettings, group: str, topic: str, partition: int) -> int:
    consumer = Consumer({**kafka_client_config(settings), "group.id": group})
    try:
        (tp,) = consumer.committed([TopicPartition(topic, partition)], timeout=10)
        return int(tp.offset)
    finally:
        consumer.close()


async def test_sigterm_flushes_the_pending_digest_and_commits_past_it(
    kafka_settings: CommonSettings,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
) -> None:
    process, running = alerter_process(kafka_settings, storm_window_seconds=600)
    slack = await make_receiver()
    ws = new_id("ws")
    destination = webhook_destination()
    channel = slack_channel(running.ring, ws, stand_in_url(slack.port))
    await publish_workspace(producer, topics, workspace(ws, [destination, channel]))
    records = [outcome(ws, destination) for _ in range(4)]
    try:
        await process.start()
        await send_outcome(producer, topics, records[0])
        await slack.wait_for(1)
        for record in records[1:]:
            last = await send_outcome(producer, topics, record)
        await wait_for_metric(
            running.metrics_url, "signet_alerter_alerts_folded_total", lambda v: v >= 3, "folds"
        )
        assert len(slack.requests) == 1  # ten minutes before the window would close
        exit_code = await process.stop(timeout=30)
    finally:
        await process.stop()

    assert exit_code == 0
    alert, digest = slack_messages(slack.requests)
    assert alert.event_ids == [records[0].event_id]
    assert digest.is_digest and digest.digest_count == 3
    assert digest.event_ids == [r.event_id for r in records[1:]]
    # Every outcome is complete and committed, the last fold too: a restart resends nothing.
    partition, offset = last.partition() or 0, last.offset() or 0
    committed = committed_offset(kafka_settings, running.consumer_group, topics.outcomes, partition)
    assert committed == offset + 1
