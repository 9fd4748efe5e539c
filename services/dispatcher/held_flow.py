"""How many records of the FIFO hold topic wait in memory: at most a bound per partition.

Records read from ``fifo-hold`` wait in their line (``fifo_line.py``) until their turn,
with their offsets incomplete. Without a bound a long stall would pile them all up in
memory. So each hold partition the consumer owns may have at most ``bound`` records in
memory (read and not yet finished). A poll batch is cut at the bound: the first record
past it and every later one of that partition in the batch are not tracked, the
partition is sought back to that record and paused, and it is resumed once what it holds
has drained to half (so it does not flap). Nothing is skipped: the records not taken are
read again from where the partition was sought to.

Pure bookkeeping, on the event loop; ``cut`` runs on the consumer's thread but reads only
the snapshot of room taken on the loop just before the poll (records only ever finish
meanwhile, so the snapshot errs on the side of less room).
"""

from __future__ import annotations

from collections.abc import Mapping

from signet.kafka.offsets import Partition


class HeldFlow:
    def __init__(self, topic: str, bound: int) -> None:
        if bound < 1:
            raise ValueError("the bound must be at least 1")
        self.topic = topic
        self.bound = bound
        self._held: dict[Partition, int] = {}
        self._paused: set[Partition] = set()
        # Bumped when a partition is forgotten: what finishes from before does not count.
        self._generations: dict[Partition, int] = {}
        self._to_resume: set[Partition] = set()
        self.peak = 0  # the most ever held in memory by one partition (a gauge, tests)

    def room(self) -> dict[Partition, int]:
        """A snapshot, for the poll about to run: how many more each partition may take."""
        return {p: self.bound - n for p, n in self._held.items()}

    def cut(self, room: Mapping[Partition, int], keys: list[Partition | None]) -> list[bool]:
        """Which records of a batch to take (``keys[i]`` is None for other topics); the
        first of a partition past its room and all after it in the batch are left out."""
        left = dict(room)
        full: set[Partition] = set()
        taken = []
        for key in keys:
            if key is None:
                taken.append(True)
                continue
            if key in full or left.get(key, self.bound) <= 0:
                full.add(key)
                taken.append(False)
                continue
            left[key] = left.get(key, self.bound) - 1
            taken.append(True)
        return taken

    def left_out(self, partitions: set[Partition]) -> None:
        """These partitions were paused and sought back (by the consumer's thread, at
        once): resumed once they have drained."""
        for partition in partitions:
            # Records may have finished while the poll ran: drained already, resume now.
            if self._held.get(partition, 0) <= self.bound // 2:
                self._to_resume.add(partition)
            else:
                self._paused.add(partition)
                self._to_resume.discard(partition)

    def took(self, partition: Partition) -> int:
        """A record was taken; hand the answer back to ``finished``."""
        held = self._held[partition] = self._held.get(partition, 0) + 1
        self.peak = max(self.peak, held)
        return self._generations.get(partition, 0)

    def finished(self, partition: Partition, generation: int) -> None:
        if generation != self._generations.get(partition, 0):
            return  # taken before the partition was forgotten (a rebalance)
        held = self._held.get(partition, 0)
        if held <= 1:
            self._held.pop(partition, None)
        else:
            self._held[partition] = held - 1
        if partition in self._paused and held - 1 <= self.bound // 2:
            self._paused.discard(partition)
            self._to_resume.add(partition)

    def forget(self, partitions: list[Partition]) -> None:
        """Revoked, lost or freshly assigned: nothing held, not paused."""
        for partition in partitions:
            self._generations[partition] = self._generations.get(partition, 0) + 1
            self._held.pop(partition, None)
            self._paused.discard(partition)
            self._to_resume.discard(partition)

    @property
    def held(self) -> int:
        return sum(self._held.values())

    def take_resumes(self) -> set[Partition]:
        resume, self._to_resume = self._to_resume, set()
        return resume

    def resumes_failed(self, resume: set[Partition]) -> None:
        self._to_resume |= resume - self._paused
