"""Endpoint health: how long a destination has been failing without a single success.

A destination failing continuously for the window (5 days by default) is disabled
(``disabling.py``). "Since when" must survive a dispatcher restart, or a dispatcher
deployed every day would never see five days. So the clock travels with the work:

- every retry the dispatcher schedules carries ``failing_since``, the start of the
  current failure streak as this process knew it, and ``first_attempt_at``, the first
  failure of that delivery;
- a failed attempt of such a retry seeds the streak with the earlier of the two: a
  restarted dispatcher takes the streak up again from the retries still waiting in the
  delay tiers, which a destination failing without pause always has;
- any success ends the streak, and seeds older than the last success this process saw
  are ignored (they were written before it).

The one thing a restart forgets is a success seen just before it: a destination that
succeeded once and then went on failing may be disabled up to that streak's length early.

Pure and in memory: only failing destinations have an entry.
"""

from __future__ import annotations

from dataclasses import dataclass

# Destinations whose recovery we remember (to refuse older seeds); the oldest are forgotten.
MAX_REMEMBERED_SUCCESSES = 100_000


@dataclass(slots=True)
class _Streak:
    since: int  # epoch ms of the first failure of the streak


class EndpointHealth:
    def __init__(self, window_seconds: float) -> None:
        self._window_ms = int(window_seconds * 1000)
        self._streaks: dict[str, _Streak] = {}
        self._last_success: dict[str, int] = {}

    def failed(self, destination_id: str, *, at: int, seeds: tuple[int | None, ...] = ()) -> int:
        """Record a failure at ``at`` (epoch ms); the start of the streak it belongs to."""
        floor = self._last_success.get(destination_id)
        known = [s for s in (at, *seeds) if s is not None and (floor is None or s >= floor)]
        since = min(known) if known else at
        streak = self._streaks.get(destination_id)
        if streak is None:
            self._streaks[destination_id] = _Streak(since)
        elif since < streak.since:
            streak.since = since
        return self._streaks[destination_id].since

    def succeeded(
        self, destination_id: str, *, at: int, seeds: tuple[int | None, ...] = ()
    ) -> int | None:
        """Record a success; the start of the failure streak it ends, if any.

        ``seeds``, as for :meth:`failed`: a retry that succeeds after a restart ends the
        streak it carries (``failing_since``), unless a later success already ended it.
        """
        ended = self._streaks.pop(destination_id, None)
        floor = self._last_success.get(destination_id)
        carried = [s for s in seeds if s is not None and (floor is None or s > floor)]
        since = ended.since if ended is not None else (min(carried) if carried else None)
        # Only a destination that failed can have retries stamped before this success.
        if since is None and destination_id not in self._last_success:
            return None
        self._last_success.pop(destination_id, None)
        self._last_success[destination_id] = at  # newest last: the oldest go first
        while len(self._last_success) > MAX_REMEMBERED_SUCCESSES:
            del self._last_success[next(iter(self._last_success))]
        return since

    def failing_since(self, destination_id: str) -> int | None:
        streak = self._streaks.get(destination_id)
        return streak.since if streak is not None else None

    def should_disable(self, destination_id: str, now: int) -> bool:
        since = self.failing_since(destination_id)
        return since is not None and now - since >= self._window_ms

    @property
    def failing(self) -> int:
        return len(self._streaks)
