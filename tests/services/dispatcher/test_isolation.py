"""One hanging destination next to healthy ones, all in one partition: the healthy ones
are all delivered while the hanging one holds only its own slots. Twice: with its queue
bounded by a count, and with the count out of reach (the default, as high as
max_pending) so that only the wait budget bounds it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from signet_sdk.ids import new_id
from signet_sdk.signing import generate_secret

from signet.dev.broker import EmbeddedBroker
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import Delivery, Outcome, OutcomeStatus
from signet.settings import CommonSettings
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import (
    RunningDispatcher,
    Setting,
    dispatcher_process,
    single_partition_settings,
)
from tests.services.dispatcher.scrape import sample, scrape
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]
PER_DESTINATION = 2
QUEUED = 60
MAX_PENDING = 100


@dataclass(frozen=True, slots=True)
class QueueLimit:
    settings: dict[str, Setting]
    most_held: int  # deliveries, running or queued, the hanging destination may hold


# The count alone: a wait budget the test never reaches.
BY_COUNT = QueueLimit(
    {"max_queued_per_destination": QUEUED, "max_queue_wait_seconds": 3600},
    PER_DESTINATION + QUEUED,
)
# The wait budget alone, as shipped: the count's default (2048) is beyond max_pending.
# Nothing completes at the hanging destination, but its running requests age, so its
# queue closes after a few dozen (measured: about 40); fewer than max_pending isolates.
BY_WAIT = QueueLimit({}, MAX_PENDING - 1)


@pytest.fixture(scope="module", params=[BY_COUNT, BY_WAIT], ids=["by-count", "by-wait"])
def queue_limit(request: pytest.FixtureRequest) -> QueueLimit:
    limit: QueueLimit = request.param
    return limit


@pytest.fixture(scope="module")
def kafka_settings(broker: EmbeddedBroker, queue_limit: QueueLimit) -> CommonSettings:
    # Topics of its own per queue limit: each dispatcher sees only its own deliveries.
    return single_partition_settings(broker)


@pytest.fixture(scope="module")
async def first_tier(
    kafka_settings: CommonSettings, topics: Topics
) -> AsyncIterator[TopicTail[Delivery]]:
    tail = TopicTail(kafka_settings, topics.retry(5), Delivery)
    await tail.start()
    yield tail
    await tail.stop()


@pytest.fixture(scope="module")
async def isolating(
    kafka_settings: CommonSettings, queue_limit: QueueLimit
) -> AsyncIterator[RunningDispatcher]:
    process, running = dispatcher_process(
        kafka_settings,
        env=queue_limit.settings,
        max_in_flight=8,
        max_in_flight_per_destination=PER_DESTINATION,
        max_pending=MAX_PENDING,
        retry_delays_seconds="[2]",
        breaker_failure_threshold=1000,
    )
    async with process:
        yield running


async def test_a_hanging_destination_does_not_hold_back_healthy_ones(
    isolating: RunningDispatcher,
    queue_limit: QueueLimit,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    first_tier: TopicTail[Delivery],
    make_receiver: MakeReceiver,
) -> None:
    hanging, first, second = await make_receiver(), await make_receiver(), await make_receiver()
    hanging.default = Reply(hang=True)  # answers only once released
    ws, secret = new_id("ws"), generate_secret("standard-webhooks").secret
    stuck = webhook(isolating.ring, ws, hanging.url, [secret], timeout_seconds=60)
    healthy = [webhook(isolating.ring, ws, r.url, [secret]) for r in (first, second)]
    config = await publish_workspace(producer, topics, ws, [stuck, *healthy])

    # Interleaved in the one partition, more hanging deliveries than max_pending: before
    # the fix, deliveries waiting for the hanging destination held every pending slot.
    to_stuck, to_healthy = [], []
    for i in range(300):
        if i % 2 == 0:
            to_stuck.append(delivery_for(config, stuck.id))
            await send_delivery(producer, topics, to_stuck[-1])
        to_healthy.append(delivery_for(config, healthy[i % 2].id))
        await send_delivery(producer, topics, to_healthy[-1])
    assert len(to_stuck) == 150 > MAX_PENDING

    healthy_ids = {d.id for d in to_healthy}
    records = await outcomes.wait_for(
        lambda rs: healthy_ids <= {o.delivery_id for o in rs}, "every healthy outcome", 60
    )
    assert all(o.status == OutcomeStatus.DELIVERED for o in records if o.delivery_id in healthy_ids)
    assert len(first.requests) == len(second.requests) == 150
    # The hanging destination got only its own in-flight slots, and nothing finished there.
    assert len(hanging.requests) == PER_DESTINATION == hanging.in_progress
    stuck_ids = {d.id for d in to_stuck}
    assert not any(o.delivery_id in stuck_ids for o in outcomes.records)
    # What did not fit its queue went to the first retry tier without an attempt; no
    # healthy delivery had to.
    metrics = await scrape(isolating.metrics_url)
    busy = sample(metrics, "signet_dispatcher_retries_total", reason="busy")
    print(f"hanging destination held {len(to_stuck) - busy:.0f} deliveries")
    assert busy >= len(to_stuck) - queue_limit.most_held
    deferred = await first_tier.wait_for(lambda rs: len(rs) >= busy, "the deferred deliveries")
    assert {r.destination_id for r in deferred} == {stuck.id}
    assert all(r.attempt == 1 for r in deferred)

    hanging.release()
    everything = await outcomes.wait_for(
        lambda rs: stuck_ids <= {o.delivery_id for o in rs}, "every hanging outcome", 90
    )
    late = [o for o in everything if o.delivery_id in stuck_ids]
    assert all(o.status == OutcomeStatus.DELIVERED for o in late)
    assert {o.attempt for o in late} == {1}  # deferring is not an attempt
    # ordering: every healthy delivery finished before the first hanging one
    order = [o.delivery_id for o in everything]
    assert max(order.index(i) for i in healthy_ids) < min(order.index(i) for i in stuck_ids)
