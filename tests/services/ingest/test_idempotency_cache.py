"""Unit tests of the idempotency cache's pure logic: TTL, size bound, waiting, failure."""

from __future__ import annotations

import asyncio

import pytest

from services.ingest.errors import IdempotencyConflictError
from services.ingest.idempotency import IdempotencyCache
from signet.errors import BrokerError


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingProducer:
    """Counts produce calls; optionally holds each one until released, or fails."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()
        self.fail_with: Exception | None = None

    async def __call__(self) -> None:
        self.calls += 1
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with


async def test_second_use_is_a_replay_until_the_ttl_passes() -> None:
    clock = ManualClock()
    cache = IdempotencyCache(ttl_seconds=60, max_entries=10, clock=clock)
    produce = CountingProducer()
    assert await cache.once("ws", "k", b"f", produce) is False
    clock.now += 59
    assert await cache.once("ws", "k", b"f", produce) is True
    assert produce.calls == 1
    clock.now += 2
    assert await cache.once("ws", "k", b"f", produce) is False
    assert produce.calls == 2


async def test_concurrent_duplicates_wait_for_the_first() -> None:
    cache = IdempotencyCache(ttl_seconds=60, max_entries=10)
    produce = CountingProducer()
    produce.release.clear()
    first = asyncio.create_task(cache.once("ws", "k", b"f", produce))
    waiters = [asyncio.create_task(cache.once("ws", "k", b"f", produce)) for _ in range(5)]
    await asyncio.sleep(0)  # let every task reach its wait
    assert not any(t.done() for t in [first, *waiters])
    produce.release.set()
    assert await first is False
    assert await asyncio.gather(*waiters) == [True] * 5
    assert produce.calls == 1


async def test_a_failed_first_fails_its_waiters_and_the_key_can_be_retried() -> None:
    cache = IdempotencyCache(ttl_seconds=60, max_entries=10)
    produce = CountingProducer()
    produce.release.clear()
    produce.fail_with = BrokerError("down")
    first = asyncio.create_task(cache.once("ws", "k", b"f", produce))
    waiter = asyncio.create_task(cache.once("ws", "k", b"f", produce))
    await asyncio.sleep(0)
    produce.release.set()
    with pytest.raises(BrokerError):
        await first
    with pytest.raises(BrokerError):
        await waiter
    assert len(cache) == 0
    produce.fail_with = None
    assert await cache.once("ws", "k", b"f", produce) is False
    assert produce.calls == 2


async def test_a_cancelled_waiter_does_not_cancel_the_first() -> None:
    cache = IdempotencyCache(ttl_seconds=60, max_entries=10)
    produce = CountingProducer()
    produce.release.clear()
    first = asyncio.create_task(cache.once("ws", "k", b"f", produce))
    waiter = asyncio.create_task(cache.once("ws", "k", b"f", produce))
    await asyncio.sleep(0)
    waiter.cancel()
    produce.release.set()
    assert await first is False
    assert waiter.cancelled()


async def test_different_fingerprint_is_a_conflict() -> None:
    cache = IdempotencyCache(ttl_seconds=60, max_entries=10)
    produce = CountingProducer()
    await cache.once("ws", "k", b"one", produce)
    with pytest.raises(IdempotencyConflictError):
        await cache.once("ws", "k", b"two", produce)
    assert await cache.once("other-ws", "k", b"two", produce) is False


async def test_size_is_bounded_oldest_first() -> None:
    cache = IdempotencyCache(ttl_seconds=60, max_entries=3)
    produce = CountingProducer()
    for key in "abcd":
        await cache.once("ws", key, b"f", produce)
    assert len(cache) == 3
    assert await cache.once("ws", "d", b"f", produce) is True
    assert await cache.once("ws", "a", b"f", produce) is False  # evicted, produced again
    assert produce.calls == 5
