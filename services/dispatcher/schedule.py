"""When a failed delivery is tried again, and which delay tier carries it (pure).

The schedule: the delay after attempt ``n`` is ``delays[n-1]`` (the last delay repeats),
times a random factor in ``[1 - jitter, 1 + jitter]``. A 429/503 ``Retry-After`` raises
the delay, never lowers it: it is clamped to ``[that delay, 12 h]``. Each part of a
destination's ``retry_policy`` (max attempts, max age, delays) overrides the platform's.

The delivery gives up (``exhausted``) after its ``max_attempts``-th attempt, or when the
next attempt would fall past ``first_attempt_at + max_age``.

Tiers: a retry waiting ``d`` seconds goes to the delay topic of the largest tier ``<= d``
(the smallest tier when ``d`` is shorter). A tier partition then releases each record at
``min(due_at, appended_at + tier)``; every record of a tier was appended at least ``tier``
before its due time, so release times grow with the offset and a bounded in-memory hold
per partition is enough (``hold.py``). At release the record is either due (sent), due
within the smallest tier (held in memory until then), or hops to the tier that fits the
time left. docs/delivery.md has the whole picture.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import StrEnum

from signet_sdk.retry_after import MAX_RETRY_AFTER_SECONDS

from signet.kafka.topics import RETRY_TIERS_SECONDS
from signet.records.model import RetryPolicy
from signet.settings import FIFO_MAX_RETRY_SPAN_SECONDS, DispatcherSettings


@dataclass(slots=True, frozen=True)
class RetrySchedule:
    delays_seconds: tuple[float, ...]
    max_attempts: int
    max_age_seconds: float | None = None
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not self.delays_seconds or min(self.delays_seconds) <= 0:
            raise ValueError("a retry schedule needs at least one positive delay")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    @classmethod
    def from_settings(cls, settings: DispatcherSettings) -> RetrySchedule:
        delays = tuple(float(d) for d in settings.retry_delays_seconds)
        return cls(
            delays_seconds=delays,
            max_attempts=settings.retry_max_attempts or len(delays) + 1,
            max_age_seconds=settings.retry_max_age_seconds,
            jitter=settings.retry_jitter,
        )

    def for_destination(self, policy: RetryPolicy | None) -> RetrySchedule:
        """The destination's own policy where it sets a part, the platform's elsewhere."""
        if policy is None:
            return self
        schedule = self
        if policy.delays_seconds:
            schedule = replace(
                schedule, delays_seconds=tuple(float(d) for d in policy.delays_seconds)
            )
        if policy.max_attempts is not None:
            schedule = replace(schedule, max_attempts=policy.max_attempts)
        if policy.max_age_seconds is not None:
            schedule = replace(schedule, max_age_seconds=float(policy.max_age_seconds))
        return schedule

    def ordered(self) -> RetrySchedule:
        """A FIFO head's: its retries end within ``FIFO_MAX_RETRY_SPAN_SECONDS`` of its
        first attempt whatever the platform's schedule (the portal refuses a destination
        policy that could take longer; this holds when the platform's own is the longer)."""
        cap = float(FIFO_MAX_RETRY_SPAN_SECONDS)
        age = self.max_age_seconds
        return replace(self, max_age_seconds=cap if age is None else min(age, cap))

    def base_delay(self, attempt: int) -> float:
        """The delay after attempt ``attempt`` (1-based) before jitter."""
        return self.delays_seconds[min(max(attempt, 1), len(self.delays_seconds)) - 1]

    def jittered(self, seconds: float, rng: random.Random) -> float:
        return seconds * rng.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass(slots=True, frozen=True)
class Retry:
    due_at: int  # epoch ms
    delay_seconds: float


@dataclass(slots=True, frozen=True)
class GiveUp:
    reason: str


def plan_retry(
    schedule: RetrySchedule,
    *,
    attempt: int,
    first_attempt_at: int,
    now_ms: int,
    rng: random.Random,
    retry_after_seconds: float | None = None,
) -> Retry | GiveUp:
    """The next attempt after failed attempt ``attempt``, or why there is none."""
    if attempt >= schedule.max_attempts:
        return GiveUp(f"gave up after attempt {attempt} of {schedule.max_attempts}")
    delay = schedule.jittered(schedule.base_delay(attempt), rng)
    if retry_after_seconds is not None:
        delay = min(max(delay, retry_after_seconds), max(delay, float(MAX_RETRY_AFTER_SECONDS)))
    due_at = now_ms + round(delay * 1000)
    max_age = schedule.max_age_seconds
    if max_age is not None and due_at - first_attempt_at > max_age * 1000:
        return GiveUp(f"gave up: the next attempt would come after the max age of {max_age:g}s")
    return Retry(due_at, delay)


def tier_for(delay_seconds: float, tiers: tuple[int, ...] = RETRY_TIERS_SECONDS) -> int:
    """The largest tier not longer than the delay; the smallest for shorter delays."""
    fitting = [t for t in tiers if t <= delay_seconds]
    return max(fitting) if fitting else min(tiers)


def release_at(due_at: int, appended_at: int, tier_seconds: int) -> int:
    """When a tier partition lets a record go: at its due time or after the tier's delay."""
    return min(due_at, appended_at + tier_seconds * 1000)


class Step(StrEnum):
    SEND = "send"  # due: attempt it now
    HOLD = "hold"  # due within the smallest tier: keep it in memory until then
    HOP = "hop"  # further away: produce it to the tier that fits the time left


def step_at_release(
    due_at: int, now_ms: int, tiers: tuple[int, ...] = RETRY_TIERS_SECONDS
) -> tuple[Step, int]:
    """What to do with a record a tier released, and the tier to hop to (0 otherwise)."""
    left = due_at - now_ms
    if left <= 0:
        return Step.SEND, 0
    if left < min(tiers) * 1000:
        return Step.HOLD, 0
    return Step.HOP, tier_for(left / 1000, tiers)
