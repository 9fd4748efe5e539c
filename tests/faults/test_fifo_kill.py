"""A SIGKILL of the dispatcher in the middle of a FIFO destination's line (a failing head,
followers on the hold topic, others being delivered) loses nothing and lets no later
delivery overtake an earlier one; only the head of the moment may be sent twice, with the
same ``webhook-id`` (services/dispatcher/fifo.py)."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

from signet.dev.broker import EmbeddedBroker
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import FifoLine
from tests.eventually import eventually
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import (
    Setting,
    dispatcher_process,
    single_partition_settings,
)
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import send_fifo_line

MakeReceiver = Callable[[], Awaitable[Receiver]]
COUNT = 40
SETTINGS: dict[str, Setting] = {
    "retry_delays_seconds": "[1]",
    "retry_max_attempts": 20,
    "commit_interval_seconds": 0.2,
}


async def test_a_sigkill_mid_line_loses_nothing_and_keeps_the_order(
    broker: EmbeddedBroker, make_receiver: MakeReceiver
) -> None:
    settings = single_partition_settings(broker)
    topics = Topics.from_settings(settings)
    receiver = await make_receiver()
    # The head fails twice (its followers go to the hold topic), then every request takes
    # a little while, so the kill lands in the middle of the line.
    receiver.script(Reply(status=500), Reply(status=500))
    receiver.default = Reply(delay_seconds=0.05)
    first, running = dispatcher_process(settings, env=SETTINGS)
    await first.start()
    try:
        async with AsyncProducer(settings) as producer:
            sent = await send_fifo_line(producer, topics, running.ring, receiver.url, COUNT)
            in_line = [delivery for delivery, _ in sent]
            await receiver.wait_for(COUNT // 3, timeout=60)
            first.kill()
            await first.stop()
    finally:
        await first.stop()
    killed_at = len(receiver.requests)
    assert killed_at < COUNT + 2, "the kill came after the line was done: nothing tested"

    second, _ = dispatcher_process(
        settings, master_keys=running.master_keys, group=running.consumer_group, env=SETTINGS
    )
    async with second:
        events = [d.event_id for d in in_line]

        def every_one_delivered() -> bool | None:
            delivered = {r.headers["webhook-id"] for r in receiver.requests if r.status == 200}
            return True if delivered >= set(events) else None

        await eventually(
            every_one_delivered,
            lambda: f"not every delivery arrived: {len(receiver.requests)} requests",
            timeout=90,
        )
        last = sent[-1][1]
        lines = TopicTail(settings, topics.fifo_lines, FifoLine)
        await lines.start()
        try:
            records = await lines.wait_for(
                lambda rs: any(r.done_through == last for r in rs), "the line's last record"
            )
        finally:
            await lines.stop()

    # The line's record says so: nothing waits (none counted twice across the kill).
    done = next(r for r in records if r.done_through == last)
    assert (done.head, done.held_through, done.waiting) == (None, last, 0), done
    places = [events.index(r.headers["webhook-id"]) for r in receiver.requests]
    # Never out of order: each request is for the same delivery as the one before it (the
    # head sent again) or a later one.
    assert all(a <= b for a, b in itertools.pairwise(places)), places
    resent = len(places) - COUNT - 2  # beyond every delivery once and the head's 2 failures
    assert 0 <= resent <= 1, places


FOLLOWERS = 5


async def test_waiting_stays_exact_when_a_held_head_is_sent_again_after_a_sigkill(
    broker: EmbeddedBroker, make_receiver: MakeReceiver
) -> None:
    """The head of the moment came from the hold topic: after the kill its hold record is
    read again (still incomplete) and it is sent again; it left ``waiting`` when it first
    became the head and must not leave it twice."""
    settings = single_partition_settings(broker)
    topics = Topics.from_settings(settings)
    receiver = await make_receiver()
    # The first fails once (the rest go to the hold topic behind it), then is delivered;
    # the second, from the hold topic, is the head then and fails until the receiver
    # recovers, with the rest waiting behind it.
    receiver.script(Reply(status=500), Reply())
    receiver.default = Reply(status=500)
    lines = TopicTail(settings, topics.fifo_lines, FifoLine)
    await lines.start()
    first, running = dispatcher_process(settings, env=SETTINGS)
    try:
        await first.start()
        async with AsyncProducer(settings) as producer:
            url = receiver.url
            sent = await send_fifo_line(producer, topics, running.ring, url, FOLLOWERS + 1)
        in_line, sequences = [d for d, _ in sent], [place for _, place in sent]
        held_head = sequences[1]

        def held_head_failed() -> bool | None:
            second = in_line[1].event_id
            failed = [r for r in receiver.requests if r.headers["webhook-id"] == second]
            return True if failed else None

        await eventually(held_head_failed, "the held head was sent and failed", timeout=60)
        records = await lines.wait_for(
            lambda rs: any(r.head == held_head and r.held_through > held_head for r in rs),
            "the held head's record",
        )
        killed_writer = next(r.writer for r in records if r.head == held_head)
        first.kill()
        await first.stop()

        second, _ = dispatcher_process(
            settings, master_keys=running.master_keys, group=running.consumer_group, env=SETTINGS
        )
        async with second:
            failures = len([r for r in receiver.requests if r.status == 500])

            def sent_again() -> bool | None:
                return True if len(receiver.requests) - 1 > failures else None

            await eventually(sent_again, "the held head sent again after the restart", 60)
            receiver.default = Reply()  # recovered: the rest follow
            done = await lines.wait_for(
                lambda rs: any(r.done_through == sequences[-1] for r in rs), "the line done"
            )
    finally:
        await first.stop()
        await lines.stop()

    # Every record the second incarnation wrote: as many wait as there are behind its head
    # (or behind the last one done, between two heads).
    after = [r for r in done if r.writer not in (killed_writer,)]
    assert after, "the second dispatcher wrote no line record"
    for record in after:
        at = record.head if record.head is not None else record.done_through
        behind = len([s for s in sequences if s > at])
        assert record.waiting == behind, (record, sequences)
