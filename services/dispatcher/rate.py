"""A destination's rate limit: when each request to it may go (GCRA, virtual scheduling).

A destination with ``rate_limit_per_second`` gets its requests spaced ``1 / rate``
seconds apart. Each destination has a theoretical arrival time (TAT): the earliest time
its next request may go. :meth:`RateLimiter.reserve` hands out the slot
``max(now, previous slot + 1 / rate)`` and moves the TAT past it, so deliveries reserved
back to back get slots ``1 / rate`` apart, whatever order they finish in.

Burst of 1 (GCRA with no tolerance): a destination idle for a while sends its next
request at once, but never two at once; a pause earns no catch-up. The interval comes
from the rate passed with each reservation, so a changed rate spaces the next request
from the previous one at the new rate (unless the destination had gone idle at the old
one: then it goes at once). Only a destination whose TAT is still ahead is remembered;
an idle one (its TAT in the past) is forgotten, lazily, and starts afresh.

The pipeline waits in memory for a near slot, and sends a delivery whose slot is further
away to the retry tiers, due a little before its slot (no attempt). That delivery comes
back through the same pipeline: :meth:`RateLimiter.hold` remembers its slot by delivery
id, and :meth:`RateLimiter.admit` gives a returning delivery that slot (claiming it)
instead of reserving another one, which would push it back forever; back early, it waits
the rest in memory, so it goes at its slot. Back after its slot (the destination's queue
was full, its circuit open, the consumer lagging), it goes at once: if the destination
has gone idle meanwhile that is an ordinary reservation; behind a backlog it is late, so
closer than ``1 / rate`` to a slot given out since (one request per late delivery, in
place of the slot it missed), as reserving anew could starve it while the backlog lasts.

Held slots are bounded: one whose delivery has not come back long after it
(``hold_grace_seconds``: its destination was deleted, its partition moved to another
dispatcher) is forgotten, and beyond ``max_held`` no more are kept; a delivery without a
held slot reserves a new one when it comes back. A restart loses every reservation the
same way: the deliveries waiting on the tiers come back when due and reserve again, from
a limiter that does not know the requests sent just before the restart (the first one
may follow those closer than ``1 / rate``; the spacing holds from then on). No delivery
is lost or counted as an attempt; at worst it waits one round longer.

In memory and per process, like the circuit breaker: a destination's deliveries share a
partition, so one dispatcher owns its rate. ``now`` is any monotonic clock in seconds
(``time.monotonic()``), passed in, so the arithmetic is tested without waiting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Held slots kept at most (a delivery id and a float each, a few MB).
MAX_HELD = 100_000
# A held slot whose delivery is this late is forgotten (it comes back and reserves anew).
HOLD_GRACE_SECONDS = 600.0
# Forgotten idle destinations and stale held slots are swept at most this often.
PRUNE_EVERY_SECONDS = 10.0


@dataclass(slots=True)
class _Pace:
    last_slot: float  # the latest slot handed out
    tat: float  # theoretical arrival time: last_slot + the interval it was reserved at


def interval(rate_per_second: float) -> float:
    """Seconds between two requests at ``rate_per_second``; ValueError if it is no rate."""
    if not math.isfinite(rate_per_second) or rate_per_second <= 0:
        raise ValueError(f"a rate must be a positive number, got {rate_per_second!r}")
    return 1.0 / rate_per_second


class RateLimiter:
    def __init__(
        self,
        *,
        max_held: int = MAX_HELD,
        hold_grace_seconds: float = HOLD_GRACE_SECONDS,
        prune_every_seconds: float = PRUNE_EVERY_SECONDS,
    ) -> None:
        if max_held < 0:
            raise ValueError("max_held must not be negative")
        self._max_held = max_held
        self._grace = hold_grace_seconds
        self._prune_every = prune_every_seconds
        self._paces: dict[str, _Pace] = {}
        self._held: dict[str, float] = {}  # delivery id → its slot
        self._pruned_at = -math.inf

    def reserve(self, destination_id: str, rate_per_second: float, now: float) -> float:
        """The next free slot of the destination (``now`` or later), now taken."""
        step = interval(rate_per_second)
        self._prune(now)
        pace = self._paces.get(destination_id)
        # Idle (unknown, or its next slot has passed): at once, the burst of one.
        slot = now if pace is None or pace.tat <= now else max(now, pace.last_slot + step)
        self._paces[destination_id] = _Pace(slot, slot + step)
        return slot

    def admit(
        self, destination_id: str, rate_per_second: float | None, delivery_id: str, now: float
    ) -> float:
        """When this delivery may go: the slot it holds (claimed, so held no longer), or a
        new one; ``now`` for a destination without a rate.

        A rate that is not a positive number (no portal writes one) limits nothing:
        deliveries go on rather than stop on a bad record.
        """
        held = self._held.pop(delivery_id, None)
        if rate_per_second is None or not math.isfinite(rate_per_second) or rate_per_second <= 0:
            return now
        if held is None or self._idle(destination_id, now):
            # Late, but nothing is reserved ahead: an ordinary slot, now, keeps the spacing.
            return self.reserve(destination_id, rate_per_second, now)
        return held

    def _idle(self, destination_id: str, now: float) -> bool:
        pace = self._paces.get(destination_id)
        return pace is None or pace.tat <= now

    def hold(self, delivery_id: str, slot: float, now: float) -> bool:
        """Keep ``slot`` for a delivery that waits elsewhere and comes back for it; False
        when full (it reserves again when it comes back)."""
        self._prune(now)
        if delivery_id not in self._held and len(self._held) >= self._max_held:
            return False
        self._held[delivery_id] = slot
        return True

    def reserved(self, delivery_id: str) -> float | None:
        """The slot ``delivery_id`` holds, if any (not claimed by asking)."""
        return self._held.get(delivery_id)

    @property
    def destinations(self) -> int:
        """Destinations remembered (their next slot is ahead, or not swept yet)."""
        return len(self._paces)

    @property
    def held(self) -> int:
        return len(self._held)

    def _prune(self, now: float) -> None:
        # A sweep every few seconds, not per call: cheap at any rate, and what it keeps
        # between sweeps is what was active since the last one.
        if now - self._pruned_at < self._prune_every:
            return
        self._pruned_at = now
        self._paces = {d: p for d, p in self._paces.items() if p.tat > now}
        late = now - self._grace
        self._held = {d: slot for d, slot in self._held.items() if slot > late}
