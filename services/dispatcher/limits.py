"""Caps on concurrent requests, so one endpoint cannot take every slot.

Each destination has its own in-flight cap and a bounded queue in front of it:
``has_room`` says whether a delivery may join (running or queued); when it may not, the
pipeline sends it to the first retry tier instead of letting it wait here. The global
cap on running requests (``total``) is taken only once the destination's own slot is
held, so deliveries queued behind a hanging endpoint hold no global slot and healthy
destinations keep theirs.

Entries exist only while a destination has requests running or waiting, so the map stays
as small as the set of busy destinations.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Entry:
    semaphore: asyncio.Semaphore
    users: int = 0
    running: int = field(default=0)


class DestinationLimiter:
    def __init__(
        self,
        per_destination: int,
        *,
        queue_per_destination: int | None = None,
        total: int | None = None,
    ) -> None:
        if per_destination < 1:
            raise ValueError("per_destination must be at least 1")
        self._per_destination = per_destination
        self._queue = queue_per_destination
        self._total = asyncio.Semaphore(total) if total is not None else None
        self._entries: dict[str, _Entry] = {}

    def has_room(self, destination_id: str) -> bool:
        """False when the destination's slots and its queue are all taken."""
        if self._queue is None:
            return True
        entry = self._entries.get(destination_id)
        return entry is None or entry.users < self._per_destination + self._queue

    @asynccontextmanager
    async def slot(self, destination_id: str) -> AsyncIterator[None]:
        entry = self._entries.get(destination_id)
        if entry is None:
            entry = self._entries[destination_id] = _Entry(asyncio.Semaphore(self._per_destination))
        entry.users += 1
        try:
            async with entry.semaphore, self._total or contextlib.nullcontext():
                entry.running += 1
                try:
                    yield
                finally:
                    entry.running -= 1
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[destination_id]

    def running(self, destination_id: str) -> int:
        entry = self._entries.get(destination_id)
        return entry.running if entry is not None else 0

    def waiting(self, destination_id: str) -> int:
        entry = self._entries.get(destination_id)
        return entry.users - entry.running if entry is not None else 0

    @property
    def running_total(self) -> int:
        return sum(e.running for e in self._entries.values())
