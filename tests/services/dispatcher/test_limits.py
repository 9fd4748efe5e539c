"""DestinationLimiter: a per-destination cap that does not hold other destinations back."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from services.dispatcher.limits import STUCK_SECONDS, DestinationLimiter, QueueTimeout


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


# -- the queue bounded by expected wait (a fake clock: nothing sleeps) -------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Requests:
    """Requests to one destination, each holding its slot until finished (oldest first)."""

    def __init__(self, limiter: DestinationLimiter, destination: str) -> None:
        self._limiter = limiter
        self._destination = destination
        self._unfinished: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(self, count: int = 1) -> None:
        for _ in range(count):
            finish = asyncio.Event()
            task = asyncio.create_task(self._hold(finish))
            self._unfinished.append((finish, task))
        await asyncio.sleep(0)  # each takes its slot or queues for it

    async def finish(self, count: int) -> None:
        done, self._unfinished = self._unfinished[:count], self._unfinished[count:]
        for finish, _ in done:
            finish.set()
        await asyncio.gather(*(task for _, task in done))
        await asyncio.sleep(0)  # the queued ones take the freed slots

    async def _hold(self, finish: asyncio.Event) -> None:
        async with self._limiter.slot(self._destination):
            await finish.wait()


def wait_limited(
    clock: FakeClock, per_destination: int, *, queue: int = 2048, budget: float = 1.0
) -> DestinationLimiter:
    """A wait budget of 1 s, and a hard cap as high as the default one."""
    return DestinationLimiter(
        per_destination, queue_per_destination=queue, max_queue_wait_seconds=budget, clock=clock
    )


async def test_a_fast_destination_keeps_room_far_beyond_64_waiting() -> None:
    clock = FakeClock()
    limiter = wait_limited(clock, 16)
    fast = Requests(limiter, "fast")
    await fast.start(16)
    clock.now += 0.001
    await fast.finish(16)  # a millisecond each
    await fast.start(16)
    for _ in range(500):  # a burst: one delivery every 10 µs
        assert limiter.has_room("fast")
        await fast.start()
        clock.now += 0.00001
    assert limiter.running("fast") == 16 and limiter.waiting("fast") == 500
    assert limiter.has_room("fast")  # expected wait: 500 / 16 * 5 ms
    await fast.finish(516)


async def test_a_hanging_destination_gets_no_room_once_its_requests_age() -> None:
    clock = FakeClock()
    limiter = wait_limited(clock, 4)
    hanging = Requests(limiter, "hanging")
    await hanging.start(4)
    for _ in range(10):
        assert limiter.has_room("hanging")  # running for 0 s: nothing known against it
        await hanging.start()
    clock.now += STUCK_SECONDS / 2
    assert limiter.has_room("hanging")  # young requests: maybe only our own loop was busy
    clock.now += STUCK_SECONDS  # nothing completes, but the running requests age
    assert not limiter.has_room("hanging")  # 10 queued / 4 * 1.5 s
    assert limiter.has_room("healthy")

    stalled = Requests(limiter, "stalled")
    await stalled.start(4)
    clock.now += 1.0  # the budget: one queued per slot stays below it
    for _ in range(4):  # up to 3 queued ahead: 3 / 4 * 1 s < 1 s
        assert limiter.has_room("stalled")
        await stalled.start()
    assert not limiter.has_room("stalled")  # 4 queued ahead: 1 s
    clock.now += 1.0
    await stalled.finish(4)  # 2 s each; the 4 queued ones take the slots
    assert limiter.waiting("stalled") == 0 and limiter.has_room("stalled")
    await stalled.start(2)
    assert not limiter.has_room("stalled")  # 2 queued / 4 * 2 s
    await hanging.finish(14)
    await stalled.finish(6)


async def test_one_slow_request_among_completing_ones_is_not_a_stall() -> None:
    clock = FakeClock()
    limiter = wait_limited(clock, 4)
    stuck, flowing = Requests(limiter, "d"), Requests(limiter, "d")
    await stuck.start()
    await flowing.start(3)
    for _ in range(20):  # 2 s: the stuck one ages, the others keep completing
        clock.now += 0.1
        await flowing.finish(1)
        await flowing.start()
    await flowing.start(4)
    assert limiter.waiting("d") == 4
    assert limiter.has_room("d")  # 4 queued / 4 * ~0.3 s, not * the stuck one's 2 s
    await stuck.finish(1)
    await flowing.finish(7)


async def test_a_delivery_leaves_the_queue_after_waiting_the_whole_budget() -> None:
    limiter = DestinationLimiter(1, max_queue_wait_seconds=0.05)
    release = asyncio.Event()

    async def hold() -> None:
        async with limiter.slot("hanging"):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    with pytest.raises(QueueTimeout):
        async with limiter.slot("hanging"):
            pytest.fail("got a slot the hanging request still holds")
    assert limiter.waiting("hanging") == 0  # gone from the queue, nothing leaked
    release.set()
    await holder
    async with asyncio.timeout(1), limiter.slot("hanging"):  # the slot was not lost
        assert limiter.running("hanging") == 1


async def test_slow_completions_limit_the_queue() -> None:
    clock = FakeClock()
    limiter = wait_limited(clock, 2, budget=5.0)
    slow = Requests(limiter, "slow")
    await slow.start(2 + 2)
    clock.now += 1.25
    await slow.finish(2)  # 1.25 s each; the 2 queued ones run now
    assert limiter.service_time("slow") == 1.25
    for _ in range(8):  # up to 7 queued ahead: 7 / 2 * 1.25 s < 5 s
        assert limiter.has_room("slow")
        await slow.start()
    assert not limiter.has_room("slow")  # 8 queued ahead: 5 s
    await slow.finish(10)


async def test_a_destination_faster_than_slow_queues_by_count_only() -> None:
    clock = FakeClock()
    limiter = wait_limited(clock, 2, queue=100)
    busy = Requests(limiter, "busy")
    await busy.start(2)
    clock.now += 0.5
    await busy.finish(2)  # half a second each: the event loop under load, say
    await busy.start(2 + 99)
    assert limiter.has_room("busy")  # 99 / 2 * 0.5 s is long, but it is not slow
    await busy.start()
    assert not limiter.has_room("busy")  # the count cap
    await busy.finish(102)


async def test_the_hard_cap_applies_however_fast_the_destination() -> None:
    clock = FakeClock()
    limiter = wait_limited(clock, 2, queue=5)
    fast = Requests(limiter, "fast")
    await fast.start(2)
    clock.now += 0.001
    await fast.finish(2)
    await fast.start(2 + 5)
    assert limiter.waiting("fast") == 5 and not limiter.has_room("fast")
    await fast.finish(1)
    assert limiter.has_room("fast")
    await fast.finish(6)


async def test_the_service_time_outlives_the_idle_entry_and_follows_the_endpoint() -> None:
    clock = FakeClock()
    limiter = wait_limited(clock, 1)
    slow = Requests(limiter, "slow")
    await slow.start()
    clock.now += 3
    await slow.finish(1)
    assert limiter._entries == {}  # idle: the entry is gone, its service time is not
    assert limiter.service_time("slow") == 3

    # It comes back in a burst: known as slow before anything ages or completes.
    await slow.start()
    assert limiter.has_room("slow")  # nothing queued ahead
    await slow.start()
    assert not limiter.has_room("slow")  # 1 queued ahead: 3 s, though nothing has aged
    fresh = Requests(limiter, "fresh")
    await fresh.start(2)
    assert limiter.has_room("fresh")  # never seen: nothing held against it

    # Answering fast again, it gets its queue back within some seconds.
    await slow.finish(2)
    for _ in range(30):
        await slow.start()
        clock.now += 0.1
        await slow.finish(1)
    service_time = limiter.service_time("slow")
    assert service_time is not None and service_time < 0.2
    await fresh.finish(2)


async def test_idle_service_times_are_remembered_for_a_bounded_number_of_destinations() -> None:
    clock = FakeClock()
    limiter = DestinationLimiter(1, clock=clock, remembered=2)
    for destination in ("a", "b", "c"):
        async with limiter.slot(destination):
            clock.now += 1
    assert limiter.service_time("a") is None  # the least recently busy one is forgotten
    assert limiter.service_time("b") == limiter.service_time("c") == 1
