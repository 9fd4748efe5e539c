"""Capped exponential backoff: where every retry delay in Signet comes from.

``Backoff`` is the policy (the first delay, the growth factor, the cap) and answers "how
long after failed attempt n"; budgets with more rules (the alerter's Slack retries add
jitter and Retry-After, the dev stack's restarts a streak limit) build on that answer.
``Delays`` is one loop's running sequence of waits, ``reset()`` after a success: the poll
loops that must outlive any failure. ``retry_until_done`` is the loop of every write that
must not be skipped (an outcome, a retry, a dead letter, a command, a projection batch):
call, and after each retriable error report it, pause, and call again until it returns.

Our own forty lines rather than ``tenacity``: its ``AsyncRetrying`` fits only the
retry-one-call loops, not the poll loops that start again from the first delay after a
success nor the restart streaks; every caller here logs the delay it is about to wait
and some pause on a stopping service's event (a ``pause`` that raises), which tenacity
can do only through its ``RetryCallState`` and ``sleep`` hooks; and a new dependency of
the ``signet`` package, SDK included, would cost more than this module. Tests drive it
with a fake ``pause``: no clock, nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
Pause = Callable[[float], Awaitable[None]]


@dataclass(slots=True, frozen=True)
class Backoff:
    """Waits between tries: ``initial_seconds``, then ``factor`` times the one before,
    never more than ``max_seconds``."""

    initial_seconds: float = 0.1
    max_seconds: float = 5.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        try:
            grown = self.initial_seconds * self.factor ** (attempt - 1)
        except OverflowError:  # a streak of a thousand failures: long past the cap
            return self.max_seconds
        return min(self.max_seconds, grown)

    def delays(self) -> Delays:
        """A fresh sequence of this policy's waits, for one retrying loop."""
        return Delays(self)


class Delays(Iterator[float]):
    """One loop's waits: ``next()`` is the one after the latest failure; ``reset()``
    (after a success) starts again from the first."""

    __slots__ = ("_backoff", "_failures")

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._failures = 0

    def __next__(self) -> float:
        self._failures += 1
        return self._backoff.delay(self._failures)

    def reset(self) -> None:
        self._failures = 0


DEFAULT = Backoff()


async def retry_until_done(
    call: Callable[[], Awaitable[T]],
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    on_retry: Callable[[BaseException, float], object],
    backoff: Backoff = DEFAULT,
    pause: Pause = asyncio.sleep,
) -> T:
    """``await call()`` until it returns, and return what it returned.

    After each ``retry_on`` error: ``on_retry(error, delay)`` (log it, count it), then
    ``pause(delay)``; any other error propagates. It never gives up by itself: a
    ``pause`` that raises (a service that is stopping) or a cancellation ends it.
    """
    delays = backoff.delays()
    while True:
        try:
            return await call()
        except retry_on as exc:
            delay = next(delays)
            on_retry(exc, delay)
            await pause(delay)
