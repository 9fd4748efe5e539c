"""Wait in a test for something to become true, with a deadline: the one way tests wait.

    await eventually(lambda: receiver.count >= 3, "three requests", timeout=10)
    row = await eventually(fetch_row, "the row")   # an async check; its answer is returned

``check`` is called (and awaited, when it returns an awaitable) every ``interval`` seconds
until its answer is truthy; that answer is returned. Past ``timeout`` the test fails,
naming ``what`` (a string, or a function that says then what was last seen). Never a
fixed sleep in its place: a sleep either waits too long or, on a busy machine, not long
enough.

A negative check ("nothing is sent before the config arrives") waits on purpose; say so
with ``never``, which fails the moment the thing that must not happen happens:

    await never(lambda: len(receiver.requests) > 1, "a request before the config", 1.0)

tests/test_no_fixed_sleeps.py keeps fixed sleeps out of the tests.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]],
    what: str | Callable[[], str] = ...,
    timeout: float = ...,
    *,
    interval: float = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T | None],
    what: str | Callable[[], str] = ...,
    timeout: float = ...,
    *,
    interval: float = ...,
) -> T: ...


async def eventually(
    check: Callable[[], object],
    what: str | Callable[[], str] = "the condition",
    timeout: float = 30.0,
    *,
    interval: float = 0.05,
) -> object:
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what() if callable(what) else what}")
        await asyncio.sleep(interval)


async def never(
    check: Callable[[], object],
    what: str,
    within: float,
    *,
    interval: float = 0.05,
) -> None:
    """Fail as soon as ``check`` holds; return once ``within`` seconds passed without it.

    It always takes ``within`` seconds: the deliberate wait of a negative check, so keep
    ``within`` short and let ``what`` name what must not happen.
    """
    deadline = time.monotonic() + within
    while True:
        answer = check()
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            raise AssertionError(f"within {within:g}s: {what}")
        left = deadline - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(interval, left))
