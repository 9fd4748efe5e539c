"""Storm folding, pure: an injected clock, no broker, no Slack."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.alerter.storm import Admission, StormControl, StormKey

WINDOW = 600.0
A = StormKey("ws_1", "dst_a")
B = StormKey("ws_1", "dst_b")


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def storm(clock: Clock) -> StormControl[int]:
    return StormControl(WINDOW, examples=3, clock=clock)


def admit(storm: StormControl[int], key: StormKey, n: int, status: str = "exhausted") -> Admission:
    return storm.admit(key, status=status, event_id=f"evt_{n}", at_ms=n * 1000, item=n)


def test_the_first_alert_goes_out_and_the_rest_of_the_window_folds(
    storm: StormControl[int], clock: Clock
) -> None:
    assert admit(storm, A, 0) is Admission.SEND
    clock.now += 10
    assert [admit(storm, A, n) for n in range(1, 6)] == [Admission.FOLD] * 5
    assert storm.folded == 5
    assert storm.due() == []  # the window is still open
    assert storm.next_deadline() == 1000.0 + WINDOW

    clock.now = 1000.0 + WINDOW
    (digest,) = storm.due()
    assert digest.key == A and digest.count == 5
    assert digest.by_status == {"exhausted": 5}
    assert digest.examples == ("evt_1", "evt_2", "evt_3")  # the first few only
    assert digest.items == (1, 2, 3, 4, 5)
    assert (digest.first_at_ms, digest.last_at_ms) == (1000, 5000)
    assert storm.folded == 0


def test_destinations_fold_independently(storm: StormControl[int]) -> None:
    assert admit(storm, A, 0) is Admission.SEND
    assert admit(storm, B, 1) is Admission.SEND
    assert admit(storm, A, 2) is Admission.FOLD
    assert admit(storm, B, 3) is Admission.FOLD


def test_counts_by_status(storm: StormControl[int], clock: Clock) -> None:
    admit(storm, A, 0)
    admit(storm, A, 1)
    admit(storm, A, 2, status="destination_disabled")
    admit(storm, A, 3)
    clock.now += WINDOW
    (digest,) = storm.due()
    assert digest.by_status == {"exhausted": 2, "destination_disabled": 1}


def test_a_window_that_closes_empty_ends_and_the_next_alert_goes_out_at_once(
    storm: StormControl[int], clock: Clock
) -> None:
    admit(storm, A, 0)
    clock.now += WINDOW
    assert storm.due() == []
    assert storm.open_windows == 0 and storm.next_deadline() is None
    assert admit(storm, A, 1) is Admission.SEND


def test_a_digest_opens_the_next_window_so_a_long_storm_gives_one_message_per_window(
    storm: StormControl[int], clock: Clock
) -> None:
    admit(storm, A, 0)
    admit(storm, A, 1)
    clock.now += WINDOW
    (first,) = storm.due()
    assert first.items == (1,)
    clock.now += 1
    assert admit(storm, A, 2) is Admission.FOLD  # still storming: folded, not sent
    clock.now += WINDOW
    (second,) = storm.due()
    assert second.items == (2,)
    clock.now += WINDOW
    assert storm.due() == [] and storm.open_windows == 0


def test_an_alert_arriving_after_the_close_but_before_due_runs_is_not_lost(
    storm: StormControl[int], clock: Clock
) -> None:
    admit(storm, A, 0)
    admit(storm, A, 1)
    clock.now += WINDOW + 5  # the timer is late
    assert admit(storm, A, 2) is Admission.FOLD  # into the window the digest opened
    (digest,) = storm.due()
    assert digest.items == (1,)
    assert storm.folded == 1
    clock.now += WINDOW
    (later,) = storm.due()
    assert later.items == (2,)


def test_flush_hands_out_every_fold_now_and_keeps_the_windows_open(
    storm: StormControl[int], clock: Clock
) -> None:
    admit(storm, A, 0)
    admit(storm, A, 1)
    admit(storm, B, 2)
    admit(storm, B, 3)
    admit(storm, B, 4)
    flushed = storm.flush()
    assert sorted(d.items for d in flushed) == [(1,), (3, 4)]
    assert storm.folded == 0
    assert admit(storm, A, 5) is Admission.FOLD  # no flood right after a flush


def test_forget_drops_the_folds_a_revoked_partition_owned(
    storm: StormControl[int], clock: Clock
) -> None:
    admit(storm, A, 0)
    for n in range(1, 5):
        admit(storm, A, n)
    assert storm.forget(lambda item: item % 2 == 0) == 2
    clock.now += WINDOW
    (digest,) = storm.due()
    assert digest.items == (1, 3)


def test_forget_also_reaches_digests_closed_but_not_yet_collected(
    storm: StormControl[int], clock: Clock
) -> None:
    admit(storm, A, 0)
    admit(storm, A, 1)
    admit(storm, A, 2)
    clock.now += WINDOW
    admit(storm, A, 3)  # rolls the window: its digest is ready, not yet collected
    assert storm.forget(lambda item: item == 1) == 1
    (digest,) = storm.due()
    assert digest.items == (2,) and digest.by_status == {"exhausted": 1}
    assert storm.forget(lambda item: True) == 1  # the fold of the new window
    assert storm.folded == 0


def test_the_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        StormControl[int](0)
