"""RetryHold, and the tier design simulated: thousands of retries with different due times
through bounded holds, never released early and late by at most max(1 s, 10 %)."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

import pytest

from services.dispatcher.hold import RetryHold
from services.dispatcher.schedule import Step, release_at, step_at_release, tier_for
from signet.kafka.offsets import Partition
from signet.kafka.topics import RETRY_TIERS_SECONDS

P0 = Partition("retry.5s", 0)
P1 = Partition("retry.5s", 1)


def test_releases_in_time_order_across_partitions() -> None:
    hold: RetryHold[str] = RetryHold(4)
    hold.add(P0, 300, "c")
    hold.add(P1, 100, "a")
    hold.add(P0, 200, "b")
    assert hold.next_release() == 100
    assert hold.pop_due(99) == []
    assert hold.pop_due(200) == [(P1, "a"), (P0, "b")]
    assert len(hold) == 1 and hold.size(P0) == 1 and hold.size(P1) == 0
    assert hold.pop_due(10**9) == [(P0, "c")]
    assert hold.next_release() is None


def test_full_and_drained_bound_each_partition() -> None:
    hold: RetryHold[int] = RetryHold(4)
    for i in range(4):
        hold.add(P0, i, i)
    hold.add(P1, 0, 99)
    assert hold.full(P0) and not hold.full(P1)
    assert hold.largest() == 4 and hold.largest(exclude={P0}) == 1
    hold.pop_due(0)  # one of P0, and P1's
    assert not hold.drained(P0)  # 3 > 4 // 2
    hold.pop_due(1)
    assert hold.drained(P0)


def test_a_dropped_partition_releases_nothing() -> None:
    hold: RetryHold[str] = RetryHold(4)
    hold.add(P0, 10, "gone")
    hold.add(P1, 20, "kept")
    hold.drop([P0])
    assert hold.size(P0) == 0 and len(hold) == 1
    assert hold.next_release() == 20
    hold.add(P0, 5, "again")  # assigned again: a new generation
    assert hold.pop_due(100) == [(P0, "again"), (P1, "kept")]


def test_capacity_must_allow_draining() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        RetryHold(1)


# -- the tier design, simulated ------------------------------------------------------------


@dataclass(slots=True)
class Retry:
    id: int
    scheduled_at: int
    due_at: int
    sent_at: int | None = None


@dataclass(slots=True)
class Simulation:
    """One partition per tier, read in offset order into one bounded hold, as the
    dispatcher does (``release.py``); producing and reading take one step each."""

    capacity: int
    step_ms: int = 20

    def run(self, retries: list[Retry]) -> tuple[int, int]:
        """Send every retry; returns (pauses, the fullest any partition got)."""
        logs = {t: deque[tuple[int, Retry]]() for t in RETRY_TIERS_SECONDS}
        parts = {t: Partition(f"retry.{t}", 0) for t in RETRY_TIERS_SECONDS}
        hold: RetryHold[tuple[int, Retry]] = RetryHold(self.capacity)
        paused: set[int] = set()
        pending = deque(sorted(retries, key=lambda r: r.scheduled_at))
        pauses = fullest = 0
        now = 0
        while pending or any(logs.values()) or len(hold):
            while pending and pending[0].scheduled_at <= now:
                retry = pending.popleft()
                left = (retry.due_at - now) / 1000
                logs[tier_for(left)].append((now, retry))
            for tier, log in logs.items():  # read while the hold has room
                while log and tier not in paused:
                    appended, retry = log.popleft()
                    hold.add(parts[tier], release_at(retry.due_at, appended, tier), (tier, retry))
                    if hold.full(parts[tier]):
                        paused.add(tier)
                        pauses += 1
                fullest = max(fullest, hold.size(parts[tier]))
            for partition, (tier, retry) in hold.pop_due(now):
                step, hop_to = step_at_release(retry.due_at, now)
                if step is Step.SEND:
                    retry.sent_at = now
                elif step is Step.HOLD:
                    hold.add(partition, retry.due_at, (tier, retry))
                else:
                    logs[hop_to].append((now, retry))
            paused = {t for t in paused if not hold.drained(parts[t])}
            now += self.step_ms
        return pauses, fullest


def schedule_retries(count: int, over_ms: int, seed: int) -> list[Retry]:
    """Retries scheduled across ``over_ms`` with the delays of the default schedule's
    first attempts (±20 %) and Retry-After values, so due times interleave freely."""
    rng = random.Random(seed)
    retries = []
    for i in range(count):
        scheduled = rng.randrange(over_ms)
        if rng.random() < 0.8:
            delay = rng.choice((5, 30, 120, 600)) * rng.uniform(0.8, 1.2)
        else:
            delay = rng.uniform(5, 900)  # Retry-After
        retries.append(Retry(i, scheduled, scheduled + round(delay * 1000)))
    return retries


def test_thousands_of_retries_are_never_early_nor_late_while_holds_stay_bounded() -> None:
    retries = schedule_retries(4000, over_ms=400_000, seed=7)
    simulation = Simulation(capacity=60)
    pauses, fullest = simulation.run(retries)

    assert pauses > 0, "the workload should fill some hold"
    assert fullest <= simulation.capacity
    for retry in retries:
        assert retry.sent_at is not None
        delay = retry.due_at - retry.scheduled_at
        assert retry.sent_at >= retry.due_at, retry
        allowed = max(1000, delay // 10) + simulation.step_ms
        assert retry.sent_at - retry.due_at <= allowed, retry


def test_a_burst_past_the_capacity_is_late_by_less_than_two_smallest_tiers() -> None:
    """The bound's one condition: no more than ``capacity`` retries of one partition due
    within the smallest tier's window. Past it, a retry may wait for the hold to drain:
    what fills it is released within two smallest tiers (5 s in the tier, < 5 s held on
    to its due time). It still never goes early."""
    rng = random.Random(3)
    retries = [Retry(i, 0, rng.randrange(1_000, 9_000)) for i in range(2000)]
    simulation = Simulation(capacity=50)
    pauses, fullest = simulation.run(retries)

    assert pauses > 0 and fullest <= simulation.capacity
    smallest_ms = min(RETRY_TIERS_SECONDS) * 1000
    for retry in retries:
        assert retry.sent_at is not None and retry.sent_at >= retry.due_at
        assert retry.sent_at - retry.due_at < 2 * smallest_ms
