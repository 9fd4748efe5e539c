"""Endpoint health with a real dispatcher: a destination failing for the whole window is
disabled, and the failure streak is carried across a dispatcher crash by the retries."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import pytest
from signet_sdk.ids import new_id, now_ms
from signet_sdk.signing import generate_secret

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import Outcome, OutcomeStatus, WorkspaceCommand
from signet.settings import CommonSettings
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.conftest import Setting, dispatcher_process
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]
FAILING: dict[str, Setting] = {
    "retry_delays_seconds": "[1]",
    "retry_max_attempts": 100,
    "breaker_failure_threshold": 1000,  # every retry reaches the receiver
}


@pytest.fixture(scope="module")
async def commands(
    kafka_settings: CommonSettings, topics: Topics
) -> AsyncIterator[TopicTail[WorkspaceCommand]]:
    tail = TopicTail(kafka_settings, topics.workspace_commands, WorkspaceCommand)
    await tail.start()
    yield tail
    await tail.stop()


def streak_start(disabled: Outcome) -> int:
    """The "failing continuously since" time the dispatcher gave, in epoch ms."""
    assert disabled.error is not None
    found = re.search(r"failing continuously since (\S+Z)", disabled.error)
    assert found is not None, disabled.error
    return int(datetime.fromisoformat(found.group(1)).timestamp() * 1000)


async def disabled_outcome(outcomes: TopicTail[Outcome], destination_id: str) -> Outcome:
    records = await outcomes.wait_for(
        lambda rs: any(
            o.destination_id == destination_id and o.status == OutcomeStatus.DESTINATION_DISABLED
            for o in rs
        ),
        "the destination_disabled outcome",
        timeout=60,
    )
    (found,) = [
        o
        for o in records
        if o.destination_id == destination_id and o.status == OutcomeStatus.DESTINATION_DISABLED
    ]
    return found


def first_attempt(outcomes: TopicTail[Outcome], destination_id: str) -> Outcome:
    return min(
        (o for o in outcomes.records if o.destination_id == destination_id and o.attempt == 1),
        key=lambda o: o.attempted_at,
    )


async def test_failing_for_the_whole_window_disables_the_destination(
    kafka_settings: CommonSettings,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    commands: TopicTail[WorkspaceCommand],
    make_receiver: MakeReceiver,
) -> None:
    process, running = dispatcher_process(
        kafka_settings, env=FAILING, disable_after_failing_seconds=4
    )
    receiver = await make_receiver()
    receiver.default = Reply(status=500)
    ws = new_id("ws")
    destination = webhook(
        running.ring, ws, receiver.url, [generate_secret("standard-webhooks").secret]
    )
    config = await publish_workspace(producer, topics, ws, [destination])
    async with process:
        await send_delivery(producer, topics, delivery_for(config, destination.id))
        disabled = await disabled_outcome(outcomes, destination.id)

    first = first_attempt(outcomes, destination.id)
    assert streak_start(disabled) == first.attempted_at
    assert disabled.attempted_at - first.attempted_at >= 4000
    assert disabled.error is not None and "longer than 4s" in disabled.error
    assert "HTTP 500" in disabled.error and disabled.http_status is None
    found = await commands.wait_for(
        lambda cs: any(c.target_id == destination.id for c in cs), "the disable command"
    )
    (command,) = [c for c in found if c.target_id == destination.id]
    assert command.kind == "disable_destination" and command.reason == disabled.error


async def test_the_failure_streak_survives_a_dispatcher_crash(
    kafka_settings: CommonSettings,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    """The first process fails twice and is killed; the second one has never seen the
    destination, yet disables it for a streak that began before it started."""
    settings: dict[str, Setting] = {"disable_after_failing_seconds": 8, **FAILING}
    process, running = dispatcher_process(kafka_settings, env=settings)
    receiver = await make_receiver()
    receiver.default = Reply(status=503)
    ws = new_id("ws")
    destination = webhook(
        running.ring, ws, receiver.url, [generate_secret("standard-webhooks").secret]
    )
    config = await publish_workspace(producer, topics, ws, [destination])
    try:
        await process.start()
        await send_delivery(producer, topics, delivery_for(config, destination.id))
        await receiver.wait_for(2)
    finally:
        process.kill()
        await process.stop()
    restarted_at = now_ms()
    first = first_attempt(outcomes, destination.id)

    again, _ = dispatcher_process(
        kafka_settings,
        master_keys=running.master_keys,
        group=running.consumer_group,
        env=settings,
    )
    async with again:
        disabled = await disabled_outcome(outcomes, destination.id)

    assert disabled.attempted_at > restarted_at  # decided by the second process
    assert streak_start(disabled) == first.attempted_at < restarted_at
