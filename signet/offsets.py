"""Which offsets may be committed while many deliveries of a partition are in flight.

Deliveries of one partition finish out of order (a slow receiver next to fast ones), so
a partition's commit position is its low-water mark: the lowest offset not yet complete
(or one past the highest when all are). Committing there never skips unfinished work; a
restart redoes at most what was in flight (at-least-once). An offset counts as complete
only once its outcome (or dead letter) was acknowledged by the broker.

Pure and single-threaded: the consumer serialises calls. Each assignment of a partition
gets a fresh ``PartitionOffsets``; tickets of an earlier assignment (a partition revoked
while its deliveries were in flight) complete into nothing.
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

    __slots__ = ("_done", "_last_tracked", "_pending", "committed", "key")

    def __init__(self, key: Partition) -> None:
        self.key = key
        self._pending: deque[int] = deque()
        self._done: set[int] = set()
        self._last_tracked: int | None = None
        self.committed: int | None = None

    def track(self, offset: int) -> None:
        if self._last_tracked is not None and offset <= self._last_tracked:
            raise ValueError(
                f"{self.key}: offset {offset} tracked after {self._last_tracked}; "
                "offsets must increase within an assignment"
            )
        self._pending.append(offset)
        self._last_tracked = offset

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

    def assign(self, partitions: Iterable[Partition]) -> None:
        for key in partitions:
            self._partitions[key] = PartitionOffsets(key)

    def revoke(self, partitions: Iterable[Partition]) -> list[Commit]:
        """Forget the partitions; return the positions to commit for what is done."""
        commits = []
        for key in partitions:
            state = self._partitions.pop(key, None)
            commit = state.uncommitted() if state is not None else None
            if commit is not None:
                commits.append(commit)
        return commits

    def lose(self, partitions: Iterable[Partition]) -> None:
        """Forget the partitions without committing (another member may own them now)."""
        for key in partitions:
            self._partitions.pop(key, None)

    def track(self, key: Partition, offset: int) -> Ticket | None:
        """None when the partition is not assigned to us (a fetch that raced a revoke)."""
        state = self._partitions.get(key)
        if state is None:
            return None
        state.track(offset)
        return Ticket(state, offset)

    def complete(self, ticket: Ticket) -> None:
        if self.owns(ticket):
            ticket.state.complete(ticket.offset)

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
