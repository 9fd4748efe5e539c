"""Run one service until SIGTERM/SIGINT, then drain it; a second signal exits at once."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import uvloop

log = logging.getLogger(__name__)


class Service(Protocol):
    """A long-lived component with idempotent start/stop."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


EventLoop = Literal["uvloop", "asyncio"]


def run_service(
    build: Callable[[], Awaitable[Service]], name: str, *, event_loop: EventLoop = "uvloop"
) -> None:
    """Start the service ``build`` returns, wait for a signal, stop it gracefully.

    ``event_loop`` is ``SIGNET_EVENT_LOOP``: uvloop by default (libuv; the dispatcher's
    sends, ingest's requests and every consumer's callbacks cost less CPU on it), the
    standard library's loop on request.
    """

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            if signals > 1:
                log.warning("%s: second signal, exiting now", name)
                os._exit(1)
            log.info("%s: stopping (draining in-flight work)", name)
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        service = await build()
        await service.start()
        log.info("%s: started", name)
        try:
            await stop.wait()
        finally:
            await service.stop()
            log.info("%s: stopped", name)

    factory = uvloop.new_event_loop if event_loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())
