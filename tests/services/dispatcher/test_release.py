"""RetryReleaser: a held retry whose release fails is dead-lettered, never left open (an
open ticket would stall its partition's commits with no alarm)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from signet_sdk.ids import new_id, now_ms

from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.release import RetryReleaser
from signet.kafka.offsets import OffsetTracker, Partition, Ticket
from signet.records import codec
from signet.records.model import Delivery

TIER = "t.retry.5s"


class HeldMessage:
    """What the releaser reads of a tier record."""

    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (1, now_ms())  # TIMESTAMP_CREATE_TIME, appended now


def due_now() -> Delivery:
    now = now_ms()
    return Delivery(
        id=new_id("dlv"),
        event_id=new_id("evt"),
        workspace_id="ws_1",
        destination_id="dst_1",
        event_type="order.completed",
        body=b"{}",
        attempt=2,
        event_created_at=now,
        due_at=now,
    )


class Processor:
    async def handle(self, delivery: Delivery) -> object:
        return None

    async def forward(self, delivery: Delivery) -> None:
        return None


async def test_a_release_that_fails_is_handed_on_to_fail_and_complete() -> None:
    partition = Partition(TIER, 0)
    tracker = OffsetTracker()
    tracker.assign([partition])
    ticket = tracker.track(partition, 7)
    assert ticket is not None
    spawned: list[tuple[Any, Ticket, Callable[[], Awaitable[object]]]] = []
    arrived = asyncio.Event()

    def spawn(msg: Any, held: Ticket, work: Callable[[], Awaitable[object]]) -> None:
        spawned.append((msg, held, work))
        arrived.set()

    def owns(_: Ticket) -> bool:
        raise RuntimeError("the tracker is gone")  # any failure inside the release

    releaser = RetryReleaser(
        {TIER: 5}, 10, owns=owns, spawn=spawn, processor=Processor(), metrics=DispatcherMetrics()
    )
    releaser.start()
    try:
        message = HeldMessage(codec.encode(due_now()))
        releaser.hold(partition, message, ticket)  # type: ignore[arg-type]
        await asyncio.wait_for(arrived.wait(), 5)
    finally:
        await releaser.stop()

    ((msg, held, work),) = spawned
    assert msg is message and held is ticket
    # The consumer runs the work: it fails with the release's error, so the record is
    # dead-lettered with that reason and its ticket completes.
    with pytest.raises(RuntimeError, match="the tracker is gone"):
        await work()
    assert releaser.held == 0
