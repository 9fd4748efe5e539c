"""Two dispatchers in one consumer group split the work so that each owns partition p of
``deliveries`` and of every retry tier together: a destination's retries come back to
the member that holds its circuit breaker and in-flight cap (consumer.py, range
assignment over equal partition counts)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from signet_sdk.ids import new_id
from signet_sdk.signing import generate_secret

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import RETRY_TIERS_SECONDS, Topics
from signet.records.model import Outcome
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.processes import ServiceProcess
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import dispatcher_process
from tests.services.dispatcher.scrape import sample, scrape
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    outcomes_of,
    publish_workspace,
    send_delivery,
    webhook,
)
from tests.services.ingest.topic_reader import kafka_partition

MakeReceiver = Callable[[], Awaitable[Receiver]]
ATTEMPTS = "signet_dispatcher_attempts_total"
# "assigned t1a2b3c4.deliveries[0], t1a2b3c4.retry.5s[0], …" (LowWaterConsumer's log line)
ASSIGNED = re.compile(r"\bassigned (.+)$", re.MULTILINE)
PARTITION = re.compile(r"([\w.-]+)\[(\d+)\]")


def owned(process: ServiceProcess) -> dict[str, set[int]]:
    """The partitions of the member's latest assignment, by topic."""
    found = ASSIGNED.findall(process.log_path.read_text(errors="replace"))
    owned: dict[str, set[int]] = {}
    for topic, partition in PARTITION.findall(found[-1] if found else ""):
        owned.setdefault(topic, set()).add(int(partition))
    return owned


async def split_between(
    members: list[ServiceProcess], topics: Topics, partitions: int, timeout: float = 60
) -> list[set[int]]:
    """Wait until the members share the deliveries partitions; each one's set."""
    seen: list[list[set[int]]] = [[]]

    def split() -> list[set[int]] | None:
        shares = seen[0] = [owned(member).get(topics.deliveries, set()) for member in members]
        covered = sorted(p for share in shares for p in share) == list(range(partitions))
        return shares if all(shares) and covered else None

    return await eventually(
        split, lambda: f"a split of the partitions: {seen[0]}", timeout, interval=0.2
    )


async def test_each_member_owns_a_partition_of_deliveries_and_of_every_tier_together(
    kafka_settings: CommonSettings,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    short = {"retry_delays_seconds": "[1]"}
    first, running = dispatcher_process(kafka_settings, env=short)
    second, other = dispatcher_process(
        kafka_settings, master_keys=running.master_keys, group=running.consumer_group, env=short
    )
    async with first, second:
        shares = await split_between([first, second], topics, kafka_settings.partitions)
        for member, share in zip((first, second), shares, strict=True):
            mine = owned(member)
            for seconds in RETRY_TIERS_SECONDS:
                assert mine[topics.retry(seconds)] == share, (topics.retry(seconds), mine)

        # A destination on a partition the second member owns: its first attempt fails, the
        # retry goes through the 5 s tier and comes back to the same member.
        receiver = await make_receiver()
        receiver.script(Reply(status=503))
        ws, secret = new_id("ws"), generate_secret("standard-webhooks").secret
        destination = webhook(running.ring, ws, receiver.url, [secret])
        while kafka_partition(destination.id, kafka_settings.partitions) not in shares[1]:
            destination = webhook(running.ring, ws, receiver.url, [secret])
        config = await publish_workspace(producer, topics, ws, [destination])
        delivery = delivery_for(config, destination.id)
        await send_delivery(producer, topics, delivery)

        attempts = await outcomes_of(outcomes, delivery, 2, timeout=45)
        assert [(o.attempt, o.status) for o in attempts] == [(1, "failed"), (2, "delivered")]
        assert len(receiver.requests) == 2
        # Both attempts were the second member's; the first made none.
        assert sample(await scrape(other.metrics_url), ATTEMPTS) == 2
        assert sample(await scrape(running.metrics_url), ATTEMPTS) == 0
        # The split seen above held throughout: no later rebalance moved a partition.
        later = [owned(member).get(topics.deliveries, set()) for member in (first, second)]
        assert later == shares, (later, shares)
