"""A cap on concurrent requests to each destination, so one endpoint cannot take every slot.

Entries exist only while a destination has requests running or waiting, so the map stays
as small as the set of busy destinations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Entry:
    semaphore: asyncio.Semaphore
    users: int = 0
    running: int = field(default=0)


class DestinationLimiter:
    def __init__(self, per_destination: int) -> None:
        if per_destination < 1:
            raise ValueError("per_destination must be at least 1")
        self._per_destination = per_destination
        self._entries: dict[str, _Entry] = {}

    @asynccontextmanager
    async def slot(self, destination_id: str) -> AsyncIterator[None]:
        entry = self._entries.get(destination_id)
        if entry is None:
            entry = self._entries[destination_id] = _Entry(asyncio.Semaphore(self._per_destination))
        entry.users += 1
        try:
            async with entry.semaphore:
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
