"""Run one service until SIGTERM/SIGINT, then drain it; a second signal exits at once.

A component that finds itself beyond repair (a Kafka client librdkafka calls fatal, a
Faust app that gave up) calls :func:`request_restart` from any thread: the service is
stopped as on SIGTERM and the process exits with ``RESTART_EXIT_CODE``, so its
supervisor (``signet up``, Kubernetes) starts a fresh one.

Tracing is set up here for every service (``signet/tracing.py``: exported only when the
``OTEL_*`` variables name an OTLP endpoint), and flushed after the service stopped.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import uvloop

from signet import tracing
from signet.errors import ConfigurationError

logger = logging.getLogger(__name__)


class Service(Protocol):
    """A long-lived component with idempotent start/stop."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


EventLoop = Literal["uvloop", "asyncio"]

# The cyclic garbage collector's generation thresholds once a service runs. Python's
# (700, 10, 10) collects after every 700 allocations; a service allocates thousands per
# second, nearly all freed by reference counting, and at 700 the collector took about
# 15 % of the dispatcher's CPU under load (perf). Cycles still get collected, in fewer,
# larger sweeps.
GC_THRESHOLDS = (20_000, 20, 20)

# The exit code of a process that stopped itself to be restarted (EX_SOFTWARE).
RESTART_EXIT_CODE = 70

_restart: Callable[[str], None] | None = None


def request_restart(reason: str) -> None:
    """Stop this service and exit non-zero (any thread). Outside ``run_service`` (a
    service embedded in a test), only logged: whoever runs it decides."""
    logger.critical("restart requested: %s", reason)
    if _restart is not None:
        _restart(reason)


def run_service(
    build: Callable[[], Awaitable[Service]], name: str, *, event_loop: EventLoop = "uvloop"
) -> None:
    """Start the service ``build`` returns, wait for a signal, stop it gracefully.

    ``event_loop`` is ``SIGNET_EVENT_LOOP``: uvloop by default (libuv; the dispatcher's
    sends, ingest's requests and every consumer's callbacks cost less CPU on it), the
    standard library's loop on request.
    """

    exit_code = 0
    # OpenTelemetry's standard OTEL_* variables, read as its SDK reads them.
    try:
        tracing.configure(name, os.environ)
    except ConfigurationError as exc:
        raise SystemExit(f"{name}: {exc}") from exc

    async def main() -> None:
        global _restart
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        signals = 0

        def on_restart(reason: str) -> None:
            nonlocal exit_code
            exit_code = RESTART_EXIT_CODE
            stop.set()

        def restart_from_any_thread(reason: str) -> None:
            loop.call_soon_threadsafe(on_restart, reason)

        _restart = restart_from_any_thread

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            if signals > 1:
                logger.warning("%s: second signal, exiting now", name)
                os._exit(1)
            logger.info("%s: stopping (draining in-flight work)", name)
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        service = await build()
        await service.start()
        # What start-up made (modules, classes, settings, clients) lives as long as the
        # process: out of the collector's sight, full collections stop walking it.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        logger.info("%s: started", name)
        try:
            await stop.wait()
        finally:
            _restart = None
            await service.stop()
            tracing.shutdown()  # exports what is still buffered
            logger.info("%s: stopped", name)

    if event_loop == "uvloop":
        # As the policy: the service's loop and those libraries make for their own
        # threads (the router's Faust consumer thread) are all uvloop's.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(main())
    if exit_code:
        logger.warning("%s: exiting with %d to be restarted", name, exit_code)
        raise SystemExit(exit_code)
