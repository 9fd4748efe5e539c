"""A real aiohttp webhook receiver for tests: records every request, injects faults.

    receiver = await make_receiver()
    receiver.script(Reply(status=503, headers={"Retry-After": "1"}), Reply(status=200))
    await receiver.wait_for(2)

Replies are consumed in order; when the script is empty the default reply is used.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web


@dataclass(slots=True, frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    reset: bool = False  # drop the connection without answering


@dataclass(slots=True, frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.default = Reply()
        self._script: deque[Reply] = deque()
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def script(self, *replies: Reply) -> None:
        self._script.extend(replies)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        received = Received(request.method, request.path, dict(request.headers), body, time.time())
        reply = self._script.popleft() if self._script else self.default
        async with self._arrived:
            self.requests.append(received)
            self._arrived.notify_all()
        if reply.delay_seconds:
            await asyncio.sleep(reply.delay_seconds)
        if reply.reset:
            transport = request.transport
            if transport is not None:
                transport.abort()
            return web.Response(status=599)
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until at least ``count`` requests arrived; fail the test on timeout."""
        async with self._arrived:
            try:
                await asyncio.wait_for(
                    self._arrived.wait_for(lambda: len(self.requests) >= count), timeout
                )
            except TimeoutError:
                pytest.fail(f"receiver got {len(self.requests)} of {count} requests in {timeout}s")
        return list(self.requests)


@pytest.fixture
async def make_receiver() -> AsyncIterator[Callable[[], Awaitable[Receiver]]]:
    started: list[Receiver] = []

    async def make() -> Receiver:
        receiver = Receiver()
        await receiver.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        await receiver.stop()
