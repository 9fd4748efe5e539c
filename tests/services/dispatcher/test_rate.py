"""The per-destination rate limit (GCRA) and its held slots, with time passed in."""

from __future__ import annotations

import math

import pytest

from services.dispatcher.rate import RateLimiter

T0 = 1000.0


@pytest.fixture
def rate() -> RateLimiter:
    return RateLimiter(max_held=3, hold_grace_seconds=60, prune_every_seconds=0)


def test_back_to_back_reservations_are_spaced_one_interval_apart(rate: RateLimiter) -> None:
    slots = [rate.reserve("dst_1", 5, T0) for _ in range(4)]
    assert slots == pytest.approx([T0, T0 + 0.2, T0 + 0.4, T0 + 0.6])
    # Half a request a second: one every two seconds.
    assert [rate.reserve("dst_2", 0.5, T0) for _ in range(3)] == [T0, T0 + 2, T0 + 4]


def test_a_burst_of_one_and_no_catch_up_after_a_pause(rate: RateLimiter) -> None:
    assert rate.reserve("dst_1", 1, T0) == T0  # idle: at once
    assert rate.reserve("dst_1", 1, T0) == T0 + 1  # never two at once
    # Idle for a minute: the next goes at once, the one after it waits the interval again.
    assert rate.reserve("dst_1", 1, T0 + 60) == T0 + 60
    assert rate.reserve("dst_1", 1, T0 + 60) == T0 + 61


def test_a_request_arriving_after_its_slot_goes_at_once(rate: RateLimiter) -> None:
    rate.reserve("dst_1", 2, T0)
    assert rate.reserve("dst_1", 2, T0 + 0.3) == pytest.approx(T0 + 0.5)
    # After the next slot has passed: at arrival, and the one after spaced from it.
    assert rate.reserve("dst_1", 2, T0 + 0.9) == pytest.approx(T0 + 1.0)
    assert rate.reserve("dst_1", 2, T0 + 1.7) == T0 + 1.7
    assert rate.reserve("dst_1", 2, T0 + 1.7) == pytest.approx(T0 + 2.2)


def test_destinations_are_independent(rate: RateLimiter) -> None:
    for _ in range(5):
        rate.reserve("dst_busy", 1, T0)
    assert rate.reserve("dst_other", 1, T0) == T0
    assert rate.reserve("dst_busy", 1, T0) == T0 + 5


def test_a_changed_rate_spaces_the_next_request_at_the_new_rate(rate: RateLimiter) -> None:
    assert rate.reserve("dst_1", 1, T0) == T0
    assert rate.reserve("dst_1", 1, T0) == T0 + 1
    # Lowered to one every 10 s: the next is 10 s after the last one handed out.
    assert rate.reserve("dst_1", 0.1, T0) == T0 + 11
    # Raised to 4/s: a quarter second after that.
    assert rate.reserve("dst_1", 4, T0) == T0 + 11.25
    assert rate.reserve("dst_1", 4, T0) == T0 + 11.5


def test_idle_destinations_are_forgotten(rate: RateLimiter) -> None:
    for index in range(50):
        rate.reserve(f"dst_{index}", 10, T0)
    rate.reserve("dst_slow", 0.01, T0)
    rate.reserve("dst_slow", 0.01, T0)  # its next slot is 200 s ahead
    assert rate.destinations == 51
    rate.reserve("dst_new", 10, T0 + 1)  # the fast ones' slots have passed
    assert rate.destinations == 2
    assert rate.reserve("dst_slow", 0.01, T0 + 1) == T0 + 200


def test_pruning_is_periodic_and_never_changes_a_slot() -> None:
    rate = RateLimiter(prune_every_seconds=10)
    rate.reserve("dst_1", 1, T0)
    rate.reserve("dst_2", 1, T0 + 5)  # swept at T0 only: dst_1 is still remembered
    assert rate.destinations == 2
    assert rate.reserve("dst_1", 1, T0 + 5) == T0 + 5  # idle all the same
    rate.reserve("dst_3", 1, T0 + 10)
    assert rate.destinations == 1


