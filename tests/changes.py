"""``wait_for(predicate, timeout)`` as the config view offers it, for in-memory fakes of it
in unit tests: ``notify()`` after each change wakes the waiters to check again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Changes:
    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """True once ``predicate()`` holds, False when ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        while not predicate():
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                return False
        return True
