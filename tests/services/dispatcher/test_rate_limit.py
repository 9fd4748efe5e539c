"""A destination's rate limit, with a real dispatcher process and real receivers: requests
are spaced ``1 / rate`` apart, nothing is dropped or counted as a failed attempt, and a
destination without a limit next to it is not slowed down."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from signet_sdk.ids import new_id
from signet_sdk.signing import generate_secret

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import Outcome
from signet.settings import CommonSettings
from tests.receiver import Receiver
from tests.services.dispatcher.conftest import RunningDispatcher, dispatcher_process
from tests.services.dispatcher.scrape import sample, scrape
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]
RATE = 5.0  # per second: a request every 200 ms
DELIVERIES = 15


@pytest.fixture(scope="module")
async def pacing(kafka_settings: CommonSettings) -> AsyncIterator[RunningDispatcher]:
    process, running = dispatcher_process(kafka_settings)
    async with process:
        yield running


async def test_requests_are_spaced_by_the_rate_and_none_is_lost(
    pacing: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    limited, free = await make_receiver(), await make_receiver()
    ws, key = new_id("ws"), generate_secret("standard-webhooks").secret
    slow = dataclasses.replace(
        webhook(pacing.ring, ws, limited.url, [key]), rate_limit_per_second=RATE
    )
    fast = webhook(pacing.ring, ws, free.url, [key])
    config = await publish_workspace(producer, topics, ws, [slow, fast])
    deliveries = [delivery_for(config, d.id) for d in (slow, fast) for _ in range(DELIVERIES)]
    for delivery in deliveries:
        await send_delivery(producer, topics, delivery)

    unlimited = await free.wait_for(DELIVERIES, timeout=30)
    paced = await limited.wait_for(DELIVERIES, timeout=60)

    # All of them, once each, and no attempt counted against the endpoint.
    assert len(paced) == DELIVERIES
    assert len({r.headers["webhook-id"] for r in paced}) == DELIVERIES
    ids = {d.id for d in deliveries}
    records = await outcomes.wait_for(
        lambda rs: len({o.delivery_id for o in rs if o.delivery_id in ids}) >= len(ids),
        "an outcome per delivery",
    )
    mine = [o for o in records if o.delivery_id in ids]
    assert {(o.status, o.attempt) for o in mine} == {("delivered", 1)}

    # Spaced: the first goes at once, each next one 1/rate later. (A gap may come out
    # shorter only by the lateness of the one before it: the first request also opens
    # the connection, so the span is measured from the second, which keeps its slot.)
    times = sorted(r.at for r in paced)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[-1] - times[1] >= (DELIVERIES - 2) / RATE - 0.05, gaps
    assert min(gaps) >= 1 / RATE * 0.5, gaps
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) <= RATE + 1
    # Most waited on the retry tiers for their slot (more than the 1 s waited in memory).
    text = await scrape(pacing.metrics_url)
    assert sample(text, "signet_dispatcher_retries_total", reason="rate_limited") > 0
    assert sample(text, "signet_dispatcher_retries_total", reason="failed") == 0

    # The destination without a limit was not held back behind the limited one.
    free_times = sorted(r.at for r in unlimited)
    assert free_times[-1] - free_times[0] < (DELIVERIES - 1) / RATE / 2
