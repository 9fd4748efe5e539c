"""DestinationLimiter: a per-destination cap that does not hold other destinations back."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from services.dispatcher.limits import DestinationLimiter


async def test_each_destination_is_capped_separately() -> None:
    limiter = DestinationLimiter(2)
    release = asyncio.Event()
    running: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    three_running = asyncio.Event()

    async def request(destination: str) -> None:
        async with limiter.slot(destination):
            running[destination] += 1
            peak[destination] = max(peak[destination], running[destination])
            if sum(running.values()) == 3:
                three_running.set()
            await release.wait()
            running[destination] -= 1

    tasks = [asyncio.create_task(request("slow")) for _ in range(5)]
    tasks.append(asyncio.create_task(request("fast")))
    await asyncio.wait_for(three_running.wait(), 5)
    assert limiter.running("slow") == 2 and limiter.running("fast") == 1
    assert limiter.waiting("slow") == 3 and limiter.waiting("fast") == 0

    release.set()
    await asyncio.gather(*tasks)
    assert peak == {"slow": 2, "fast": 1}
    assert limiter.running("slow") == limiter.waiting("slow") == 0
    assert limiter._entries == {}  # idle destinations leave nothing behind


async def test_a_failing_request_releases_its_slot() -> None:
    limiter = DestinationLimiter(1)
    with pytest.raises(RuntimeError):
        async with limiter.slot("d"):
            raise RuntimeError("boom")
    async with asyncio.timeout(1), limiter.slot("d"):
        assert limiter.running("d") == 1


def test_the_cap_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DestinationLimiter(0)


async def test_a_full_queue_refuses_more_and_waiting_holds_no_global_slot() -> None:
    """The isolation fix: deliveries queued behind a hanging destination do not hold a
    global slot, so a healthy destination still runs while the total cap is small."""
    limiter = DestinationLimiter(2, queue_per_destination=3, total=3)
    hang = asyncio.Event()
    started = asyncio.Event()

    async def request(destination: str) -> None:
        async with limiter.slot(destination):
            started.set()
            await hang.wait()

    stuck = [asyncio.create_task(request("hanging")) for _ in range(5)]
    await asyncio.sleep(0)
    assert limiter.running("hanging") == 2 and limiter.waiting("hanging") == 3
    assert not limiter.has_room("hanging")  # 2 running + 3 queued: the next one overflows
    assert limiter.has_room("healthy")

    async with asyncio.timeout(1), limiter.slot("healthy"):
        # 2 of the 3 global slots are the hanging destination's; the third is ours
        assert limiter.running("healthy") == 1 and limiter.running_total == 3
    hang.set()
    await asyncio.gather(*stuck)
    assert limiter.running_total == 0 and limiter.has_room("hanging")


def test_without_a_queue_limit_there_is_always_room() -> None:
    assert DestinationLimiter(1).has_room("anything")
