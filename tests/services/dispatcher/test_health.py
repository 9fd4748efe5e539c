"""Endpoint health: the failure streak, seeded from retries so a restart keeps it."""

from __future__ import annotations

from services.dispatcher.health import EndpointHealth

DAY = 24 * 3600 * 1000
T0 = 1_700_000_000_000


def test_a_streak_starts_at_the_first_failure_and_ends_with_a_success() -> None:
    health = EndpointHealth(window_seconds=5 * 24 * 3600)
    assert health.failed("d", at=T0) == T0
    assert health.failed("d", at=T0 + DAY) == T0
    assert not health.should_disable("d", T0 + 5 * DAY - 1)
    assert health.should_disable("d", T0 + 5 * DAY)
    health.succeeded("d", at=T0 + 5 * DAY)
    assert health.failing_since("d") is None and health.failing == 0
    assert not health.should_disable("d", T0 + 10 * DAY)


def test_a_restarted_process_takes_the_streak_up_from_the_retries_it_reads() -> None:
    """Nothing in memory after a restart: a retry scheduled four days into the streak
    carries its start, and the streak goes on from there, not from zero."""
    health = EndpointHealth(window_seconds=5 * 24 * 3600)
    now = T0 + 4 * DAY
    since = health.failed("d", at=now, seeds=(T0, now - 3600_000))
    assert since == T0
    assert health.should_disable("d", T0 + 5 * DAY)


def test_seeds_from_before_a_success_are_ignored() -> None:
    health = EndpointHealth(window_seconds=3600)
    health.failed("d", at=T0)
    health.succeeded("d", at=T0 + 1000)
    # a retry written before the success, failing again now
    assert health.failed("d", at=T0 + 5000, seeds=(T0, T0 + 10)) == T0 + 5000


def test_only_failing_destinations_are_remembered() -> None:
    health = EndpointHealth(window_seconds=3600)
    for i in range(100):
        health.succeeded(f"d{i}", at=T0)
    assert health._last_success == {}
    health.failed("x", at=T0)
    health.succeeded("x", at=T0 + 1)
    assert health._last_success == {"x": T0 + 1} and health.failing == 0


def test_a_success_says_which_failure_streak_it_ended() -> None:
    health = EndpointHealth(window_seconds=60)
    assert health.succeeded("d", at=T0) is None  # nothing was failing
    health.failed("d", at=T0 + 10)
    health.failed("d", at=T0 + 20)
    assert health.succeeded("d", at=T0 + 30) == T0 + 10
    assert health.succeeded("d", at=T0 + 40) is None  # already ended


def test_a_retry_that_succeeds_after_a_restart_ends_the_streak_it_carries() -> None:
    health = EndpointHealth(window_seconds=60)  # a fresh process: no streak in memory
    assert health.succeeded("d", at=T0 + 50, seeds=(T0 + 5,)) == T0 + 5
    # Another retry of the same streak: a later success already ended it.
    assert health.succeeded("d", at=T0 + 60, seeds=(T0 + 5,)) is None
