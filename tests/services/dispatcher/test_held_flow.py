"""A FIFO line stalled behind a failing head keeps at most ``SIGNET_FIFO_HELD_IN_MEMORY``
hold-topic records of its partition in memory (``services/dispatcher/held_flow.py``); the
rest stay on the hold topic, read again once the line has moved on, and every delivery
still arrives in order. With the real dispatcher, broker and receiver; the bookkeeping
itself is checked on its own first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.dispatcher.held_flow import HeldFlow
from signet.dev.broker import EmbeddedBroker
from signet.kafka.clients import AsyncProducer
from signet.kafka.offsets import Partition
from signet.kafka.topics import Topics
from tests.eventually import eventually
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import dispatcher_process, single_partition_settings
from tests.services.dispatcher.scrape import sample, scrape
from tests.services.dispatcher.workspace import send_fifo_line

MakeReceiver = Callable[[], Awaitable[Receiver]]
BOUND = 5
COUNT = 30
HOLD = Partition("fifo-hold", 0)


def test_a_batch_is_cut_at_the_bound_and_the_partition_resumes_at_half() -> None:
    flow = HeldFlow("fifo-hold", 4)
    other = Partition("fifo-hold", 1)
    (generation,) = {flow.took(HOLD) for _ in range(3)}
    keys: list[Partition | None] = [HOLD, None, other, HOLD, HOLD, None]
    # One place left on partition 0: its second record and every later one are left out.
    assert flow.cut(flow.room(), keys) == [True, True, True, False, False, True]
    flow.took(HOLD)
    flow.left_out({HOLD})
    assert flow.take_resumes() == set()
    flow.finished(HOLD, generation)
    assert flow.take_resumes() == set()  # 3 held: above half
    flow.finished(HOLD, generation)
    assert flow.take_resumes() == {HOLD}  # 2: half of the bound
    assert flow.peak == 4


def test_what_finishes_from_before_a_rebalance_does_not_count() -> None:
    flow = HeldFlow("fifo-hold", 4)
    (before,) = {flow.took(HOLD) for _ in range(4)}
    flow.forget([HOLD])  # revoked and assigned again: its lines were dropped
    (now,) = {flow.took(HOLD) for _ in range(4)}
    for _ in range(4):
        flow.finished(HOLD, before)  # the dropped lines' records, cancelled
    assert flow.room() == {HOLD: 0}
    flow.finished(HOLD, now)
    assert flow.room() == {HOLD: 1}


def test_a_partition_drained_while_the_poll_ran_resumes_at_once() -> None:
    flow = HeldFlow("fifo-hold", 4)
    flow.left_out({HOLD})  # nothing held any more when the cut reached the loop
    assert flow.take_resumes() == {HOLD}


async def test_a_stalled_line_holds_at_most_the_bound_in_memory_and_all_follow_in_order(
    broker: EmbeddedBroker, make_receiver: MakeReceiver
) -> None:
    settings = single_partition_settings(broker)
    topics = Topics.from_settings(settings)
    receiver = await make_receiver()
    receiver.default = Reply(status=500)  # the head fails until the receiver recovers
    process, running = dispatcher_process(
        settings,
        retry_delays_seconds="[1]",
        retry_max_attempts=100,
        breaker_failure_threshold=1000,
        fifo_held_in_memory=BOUND,
    )
    async with process, AsyncProducer(settings) as producer:
        sent = await send_fifo_line(producer, topics, running.ring, receiver.url, COUNT)

        async def held_to_the_bound() -> float | None:
            text = await scrape(running.metrics_url)
            held = sample(text, "signet_dispatcher_fifo_held")
            assert held <= BOUND, f"{held} held in memory, over the bound of {BOUND}"
            return held if held == BOUND else None

        await eventually(held_to_the_bound, "the hold filled up to its bound", timeout=60)
        receiver.default = Reply()  # recovered: the head goes, and the rest in order
        events = [delivery.event_id for delivery, _ in sent]

        def every_one_delivered() -> bool | None:
            delivered = [r.headers["webhook-id"] for r in receiver.requests if r.status == 200]
            return True if len(delivered) >= COUNT else None

        await eventually(
            every_one_delivered,
            lambda: f"{len(receiver.requests)} requests, not every delivery arrived",
            timeout=90,
        )
        peak = sample(await scrape(running.metrics_url), "signet_dispatcher_fifo_held_peak")

    delivered = [r.headers["webhook-id"] for r in receiver.requests if r.status == 200]
    assert delivered == events
    assert {r.headers["webhook-id"] for r in receiver.requests if r.status != 200} == {events[0]}
    assert peak == BOUND, f"at most {peak} held at a time, the bound is {BOUND}"