def test_a_returning_delivery_claims_its_held_slot(rate: RateLimiter) -> None:
    slots = [rate.admit("dst_1", 1, f"dlv_{i}", T0) for i in range(3)]
    assert slots == [T0, T0 + 1, T0 + 2]
    # dlv_2 waits elsewhere for its slot; meanwhile others reserve after it.
    assert rate.hold("dlv_2", slots[2], T0)
    assert rate.reserved("dlv_2") == T0 + 2
    assert rate.admit("dst_1", 1, "dlv_3", T0 + 1) == T0 + 3
    # Back at its slot: admitted at it, no new reservation, and the claim is used up.
    assert rate.admit("dst_1", 1, "dlv_2", T0 + 2) == T0 + 2
    assert rate.reserved("dlv_2") is None
    assert rate.admit("dst_1", 1, "dlv_4", T0 + 2) == T0 + 4
    # Coming back again (say its attempt failed) it reserves anew, like anyone else.
    assert rate.admit("dst_1", 1, "dlv_2", T0 + 2) == T0 + 5


def test_a_delivery_back_too_early_keeps_its_slot(rate: RateLimiter) -> None:
    for index in range(10):
        slot = rate.admit("dst_1", 1, f"dlv_{index}", T0)
    assert slot == T0 + 9
    rate.hold("dlv_9", slot, T0)
    early = rate.admit("dst_1", 1, "dlv_9", T0 + 4)  # released early: still T0 + 9
    assert early == T0 + 9
    rate.hold("dlv_9", early, T0 + 4)  # waits again, for the same slot
    assert rate.admit("dst_1", 1, "dlv_9", T0 + 9) == T0 + 9


def test_a_delivery_back_late_goes_at_once_without_reserving_again(rate: RateLimiter) -> None:
    for index in range(10):
        rate.admit("dst_1", 1, f"dlv_{index}", T0)
    rate.hold("dlv_4", T0 + 4, T0)
    # Its slot passed while it waited behind a full queue. Slots up to T0 + 9 are given
    # out: it goes now, in place of the one it missed; a new reservation would put it
    # behind the backlog, every time it came back late.
    assert rate.admit("dst_1", 1, "dlv_4", T0 + 6) == T0 + 4
    assert rate.admit("dst_1", 1, "dlv_10", T0 + 6) == T0 + 10  # the others keep theirs


def test_a_delivery_back_late_to_an_idle_destination_reserves_now(rate: RateLimiter) -> None:
    for index in range(5):
        rate.admit("dst_1", 1, f"dlv_{index}", T0)
    rate.hold("dlv_4", T0 + 4, T0)
    # Nothing is reserved past T0 + 6 any more: it takes an ordinary slot, so the next
    # one is still an interval behind it.
    assert rate.admit("dst_1", 1, "dlv_4", T0 + 6) == T0 + 6
    assert rate.admit("dst_1", 1, "dlv_5", T0 + 6) == T0 + 7


def test_no_rate_means_no_wait_and_drops_a_held_slot(rate: RateLimiter) -> None:
    assert rate.admit("dst_1", None, "dlv_1", T0) == T0
    for bad in (0.0, -1.0, math.nan, math.inf):
        assert rate.admit("dst_1", bad, "dlv_1", T0) == T0
    assert rate.destinations == 0
    rate.hold("dlv_2", T0 + 30, T0)
    assert rate.admit("dst_1", None, "dlv_2", T0) == T0  # the limit was removed meanwhile
    assert rate.held == 0
    with pytest.raises(ValueError, match="positive"):
        rate.reserve("dst_1", 0, T0)


def test_held_slots_are_bounded(rate: RateLimiter) -> None:
    assert all(rate.hold(f"dlv_{i}", T0 + i, T0) for i in range(3))
    assert not rate.hold("dlv_extra", T0 + 5, T0)  # full: it reserves again on return
    assert rate.hold("dlv_0", T0 + 7, T0)  # moving a held slot needs no room
    assert rate.held == 3 and rate.reserved("dlv_extra") is None
    # A held slot whose delivery never came back (deleted destination, moved partition)
    # is forgotten after the grace period.
    rate.reserve("dst_1", 1, T0 + 62)
    assert rate.held == 1 and rate.reserved("dlv_0") == T0 + 7
    assert rate.hold("dlv_extra", T0 + 70, T0 + 62)
