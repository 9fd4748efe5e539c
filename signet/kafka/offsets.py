"""Which offsets may be committed while many deliveries of a partition are in flight.

Deliveries of one partition finish out of order (a slow receiver next to fast ones), so
a partition's commit position is its low-water mark: the lowest offset not yet complete
(or one past the highest when all are). Committing there never skips unfinished work; a
restart redoes at most what was in flight (at-least-once). An offset counts as complete
only once its outcome (or dead letter) was acknowledged by the broker.

Pure and single-threaded: the consumer serialises calls. Each assignment of a partition
gets a fresh ``PartitionOffsets``. A revoked or lost partition's state is kept, retired,
until the partition comes back: its tickets still complete into it, and the records it
completed but could not commit (a broker stall ends in a rebalance that hands the same
partitions back, from the last commit) are skipped, not done twice. Only the newest
retired state of a partition is kept, and only until the new assignment passes it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(slots=True, frozen=True, order=True)
class Partition:
    topic: str
    partition: int


@dataclass(slots=True, frozen=True)
class Commit:
    """``offset`` is the next offset to consume, as Kafka commits expect."""

    topic: str
    partition: int
    offset: int


class PartitionOffsets:
    """The in-flight offsets of one partition during one assignment."""

    __slots__ = ("_done", "_first_tracked", "_last_tracked", "_pending", "committed", "key")

    def __init__(self, key: Partition) -> None:
        self.key = key
        self._pending: deque[int] = deque()
        self._done: set[int] = set()
        self._first_tracked: int | None = None
        self._last_tracked: int | None = None
        self.committed: int | None = None

    def track(self, offset: int) -> None:
        if self._last_tracked is not None and offset <= self._last_tracked:
            raise ValueError(
                f"{self.key}: offset {offset} tracked after {self._last_tracked}; "
                "offsets must increase within an assignment"
            )
        if self._first_tracked is None:
            self._first_tracked = offset
        self._pending.append(offset)
        self._last_tracked = offset

    def completed(self, offset: int) -> bool:
        """True when ``offset`` was tracked in this assignment and its work is complete."""
        first, position = self._first_tracked, self.position
        if first is None or position is None or offset < first:
            return False
        return offset < position or offset in self._done

    @property
    def last_tracked(self) -> int | None:
        return self._last_tracked

    def complete(self, offset: int) -> None:
        if not self._pending or offset < self._pending[0] or offset in self._done:
            return
        self._done.add(offset)
        while self._pending and self._pending[0] in self._done:
            self._done.discard(self._pending.popleft())

    @property
    def position(self) -> int | None:
        """The low-water mark: first incomplete offset, or one past the last; None if idle."""
        if self._pending:
            return self._pending[0]
        return None if self._last_tracked is None else self._last_tracked + 1

    @property
    def in_flight(self) -> int:
        return len(self._pending) - len(self._done)

    def uncommitted(self) -> Commit | None:
        position = self.position
        if position is None or position == self.committed:
            return None
        return Commit(self.key.topic, self.key.partition, position)


@dataclass(slots=True, frozen=True)
class Ticket:
    """Proof that an offset was tracked; hand it back to ``complete``."""

    state: PartitionOffsets
    offset: int


class OffsetTracker:
    """Low-water marks of every partition this consumer owns."""

    def __init__(self) -> None:
        self._partitions: dict[Partition, PartitionOffsets] = {}
        # The last assignment of partitions revoked or lost, until they come back.
        self._retired: dict[Partition, PartitionOffsets] = {}
        self.skipped = 0  # records not handed out again: completed in a retired assignment

    def assign(self, partitions: Iterable[Partition]) -> None:
        for key in partitions:
            self._partitions[key] = PartitionOffsets(key)

    def revoke(self, partitions: Iterable[Partition]) -> list[Commit]:
        """Forget the partitions; return the positions to commit for what is done."""
        commits = []
        for key in partitions:
            state = self._retire(key)
            commit = state.uncommitted() if state is not None else None
            if commit is not None:
                commits.append(commit)
        return commits

    def lose(self, partitions: Iterable[Partition]) -> None:
        """Forget the partitions without committing (another member may own them now)."""
        for key in partitions:
            self._retire(key)

    def _retire(self, key: Partition) -> PartitionOffsets | None:
        state = self._partitions.pop(key, None)
        if state is not None and state.last_tracked is not None:
            self._retired[key] = state
        return state

    def track(self, key: Partition, offset: int) -> Ticket | None:
        """None when the partition is not assigned to us (a fetch that raced a revoke), or
        when this member already completed the record in an earlier assignment (it is
        marked complete here and must not be done again)."""
        state = self._partitions.get(key)
        if state is None:
            return None
        state.track(offset)
        retired = self._retired.get(key)
        if retired is not None:
            last = retired.last_tracked
            if retired.completed(offset):
                state.complete(offset)
                self.skipped += 1
                return None
            if last is None or offset >= last:
                del self._retired[key]  # past everything it knew
        return Ticket(state, offset)

    def complete(self, ticket: Ticket) -> None:
        state = ticket.state
        if self.owns(ticket) or self._retired.get(state.key) is state:
            state.complete(ticket.offset)

    def owns(self, ticket: Ticket) -> bool:
        """True while the ticket's partition is still assigned in the same assignment."""
        return self._partitions.get(ticket.state.key) is ticket.state

    def uncommitted(self) -> list[Commit]:
        return [c for s in self._partitions.values() if (c := s.uncommitted()) is not None]

    def mark_committed(self, commits: Iterable[Commit]) -> None:
        for commit in commits:
            state = self._partitions.get(Partition(commit.topic, commit.partition))
            if state is not None:
                state.committed = commit.offset

    @property
    def assigned(self) -> list[Partition]:
        return sorted(self._partitions)

    @property
    def in_flight(self) -> int:
        return sum(s.in_flight for s in self._partitions.values())
