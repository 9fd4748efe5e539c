"""Storm control: one alert per destination at once, the rest of a window in one digest.

The first alert for a destination goes out at once and opens a window (10 minutes by
default). Further alerts for that destination inside the window are folded: nothing is
sent for them until the window closes, when one digest says how many there were, by
status, with a few example event ids. A window that closes with a digest opens the next
one, so a destination failing for hours yields one digest per window; a window that
closes with nothing folded just ends, and the next alert goes out at once again.

The state is in memory only, and that is safe because the consumer commits at the
low-water mark: the offset of a folded outcome completes only once its digest was sent
(or dead-lettered), so nothing folded is ever committed unsent. What a restart costs is
duplicates, never losses: the outcomes behind the oldest unsent fold are read again, so
the first alert of a window may be sent a second time, and the folded ones are folded
again into a fresh window. A partition revoked in a rebalance drops its folds here
(``forget``); its new owner reads them again for the same reason.

Pure and single-threaded: the clock is injected (monotonic seconds) and nothing here
sends, sleeps or completes an offset. Items (``T``) are opaque to this module.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")


class StormKey(NamedTuple):
    workspace_id: str
    destination_id: str


class Admission(StrEnum):
    SEND = "send"  # the first alert of a window: send it now
    FOLD = "fold"  # folded into the window's digest


@dataclass(slots=True, frozen=True)
class Folded(Generic[T]):
    status: str
    event_id: str
    at_ms: int  # when the outcome happened (its attempt time), for the digest's text
    item: T


@dataclass(slots=True, frozen=True)
class Digest(Generic[T]):
    """What one window folded; ``items`` are what the caller passed to ``admit``."""

    key: StormKey
    folded: tuple[Folded[T], ...]
    example_limit: int = 5

    @property
    def count(self) -> int:
        return len(self.folded)

    @property
    def by_status(self) -> dict[str, int]:
        return dict(Counter(f.status for f in self.folded))

    @property
    def examples(self) -> tuple[str, ...]:
        return tuple(f.event_id for f in self.folded[: self.example_limit])

    @property
    def first_at_ms(self) -> int:
        return min(f.at_ms for f in self.folded)

    @property
    def last_at_ms(self) -> int:
        return max(f.at_ms for f in self.folded)

    @property
    def items(self) -> tuple[T, ...]:
        return tuple(f.item for f in self.folded)


@dataclass(slots=True)
class _Window(Generic[T]):
    closes_at: float
    folded: list[Folded[T]] = field(default_factory=list)


class StormControl(Generic[T]):
    def __init__(
        self,
        window_seconds: float,
        *,
        examples: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_seconds <= 0:
            raise ValueError("the storm window must be positive")
        self._window = window_seconds
        self._examples = examples
        self._clock = clock
        self._windows: dict[StormKey, _Window[T]] = {}
        self._ready: list[Digest[T]] = []

    def admit(self, key: StormKey, *, status: str, event_id: str, at_ms: int, item: T) -> Admission:
        """Send this alert now, or fold it into the destination's open window."""
        now = self._clock()
        self._roll(key, now)
        window = self._windows.get(key)
        if window is None:
            self._windows[key] = _Window(now + self._window)
            return Admission.SEND
        window.folded.append(Folded(status, event_id, at_ms, item))
        return Admission.FOLD

    def due(self) -> list[Digest[T]]:
        """Digests of every window closed by now; forgets windows that closed empty."""
        now = self._clock()
        for key in list(self._windows):
            self._roll(key, now)
        ready, self._ready = self._ready, []
        return ready

    def flush(self) -> list[Digest[T]]:
        """Every fold as a digest now (shutdown, or too many offsets held back).

        The windows stay open (fresh, empty): what follows still folds rather than
        flooding the channel the moment a flush happened.
        """
        now = self._clock()
        flushed, self._ready = self._ready, []
        for key, window in self._windows.items():
            if window.folded:
                flushed.append(self._digest(key, window.folded))
                self._windows[key] = _Window(now + self._window)
        return flushed

    def forget(self, drop: Callable[[T], bool]) -> int:
        """Drop the folds whose item ``drop`` selects (a revoked partition); how many."""
        before = self.folded
        for window in self._windows.values():
            window.folded = [f for f in window.folded if not drop(f.item)]
        kept_ready = []
        for digest in self._ready:
            kept = tuple(f for f in digest.folded if not drop(f.item))
            if kept:
                kept_ready.append(Digest(digest.key, kept, self._examples))
        self._ready = kept_ready
        return before - self.folded

    def next_deadline(self) -> float | None:
        """When ``due`` next has something to do (clock seconds); None when idle."""
        if self._ready:
            return self._clock()
        return min((w.closes_at for w in self._windows.values()), default=None)

    @property
    def folded(self) -> int:
        """Alerts folded and not yet handed out in a digest."""
        return sum(len(w.folded) for w in self._windows.values()) + sum(
            d.count for d in self._ready
        )

    @property
    def open_windows(self) -> int:
        return len(self._windows)

    def _roll(self, key: StormKey, now: float) -> None:
        window = self._windows.get(key)
        if window is None or now < window.closes_at:
            return
        if window.folded:
            self._ready.append(self._digest(key, window.folded))
            self._windows[key] = _Window(now + self._window)
        else:
            del self._windows[key]

    def _digest(self, key: StormKey, folded: list[Folded[T]]) -> Digest[T]:
        return Digest(key, tuple(folded), self._examples)
