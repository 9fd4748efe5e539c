"""Caps on concurrent requests, so one endpoint cannot take every slot.

Each destination has its own in-flight cap and a queue in front of it: ``has_room`` says
whether a delivery may join; when it may not, the pipeline sends it to the first retry
tier instead of letting it wait here. Three bounds:

- a slow destination (``SLOW_SECONDS`` or more a request) queues only while the expected
  wait (queued / cap * service time) is under the budget;
- a delivery still queued after the whole budget leaves (``slot`` raises
  :class:`QueueTimeout`), so an endpoint that starts hanging under a burst holds at most
  what arrives for it within the budget;
- a hard cap on the count, however fast the destination.

The service time is a moving average, over about the last second, of how long the
destination's requests hold a slot; a destination that has completed nothing for
``STUCK_SECONDS`` while requests run counts as at least that slow, so a hanging endpoint
shows before anything completes. Faster destinations queue a whole burst: their wait is
the dispatcher's own pace, and deferring them would only add work. (The budget is best
about the first retry tier's delay: a delivery that would wait less than that is served
sooner here than by the tier.)

The global cap on running requests (``total``) is taken only once the destination's own
slot is held, so deliveries queued behind a hanging endpoint hold no global slot and
healthy destinations keep theirs.

Entries exist only while a destination has requests running or waiting; an idle one's
service time stays in a bounded LRU, so a slow endpoint that comes back in bursts is
known at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# The service time averages the completions of about the last this many seconds.
SERVICE_TIME_HORIZON_SECONDS = 1.0
# A destination with requests running and none completed for this long counts as at
# least that slow, whatever the average says.
STUCK_SECONDS = 1.0
# Only a destination whose requests take about this long or more is kept from queueing by
# its expected wait. Faster ones are not slow endpoints: the time they wait is the
# dispatcher's own pace (its event loop, busy under load, stretches every request), and
# deferring their deliveries would only add work.
SLOW_SECONDS = 1.0
# Idle destinations whose service time is remembered (a few floats each).
REMEMBERED_DESTINATIONS = 4096


@dataclass(slots=True)
class _Entry:
    semaphore: asyncio.Semaphore
    service_time: float | None  # seconds a request holds the slot, moving average
    users: int = 0  # holding the destination's slot or queued for it
    running: int = 0  # holding the global slot too
    held_since: list[float] = field(default_factory=list)  # per slot holder, oldest first
    completed_at: float = -math.inf  # when the last request finished

    def completed(self, seconds: float, now: float) -> None:
        """Fold one request's slot time in, weighted by the time since the previous one."""
        previous = self.service_time
        weight = 1.0 - math.exp(-(now - self.completed_at) / SERVICE_TIME_HORIZON_SECONDS)
        self.completed_at = now
        self.service_time = (
            seconds if previous is None else previous + weight * (seconds - previous)
        )


class QueueTimeout(Exception):
    """The delivery waited the whole budget for its destination's slot."""


class DestinationLimiter:
    def __init__(
        self,
        per_destination: int,
        *,
        queue_per_destination: int | None = None,
        max_queue_wait_seconds: float | None = None,
        total: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        remembered: int = REMEMBERED_DESTINATIONS,
    ) -> None:
        if per_destination < 1:
            raise ValueError("per_destination must be at least 1")
        self._per_destination = per_destination
        self._queue = queue_per_destination
        self._max_wait = max_queue_wait_seconds
        self._total = asyncio.Semaphore(total) if total is not None else None
        self._clock = clock
        self._remembered = remembered
        self._entries: dict[str, _Entry] = {}
        self._idle: OrderedDict[str, float] = OrderedDict()  # destination → service time

    def has_room(self, destination_id: str) -> bool:
        """False when the destination's queue is full, or a newcomer would wait in it
        longer than the wait budget."""
        entry = self._entries.get(destination_id)
        if entry is None:
            return True
        queued = entry.users - self._per_destination  # below zero: slots free
        if self._queue is not None and queued >= self._queue:
            return False
        if self._max_wait is None or queued <= 0:
            return True
        service_time = self._service_time(entry)
        if service_time is None or service_time < SLOW_SECONDS:
            # Not slow: how long it waits is the dispatcher's own pace, not the endpoint's,
            # and deferring would only add work. The wait timeout still bounds it.
            return True
        return queued / self._per_destination * service_time < self._max_wait

    def service_time(self, destination_id: str) -> float | None:
        """Seconds one request is expected to hold the destination's slot; None: unknown."""
        entry = self._entries.get(destination_id)
        if entry is None:
            return self._idle.get(destination_id)
        return self._service_time(entry)

    def _service_time(self, entry: _Entry) -> float | None:
        if not entry.held_since:
            return entry.service_time
        # How long the destination has made no progress: since its last completion, or
        # since its oldest running request started if that is later. One slow request
        # among many completing ones is not a stall; a destination whose every slot hangs is.
        stalled = self._clock() - max(entry.completed_at, entry.held_since[0])
        if stalled < STUCK_SECONDS:
            return entry.service_time
        return stalled if entry.service_time is None else max(entry.service_time, stalled)

    @asynccontextmanager
    async def slot(self, destination_id: str) -> AsyncIterator[None]:
        """The destination's slot and then a global one; :class:`QueueTimeout` when the
        destination's slot did not come within the wait budget."""
        entry = self._entries.get(destination_id)
        if entry is None:
            entry = self._entries[destination_id] = _Entry(
                asyncio.Semaphore(self._per_destination), self._idle.pop(destination_id, None)
            )
        entry.users += 1
        try:
            async with self._holding(entry), self._total or contextlib.nullcontext():
                entry.running += 1
                try:
                    yield
                finally:
                    entry.running -= 1
        finally:
            entry.users -= 1
            if entry.users == 0:
                self._retire(destination_id, entry)

    @asynccontextmanager
    async def _holding(self, entry: _Entry) -> AsyncIterator[None]:
        """The destination's own slot, timed: how long it is held is the service time."""
        semaphore = entry.semaphore
        if semaphore.locked():  # a free slot is taken at once, with no timer to arm
            try:
                async with asyncio.timeout(self._max_wait):
                    await semaphore.acquire()
            except TimeoutError:
                raise QueueTimeout from None
        else:
            await semaphore.acquire()
        try:
            since = self._clock()
            entry.held_since.append(since)  # the clock is monotonic: stays oldest first
            try:
                yield
            finally:
                entry.held_since.remove(since)
                entry.completed(self._clock() - since, self._clock())
        finally:
            entry.semaphore.release()

    def _retire(self, destination_id: str, entry: _Entry) -> None:
        del self._entries[destination_id]
        if entry.service_time is None:
            return
        self._idle[destination_id] = entry.service_time
        if len(self._idle) > self._remembered:
            self._idle.popitem(last=False)

    def running(self, destination_id: str) -> int:
        entry = self._entries.get(destination_id)
        return entry.running if entry is not None else 0

    def waiting(self, destination_id: str) -> int:
        entry = self._entries.get(destination_id)
        return entry.users - entry.running if entry is not None else 0

    @property
    def running_total(self) -> int:
        return sum(e.running for e in self._entries.values())
