"""A FIFO line that changes hands mid-way: two dispatchers in one consumer group, a second
one joining while the line's head is failing (a rebalance drops every line, read back
from its record), then the line's owner killed while the rest are being delivered.
Every delivery arrives, exactly in order; only a head may be sent again, with its own
``webhook-id`` (services/dispatcher/fifo.py: "A rebalance drops every line")."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

from signet.dev.broker import EmbeddedBroker
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from tests.eventually import eventually
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import Setting, dispatcher_process
from tests.services.dispatcher.test_dispatcher_group import split_between
from tests.services.dispatcher.workspace import send_fifo_line
from tests.services.ingest.topic_reader import kafka_partition
from tests.topics import fresh_topics

MakeReceiver = Callable[[], Awaitable[Receiver]]
COUNT = 30
PARTITIONS = 2
SETTINGS: dict[str, Setting] = {
    "retry_delays_seconds": "[1]",
    "retry_max_attempts": 50,
    "breaker_failure_threshold": 1000,
    "commit_interval_seconds": 0.2,
}


async def test_a_line_handed_over_twice_mid_way_loses_nothing_and_keeps_its_order(
    broker: EmbeddedBroker, make_receiver: MakeReceiver
) -> None:
    settings = fresh_topics(broker.bootstrap, partitions=PARTITIONS)
    topics = Topics.from_settings(settings)
    receiver = await make_receiver()
    receiver.default = Reply(status=500)  # the head fails: the rest go to the hold topic
    first, running = dispatcher_process(settings, env=SETTINGS)
    second, _ = dispatcher_process(
        settings, master_keys=running.master_keys, group=running.consumer_group, env=SETTINGS
    )
    try:
        await first.start()
        async with AsyncProducer(settings) as producer:
            sent = await send_fifo_line(producer, topics, running.ring, receiver.url, COUNT)
        events = [delivery.event_id for delivery, _ in sent]
        destination_id = sent[0][0].destination_id

        def failed_twice() -> bool | None:
            return True if len(receiver.requests) >= 2 else None

        await eventually(failed_twice, "the head failing", timeout=60)
        # A second member joins while the head is failing: every line is dropped.
        await second.start()
        shares = await split_between([first, second], topics, PARTITIONS)
        partition = kafka_partition(destination_id, PARTITIONS)
        owner = first if partition in shares[0] else second
        receiver.default = Reply(delay_seconds=0.05)  # recovered, slowly

        def delivered() -> list[str]:
            return [r.headers["webhook-id"] for r in receiver.requests if r.status == 200]

        def a_third_delivered() -> bool | None:
            return True if len(set(delivered())) >= COUNT // 3 else None

        await eventually(a_third_delivered, "a third of the line delivered", timeout=60)
        # Its owner dies in the middle of the line (SIGKILL: what it finished since its
        # last commit is read again): the other member takes the line on.
        owner.kill()
        await owner.stop()
        stopped_at = len(set(delivered()))

        def every_one_delivered() -> bool | None:
            return True if set(delivered()) >= set(events) else None

        await eventually(
            every_one_delivered,
            lambda: f"{len(set(delivered()))} of {COUNT} delivered",
            timeout=90,
        )
    finally:
        await first.stop()
        await second.stop()

    assert stopped_at < COUNT, "the owner stopped after the line was done: nothing tested"
    places = [events.index(r.headers["webhook-id"]) for r in receiver.requests]
    # Never out of order: each request is for the same delivery as the one before it (a
    # head sent again) or the next one.
    assert all(b - a in (0, 1) for a, b in itertools.pairwise(places)), places
    assert places[-1] == COUNT - 1
