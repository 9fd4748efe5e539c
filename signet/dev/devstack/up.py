"""``signet up`` in the foreground: start the stack, print the banner, stop on a signal.

The first SIGINT/SIGTERM stops everything in order (services drain, then the broker)
and exits 0; a second one SIGKILLs every child and the broker and exits at once. A
service that cannot start, or that keeps crashing, stops the stack with exit code 1 and
its last log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from signet.dev.devstack.banner import print_banner
from signet.dev.devstack.errors import ServiceFailedError
from signet.dev.devstack.output import StackConsole
from signet.dev.devstack.stack import DevStack
from signet.errors import SignetError
from signet.settings import DevStackSettings

logger = logging.getLogger(__name__)

EXIT_KILLED = 130


def describe_failure(error: SignetError) -> str:
    return error.explain() if isinstance(error, ServiceFailedError) else str(error)


async def run_stack(
    settings: DevStackSettings, console: StackConsole, *, fresh: bool = False
) -> int:
    stack = DevStack(settings, console, fresh=fresh)
    stop = asyncio.Event()
    signals = 0

    def on_signal(sig: signal.Signals) -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            logger.warning("%s again: killing everything now", sig.name)
            stack.kill_now()
            os._exit(EXIT_KILLED)
        logger.info("%s: stopping everything (press Ctrl-C again to kill at once)", sig.name)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    stopping = asyncio.create_task(stop.wait())
    starting = asyncio.create_task(stack.start())
    code = 0
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # a signal during start-up
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, SignetError):
                await starting
            return 0
        info = starting.result()
        print_banner(console, info)
        failing = asyncio.create_task(stack.failed())
        await asyncio.wait({failing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if failing.done():
            logger.error("%s; stopping the stack", describe_failure(failing.result()))
            code = 1
        failing.cancel()
    except SignetError as exc:
        logger.error("%s", describe_failure(exc))
        code = 1
    finally:
        stopping.cancel()
        await stack.stop()
        logger.info("everything stopped")
    return code


def run_up(settings: DevStackSettings, *, fresh: bool = False) -> int:
    """``fresh``: start without the previous run's setup (embedded broker only)."""
    console = StackConsole()
    root = logging.getLogger()
    root.handlers[:] = [console.handler()]
    root.setLevel(logging.INFO)
    return asyncio.run(run_stack(settings, console, fresh=fresh))
