"""The retry schedule, its jitter, Retry-After clamping, give-up rules and the tier rule."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from signet_sdk.retry_after import MAX_RETRY_AFTER_SECONDS

from services.dispatcher.schedule import (
    GiveUp,
    Retry,
    RetrySchedule,
    Step,
    plan_retry,
    release_at,
    step_at_release,
    tier_for,
)
from signet.kafka.topics import RETRY_TIERS_SECONDS
from signet.records.model import RetryPolicy
from signet.settings import FIFO_MAX_RETRY_SPAN_SECONDS, DispatcherSettings

NOW = 1_700_000_000_000
DEFAULT = RetrySchedule.from_settings(DispatcherSettings())


def test_the_default_schedule() -> None:
    assert DEFAULT.delays_seconds == (5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200, 43200)
    assert DEFAULT.max_attempts == 11  # the first attempt and ten retries
    assert DEFAULT.max_age_seconds is None and DEFAULT.jitter == 0.2
    assert [DEFAULT.base_delay(n) for n in (1, 2, 9, 10, 11, 50)] == [
        5,
        30,
        43200,
        43200,
        43200,
        43200,
    ]


@pytest.mark.parametrize("attempt", range(1, 11))
def test_jitter_stays_within_twenty_percent_and_uses_the_range(attempt: int) -> None:
    rng = random.Random(attempt)
    base = DEFAULT.base_delay(attempt)
    delays = []
    for _ in range(2000):
        plan = plan_retry(DEFAULT, attempt=attempt, first_attempt_at=NOW, now_ms=NOW, rng=rng)
        assert isinstance(plan, Retry)
        assert plan.due_at == NOW + round(plan.delay_seconds * 1000)
        delays.append(plan.delay_seconds)
    assert base * 0.8 <= min(delays) < base * 0.85
    assert base * 1.15 < max(delays) <= base * 1.2


def test_retry_after_is_clamped_between_the_schedule_and_twelve_hours() -> None:
    flat = RetrySchedule((10.0,), max_attempts=5, jitter=0.0)
    rng = random.Random(1)

    def delay(retry_after: float | None) -> float:
        plan = plan_retry(
            flat,
            attempt=1,
            first_attempt_at=NOW,
            now_ms=NOW,
            rng=rng,
            retry_after_seconds=retry_after,
        )
        assert isinstance(plan, Retry)
        return plan.delay_seconds

    assert delay(None) == 10
    assert delay(2) == 10  # never sooner than the schedule
    assert delay(90) == 90
    assert delay(10**9) == MAX_RETRY_AFTER_SECONDS
    # a schedule longer than 12 h keeps its own delay
    long = RetrySchedule((20 * 3600.0,), max_attempts=5, jitter=0.0)
    plan = plan_retry(
        long, attempt=1, first_attempt_at=NOW, now_ms=NOW, rng=rng, retry_after_seconds=60
    )
    assert isinstance(plan, Retry) and plan.delay_seconds == 20 * 3600


def test_gives_up_after_the_last_attempt() -> None:
    schedule = RetrySchedule((1.0,), max_attempts=3, jitter=0.0)
    rng = random.Random(0)
    for attempt in (1, 2):
        plan = plan_retry(schedule, attempt=attempt, first_attempt_at=NOW, now_ms=NOW, rng=rng)
        assert isinstance(plan, Retry)
    plan = plan_retry(schedule, attempt=3, first_attempt_at=NOW, now_ms=NOW, rng=rng)
    assert plan == GiveUp("gave up after attempt 3 of 3")


def test_gives_up_when_the_next_attempt_would_pass_the_max_age() -> None:
    schedule = RetrySchedule((60.0,), max_attempts=100, max_age_seconds=150, jitter=0.0)
    rng = random.Random(0)
    at_90s = plan_retry(schedule, attempt=2, first_attempt_at=NOW, now_ms=NOW + 60_000, rng=rng)
    assert isinstance(at_90s, Retry) and at_90s.due_at == NOW + 120_000  # 120 s ≤ 150 s
    late = plan_retry(schedule, attempt=3, first_attempt_at=NOW, now_ms=NOW + 120_000, rng=rng)
    assert isinstance(late, GiveUp) and "max age of 150s" in late.reason


def test_a_destination_policy_overrides_each_part_it_sets() -> None:
    assert DEFAULT.for_destination(None) is DEFAULT
    assert DEFAULT.for_destination(RetryPolicy()) == DEFAULT
    custom = DEFAULT.for_destination(RetryPolicy(delays_seconds=[1, 2]))
    assert custom.delays_seconds == (1, 2) and custom.max_attempts == 11
    assert custom.base_delay(5) == 2  # the last delay repeats
    capped = DEFAULT.for_destination(RetryPolicy(max_attempts=3, max_age_seconds=600))
    assert capped.delays_seconds == DEFAULT.delays_seconds
    assert (capped.max_attempts, capped.max_age_seconds) == (3, 600)


def test_settings_define_the_platform_schedule() -> None:
    settings = DispatcherSettings(
        retry_delays_seconds=(1, 2.5), retry_jitter=0.1, retry_max_age_seconds=30
    )
    schedule = RetrySchedule.from_settings(settings)
    assert schedule == RetrySchedule((1.0, 2.5), max_attempts=3, max_age_seconds=30, jitter=0.1)
    assert RetrySchedule.from_settings(DispatcherSettings(retry_max_attempts=4)).max_attempts == 4


@pytest.mark.parametrize(
    ("delay", "tier"),
    [
        (0.5, 5),
        (4, 5),
        (5, 5),
        (29.9, 5),
        (30, 30),
        (119, 30),
        (120, 120),
        (599, 120),
        (3600, 3600),
        (11 * 3600, 21600),
        (12 * 3600, 43200),
        (14 * 3600, 43200),
    ],
)
def test_a_retry_waits_on_the_largest_tier_not_longer_than_its_delay(
    delay: float, tier: int
) -> None:
    assert tier_for(delay) == tier


def test_a_tier_releases_at_the_due_time_or_after_its_delay() -> None:
    assert release_at(due_at=NOW + 3_000, appended_at=NOW, tier_seconds=5) == NOW + 3_000
    assert release_at(due_at=NOW + 25_000, appended_at=NOW, tier_seconds=5) == NOW + 5_000


@pytest.mark.parametrize(
    ("left_ms", "step", "tier"),
    [
        (-10, Step.SEND, 0),
        (0, Step.SEND, 0),
        (1, Step.HOLD, 0),
        (4_999, Step.HOLD, 0),
        (5_000, Step.HOP, 5),
        (20_000, Step.HOP, 5),
        (45_000, Step.HOP, 30),
        (7 * 3600_000, Step.HOP, 21600),
    ],
)
def test_what_a_released_record_does(left_ms: int, step: Step, tier: int) -> None:
    assert step_at_release(NOW + left_ms, NOW) == (step, tier)


@given(st.floats(min_value=5, max_value=40 * 3600))
def test_a_tier_never_exceeds_the_delay_so_release_order_is_offset_order(delay: float) -> None:
    """Appended ``tier`` or more before its due time, a record is released at exactly
    appended + tier: later offsets (appended later) are never released earlier."""
    tier = tier_for(delay)
    assert tier <= delay
    due = NOW + round(delay * 1000)
    assert release_at(due, NOW, tier) == NOW + tier * 1000


def test_tiers_match_the_topics() -> None:
    assert tier_for(1e9) == max(RETRY_TIERS_SECONDS) == 43200


def test_a_fifo_heads_retries_end_within_half_the_hold_topics_retention() -> None:
    # A platform schedule that would retry a week: a FIFO head gives up at 84 h all the same.
    weekly = RetrySchedule(delays_seconds=(43200,), max_attempts=15)
    ordered = weekly.ordered()
    assert ordered.max_age_seconds == FIFO_MAX_RETRY_SPAN_SECONDS == 84 * 3600
    assert RetrySchedule((5,), 3, max_age_seconds=60).ordered().max_age_seconds == 60
    first, now, attempt = NOW, NOW, 1
    while isinstance(
        plan := plan_retry(
            ordered, attempt=attempt, first_attempt_at=first, now_ms=now, rng=random.Random(1)
        ),
        Retry,
    ):
        now, attempt = plan.due_at, attempt + 1
    assert (now - first) / 1000 <= FIFO_MAX_RETRY_SPAN_SECONDS
    assert attempt < weekly.max_attempts
