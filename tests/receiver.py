"""A real aiohttp webhook receiver for tests: records every request, injects faults.

    receiver = await make_receiver()
    receiver.script(Reply(status=503, headers={"Retry-After": "1"}), Reply(status=200))
    await receiver.wait_for(2)

    receiver.default = Reply(hang=True)  # every request waits until receiver.release()

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

from signet.dev.loopback import LoopbackServer


@dataclass(slots=True, frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    reset: bool = False  # drop the connection without answering
    hang: bool = False  # answer only once release() is called (or the client gives up)
    # Send the body in chunks of this many bytes, pausing between them (a slow body).
    body_chunk_bytes: int = 0
    body_chunk_delay_seconds: float = 0.0


@dataclass(slots=True, frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int | None = None  # what the receiver answered (None: it reset the connection)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.default = Reply()
        self._script: deque[Reply] = deque()
        self._arrived = asyncio.Condition()
        self._released = asyncio.Event()
        self._server = LoopbackServer()
        self.in_progress = 0  # requests being answered right now (hanging ones included)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def script(self, *replies: Reply) -> None:
        self._script.extend(replies)

    def release(self) -> None:
        """Let every hanging request (now and later) answer."""
        self._released.set()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        await self._server.serve(app)
        self.port = self._server.port

    async def stop(self) -> None:
        self._released.set()  # hanging handlers finish, so cleanup does not wait on them
        await self._server.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.in_progress += 1
        try:
            return await self._answer(request)
        finally:
            self.in_progress -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        reply = self._script.popleft() if self._script else self.default
        received = Received(
            request.method,
            request.path,
            dict(request.headers),
            body,
            time.time(),
            None if reply.reset else reply.status,
        )
        async with self._arrived:
            self.requests.append(received)
            self._arrived.notify_all()
        if reply.delay_seconds:
            await asyncio.sleep(reply.delay_seconds)  # a slow receiver: the fault injected
        if reply.hang:
            await self._released.wait()
        if reply.reset:
            transport = request.transport
            if transport is not None:
                transport.abort()
            return web.Response(status=599)
        if reply.body_chunk_bytes:
            return await self._slow_body(request, reply)
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)

    async def _slow_body(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        response.content_length = len(reply.body)
        await response.prepare(request)
        step = reply.body_chunk_bytes
        for start in range(0, len(reply.body), step):
            await response.write(reply.body[start : start + step])
            await asyncio.sleep(reply.body_chunk_delay_seconds)  # a slow body: the fault
        await response.write_eof()
        return response

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
