"""Wait in a test for something to become true, with a deadline: the one way tests wait.

    await eventually(lambda: receiver.count >= 3, "three requests", timeout=10)
    row = await eventually(fetch_row, "the row")   # an async check; its answer is returned

``check`` is called (and awaited, when it returns an awaitable) every ``interval`` seconds
until its answer is truthy; that answer is returned. Past ``timeout`` the test fails,
naming ``what``. Never a fixed sleep in its place: a sleep either waits too long or, on a
busy machine, not long enough.
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
    what: str = ...,
    timeout: float = ...,
    *,
    interval: float = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T | None],
    what: str = ...,
    timeout: float = ...,
    *,
    interval: float = ...,
) -> T: ...


async def eventually(
    check: Callable[[], object],
    what: str = "the condition",
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
            raise AssertionError(f"not within {timeout:g}s: {what}")
        await asyncio.sleep(interval)
