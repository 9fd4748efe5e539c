"""Backoff, Delays and retry_until_done: pure logic, driven by a fake pause (nothing sleeps)."""

from __future__ import annotations

from itertools import islice

import pytest

from signet.backoff import Backoff, retry_until_done
from signet.errors import BrokerError


class Pauses:
    """A fake pause: records each wait; raises ``stop`` once ``stop_after`` waits were asked."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.asked: list[float] = []
        self._stop_after = stop_after

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        if self._stop_after is not None and len(self.asked) >= self._stop_after:
            raise Stopping


class Stopping(Exception):
    """What a stopping service's pause raises."""


class Flaky:
    """Raises each of ``errors`` in turn, then returns ``result``."""

    def __init__(self, *errors: BaseException, result: str = "done") -> None:
        self.errors = list(errors)
        self.calls = 0
        self.result = result

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


def test_delays_double_from_the_first_up_to_the_cap() -> None:
    assert list(islice(Backoff().delays(), 8)) == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert [Backoff(1.0, 5.0).delay(n) for n in range(1, 5)] == [1.0, 2.0, 4.0, 5.0]
    assert [Backoff(1.0, 100.0, factor=3.0).delay(n) for n in range(1, 6)] == [
        1.0,
        3.0,
        9.0,
        27.0,
        81.0,
    ]


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        Backoff().delay(0)


def test_a_very_long_streak_stays_at_the_cap() -> None:
    assert Backoff().delay(5000) == 5.0


def test_reset_starts_again_from_the_first_delay() -> None:
    delays = Backoff().delays()
    assert [next(delays) for _ in range(3)] == [0.1, 0.2, 0.4]
    delays.reset()
    assert [next(delays) for _ in range(2)] == [0.1, 0.2]


def test_each_loop_has_its_own_delays() -> None:
    backoff = Backoff()
    first, second = backoff.delays(), backoff.delays()
    assert [next(first), next(first)] == [0.1, 0.2]
    assert next(second) == 0.1


async def test_retries_until_done_with_growing_pauses_and_reports_each_retry() -> None:
    call = Flaky(BrokerError("a"), BrokerError("b"), BrokerError("c"))
    pauses = Pauses()
    reported: list[tuple[str, float]] = []

    result = await retry_until_done(
        call,
        retry_on=BrokerError,
        on_retry=lambda exc, delay: reported.append((str(exc), delay)),
        pause=pauses,
    )

    assert (result, call.calls) == ("done", 4)
    assert pauses.asked == [0.1, 0.2, 0.4]
    assert reported == [("a", 0.1), ("b", 0.2), ("c", 0.4)]


async def test_success_at_once_neither_reports_nor_pauses() -> None:
    pauses = Pauses()
    reported: list[float] = []
    result = await retry_until_done(
        Flaky(result="first"),
        retry_on=BrokerError,
        on_retry=lambda exc, delay: reported.append(delay),
        pause=pauses,
    )
    assert (result, pauses.asked, reported) == ("first", [], [])


async def test_the_pauses_follow_the_given_backoff_and_stay_at_its_cap() -> None:
    pauses = Pauses()
    await retry_until_done(
        Flaky(*(BrokerError("no") for _ in range(5))),
        retry_on=(BrokerError, TimeoutError),
        on_retry=lambda exc, delay: None,
        backoff=Backoff(initial_seconds=1.0, max_seconds=3.0),
        pause=pauses,
    )
    assert pauses.asked == [1.0, 2.0, 3.0, 3.0, 3.0]


async def test_an_error_not_named_is_raised_at_once() -> None:
    call = Flaky(BrokerError("refused"), ValueError("a bug"))
    pauses = Pauses()
    with pytest.raises(ValueError, match="a bug"):
        await retry_until_done(
            call, retry_on=BrokerError, on_retry=lambda exc, delay: None, pause=pauses
        )
    assert (call.calls, pauses.asked) == (2, [0.1])


async def test_a_pause_that_raises_ends_the_retries() -> None:
    call = Flaky(*(BrokerError("refused") for _ in range(10)))
    pauses = Pauses(stop_after=2)
    with pytest.raises(Stopping):
        await retry_until_done(
            call, retry_on=BrokerError, on_retry=lambda exc, delay: None, pause=pauses
        )
    assert (call.calls, pauses.asked) == (2, [0.1, 0.2])
