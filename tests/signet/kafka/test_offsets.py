"""OffsetTracker: commits sit at the low-water mark of completed work, per assignment."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signet.kafka.offsets import Commit, OffsetTracker, Partition, Ticket

P0 = Partition("signet.deliveries", 0)
P1 = Partition("signet.deliveries", 1)


def tracked(tracker: OffsetTracker, key: Partition, offsets: list[int]) -> list[Ticket]:
    tickets = [tracker.track(key, o) for o in offsets]
    assert all(t is not None for t in tickets)
    return [t for t in tickets if t is not None]


def test_commits_wait_for_the_slowest_offset() -> None:
    tracker = OffsetTracker()
    tracker.assign([P0])
    tickets = tracked(tracker, P0, [10, 11, 12, 13])
    assert tracker.uncommitted() == [Commit(P0.topic, 0, 10)]  # nothing done yet: stay put

    for t in tickets[1:]:
        tracker.complete(t)
    assert tracker.uncommitted() == [Commit(P0.topic, 0, 10)]  # 10 is still running
    assert tracker.in_flight == 1

    tracker.complete(tickets[0])
    assert tracker.uncommitted() == [Commit(P0.topic, 0, 14)]  # everything through 13
    assert tracker.in_flight == 0


def test_mark_committed_suppresses_repeats() -> None:
    tracker = OffsetTracker()
    tracker.assign([P0, P1])
    (t,) = tracked(tracker, P0, [5])
    tracker.complete(t)
    commits = tracker.uncommitted()
    assert commits == [Commit(P0.topic, 0, 6)]  # P1 never saw a record: nothing to commit
    tracker.mark_committed(commits)
    assert tracker.uncommitted() == []
    (t,) = tracked(tracker, P0, [9])  # gaps (compaction, markers) are fine
    tracker.complete(t)
    assert tracker.uncommitted() == [Commit(P0.topic, 0, 10)]


def test_revoke_commits_what_is_done_and_forgets_the_rest() -> None:
    tracker = OffsetTracker()
    tracker.assign([P0, P1])
    a = tracked(tracker, P0, [1, 2, 3])
    b = tracked(tracker, P1, [7])
    tracker.complete(a[0])
    tracker.complete(a[2])

    assert tracker.revoke([P0]) == [Commit(P0.topic, 0, 2)]
    assert tracker.assigned == [P1]
    # a delivery of the revoked partition finishing late does not move any commit
    tracker.complete(a[1])
    assert tracker.uncommitted() == [Commit(P1.topic, 1, 7)]

    # the partition comes back: a fresh assignment, old tickets do not move its commits
    tracker.assign([P0])
    tracker.complete(a[1])
    assert tracker.uncommitted() == [Commit(P1.topic, 1, 7)]
    (c,) = tracked(tracker, P0, [4])
    tracker.complete(c)
    assert Commit(P0.topic, 0, 5) in tracker.uncommitted()
    tracker.complete(b[0])
    tracker.lose([P0, P1])
    assert tracker.uncommitted() == [] and tracker.assigned == []


def test_unassigned_partitions_and_misuse() -> None:
    tracker = OffsetTracker()
    assert tracker.track(P0, 1) is None
    assert tracker.revoke([P0]) == []
    tracker.assign([P0])
    (t,) = tracked(tracker, P0, [4])
    with pytest.raises(ValueError, match="must increase"):
        tracker.track(P0, 4)
    tracker.complete(t)
    tracker.complete(t)  # twice is harmless
    assert tracker.uncommitted() == [Commit(P0.topic, 0, 5)]


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 3), min_size=1, max_size=60),
    seed=st.integers(0, 2**32),
    done_fraction=st.floats(0, 1),
)
def test_commit_position_never_passes_unfinished_work(
    gaps: list[int], seed: int, done_fraction: float
) -> None:
    offsets, position = [], 100
    for gap in gaps:
        position += gap
        offsets.append(position)
    tracker = OffsetTracker()
    tracker.assign([P0])
    tickets = tracked(tracker, P0, offsets)
    rng = random.Random(seed)
    order = list(range(len(offsets)))
    rng.shuffle(order)
    finished = set(order[: int(len(order) * done_fraction)])
    for index in order:
        if index in finished:
            tracker.complete(tickets[index])

    (commit,) = tracker.uncommitted()
    unfinished = [o for i, o in enumerate(offsets) if i not in finished]
    expected = min(unfinished) if unfinished else offsets[-1] + 1
    assert commit.offset == expected
    assert all(o < commit.offset for i, o in enumerate(offsets) if o < expected)
    assert tracker.in_flight == len(unfinished)


def test_a_partition_that_comes_back_skips_what_this_member_completed() -> None:
    """A broker stall: nothing could be committed, the group rebalanced, and the same
    partition came back from its last commit. What this member completed meanwhile
    (including work that finished after the revoke) is not handed out again."""
    tracker = OffsetTracker()
    tracker.assign([P0])
    t = tracked(tracker, P0, [10, 11, 12, 13, 14])
    tracker.complete(t[0])
    tracker.complete(t[2])
    tracker.lose([P0])  # the commit never happened
    tracker.complete(t[1])  # its outcome was acknowledged after the loss

    tracker.assign([P0])
    again = [tracker.track(P0, o) for o in (10, 11, 12, 13, 14, 15)]
    assert [o for o, ticket in zip((10, 11, 12, 13, 14, 15), again, strict=True) if ticket] == [
        13,
        14,
        15,
    ]
    assert tracker.skipped == 3
    # skipped offsets count as complete for the new assignment's commits
    assert tracker.uncommitted() == [Commit(P0.topic, 0, 13)]
    for ticket in again[3:]:
        assert ticket is not None
        tracker.complete(ticket)
    assert tracker.uncommitted() == [Commit(P0.topic, 0, 16)]


def test_a_retired_assignment_is_dropped_once_passed() -> None:
    tracker = OffsetTracker()
    tracker.assign([P0])
    (t,) = tracked(tracker, P0, [3])
    tracker.complete(t)
    tracker.revoke([P0])
    tracker.assign([P0])
    assert tracker.track(P0, 3) is None  # done before: skipped
    assert tracker.track(P0, 4) is not None  # past what the retired one knew: dropped
    tracker.assign([P0])  # and a rewind now redoes 3: nothing remembers it
    assert tracker.track(P0, 3) is not None
