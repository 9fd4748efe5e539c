"""Retries waiting in memory until their release time: a bounded timer heap per partition.

Each retry-tier partition the consumer owns may hold up to ``capacity`` records; once it
is full the consumer pauses the partition (and keeps polling the others), and resumes it
when the partition has drained to half. Because a tier releases its records in offset
order (``schedule.py``), the records not read yet are never due before the ones held.

Pure and single-threaded (the event loop); the clock is passed in. A revoked partition
is dropped at once: its records are redone by the next owner from the committed offset.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from signet.kafka.offsets import Partition

T = TypeVar("T")


@dataclass(slots=True, order=True)
class _Entry(Generic[T]):
    release_at: int
    seq: int
    partition: Partition = field(compare=False)
    generation: int = field(compare=False)
    item: T = field(compare=False)


class RetryHold(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self.capacity = capacity
        self._heap: list[_Entry[T]] = []
        self._sizes: dict[Partition, int] = {}
        self._generations: dict[Partition, int] = {}
        self._seq = itertools.count()

    def add(self, partition: Partition, release_at: int, item: T) -> None:
        generation = self._generations.setdefault(partition, 0)
        entry = _Entry(release_at, next(self._seq), partition, generation, item)
        heapq.heappush(self._heap, entry)
        self._sizes[partition] = self._sizes.get(partition, 0) + 1

    def pop_due(self, now: int) -> list[tuple[Partition, T]]:
        """Every record whose release time has come, earliest first."""
        due: list[tuple[Partition, T]] = []
        while self._heap and self._heap[0].release_at <= now:
            entry = heapq.heappop(self._heap)
            if self._generations.get(entry.partition) != entry.generation:
                continue  # its partition was dropped
            self._sizes[entry.partition] -= 1
            due.append((entry.partition, entry.item))
        return due

    def next_release(self) -> int | None:
        while self._heap and (
            self._generations.get(self._heap[0].partition) != self._heap[0].generation
        ):
            heapq.heappop(self._heap)
        return self._heap[0].release_at if self._heap else None

    def drop(self, partitions: list[Partition]) -> None:
        """Forget what these partitions hold (revoked or lost)."""
        for partition in partitions:
            if partition in self._generations:
                self._generations[partition] += 1
            self._sizes.pop(partition, None)
        if not any(self._sizes.values()):
            self._heap.clear()

    def largest(self, exclude: set[Partition] | frozenset[Partition] = frozenset()) -> int:
        """The size of the fullest partition not in ``exclude`` (0 when none)."""
        return max((n for p, n in self._sizes.items() if p not in exclude), default=0)

    def size(self, partition: Partition) -> int:
        return self._sizes.get(partition, 0)

    def full(self, partition: Partition) -> bool:
        return self.size(partition) >= self.capacity

    def drained(self, partition: Partition) -> bool:
        """Room again: resume a paused partition (half empty, so it does not flap)."""
        return self.size(partition) <= self.capacity // 2

    def __len__(self) -> int:
        return sum(self._sizes.values())
