"""Keep the dev stack's child processes running, and leave none behind.

Each child runs in its own session (so a Ctrl-C at the terminal reaches only
``signet up``, which stops the children in order) and is SIGKILLed by the kernel if
``signet up`` itself dies (Linux ``PR_SET_PDEATHSIG``). Its output is printed line by
line with its name as prefix, and the last lines are kept to explain a failure. A child
that dies is restarted with exponential backoff; one that crashes ``max_attempts`` times
in a row gives up the whole stack. ``stop`` sends SIGTERM to each process group, waits
up to a deadline, then SIGKILLs the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from signet.backoff import Backoff
from signet.dev.devstack.errors import ServiceFailedError
from signet.dev.devstack.output import StackConsole

logger = logging.getLogger(__name__)

LAST_LINES = 40
READY_POLL_SECONDS = 0.2
READY_REQUEST_SECONDS = 1.0
OUTPUT_DRAIN_SECONDS = 2.0
LINE_LIMIT = 1 << 20
_PR_SET_PDEATHSIG = 1


@dataclass(slots=True, frozen=True)
class ChildSpec:
    """One process to keep running: its command, its whole environment, its readiness URL."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)
    ready_url: str
    # Spawned only once every other child is ready: a client of the stack whose first call
    # changes it (the example host creates its demo workspace) must not race the router's
    # start, or the change times out and a retry makes it twice.
    after_the_others: bool = False


RESTART_BACKOFF = Backoff(initial_seconds=0.5, max_seconds=30.0)


@dataclass(slots=True, frozen=True)
class RestartPolicy:
    """Restart ``n`` of a crash streak waits ``backoff.delay(n)``; ``max_attempts`` crashes
    in a row give up the stack; a streak is forgiven once a child stayed up
    ``stable_seconds``."""

    backoff: Backoff = RESTART_BACKOFF
    max_attempts: int = 8
    stable_seconds: float = 30.0


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn``: own session, and SIGKILL when the calling process dies.

    Call it in the parent, from the thread that spawns (the kernel ties the death signal
    to that thread); libc is resolved here so the child does no dlopen after fork.
    """
    parent = os.getpid()
    prctl = _prctl()

    def preexec() -> None:
        os.setsid()
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the death signal was armed
            os._exit(1)

    return preexec


class _Child:
    """One supervised process and its output; replaced in place on restart."""

    def __init__(self, spec: ChildSpec, console: StackConsole) -> None:
        self.spec = spec
        self.process: asyncio.subprocess.Process | None = None
        self.lines: deque[str] = deque(maxlen=LAST_LINES)
        self.restarts = 0
        self.ready = False
        self._console = console
        self._pump: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> asyncio.subprocess.Process:
        if self.process is None:
            raise RuntimeError(f"{self.name} has not been spawned")
        return self.process

    async def spawn(self) -> None:
        self.ready = False
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                env=dict(self.spec.env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=die_with_parent(),
                limit=LINE_LIMIT,
            )
        except OSError as exc:
            raise ServiceFailedError(self.name, f"cannot start {self.spec.argv[0]}: {exc}") from exc
        if self.process.stdout is not None:
            self._pump = asyncio.create_task(
                self._print_output(self.process.stdout), name=f"{self.name}-output"
            )

    async def _print_output(self, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # one line over LINE_LIMIT: the reader dropped it
                raw = b"[a line longer than 1 MiB was dropped]\n"
            if not raw:
                return
            text = raw.decode(errors="replace").rstrip("\r\n")
            self.lines.append(text)
            self._console.line(self.name, text)

    async def output_done(self) -> None:
        """Wait (bounded) until everything the exited process printed has been shown."""
        pump = self._pump
        if pump is not None:
            await asyncio.wait({pump}, timeout=OUTPUT_DRAIN_SECONDS)
            pump.cancel()

    def signal_group(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


class Supervisor:
    """Start children together, wait until each is ready, keep them alive, stop them all."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        console: StackConsole,
        *,
        restarts: RestartPolicy | None = None,
        ready_timeout: float = 60.0,
        stop_timeout: float = 20.0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"child names must be unique: {names}")
        self._children = [_Child(spec, console) for spec in specs]
        self._restarts = restarts or RestartPolicy()
        self._ready_timeout = ready_timeout
        self._stop_timeout = stop_timeout
        self._on_change = on_change or (lambda: None)
        self._http: aiohttp.ClientSession | None = None
        self._keepers: list[asyncio.Task[None]] = []
        self._failure: asyncio.Future[ServiceFailedError] | None = None
        self._started = False
        self._stopping = False
        self._stop_task: asyncio.Task[None] | None = None

    def pids(self) -> dict[str, int]:
        return {c.name: c.pid for c in self._children if c.pid is not None}

    def restarts(self) -> dict[str, int]:
        return {c.name: c.restarts for c in self._children}

    def ready(self) -> dict[str, bool]:
        return {c.name: c.ready for c in self._children}

    async def start(self) -> None:
        """Spawn every child, then wait for all of them together until each answers ready
        (those marked ``after_the_others`` only once the others are).

        A child that exits or is not ready within the timeout raises ServiceFailedError:
        at start-up that is a bug or a bad setting, and restarting would only hide it.
        """
        if self._started:
            return
        self._started = True
        self._failure = asyncio.get_running_loop().create_future()
        self._http = aiohttp.ClientSession()
        for later in (False, True):
            await self._start_together(
                [c for c in self._children if c.spec.after_the_others is later]
            )
        self._keepers = [
            asyncio.create_task(self._keep_alive(c), name=f"{c.name}-keeper")
            for c in self._children
        ]

    async def _start_together(self, children: list[_Child]) -> None:
        """Spawn ``children``, then wait for all of them together until each is ready."""
        for child in children:
            await child.spawn()
            logger.info("%s started (pid %s)", child.name, child.pid)
            self._on_change()
        waits = [asyncio.create_task(self._wait_ready(c)) for c in children]
        if not waits:
            return
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_EXCEPTION)
        finally:  # also when start itself is cancelled (a signal during start-up)
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        for task in done:
            if (error := task.exception()) is not None:
                raise error

    async def failed(self) -> ServiceFailedError:
        """Resolves when a child crashed too often in a row; the stack should stop."""
        if self._failure is None:
            raise RuntimeError("the supervisor has not started")
        return await asyncio.shield(self._failure)

    async def _wait_ready(self, child: _Child) -> None:
        started = time.monotonic()
        deadline = started + self._ready_timeout
        process = child.running()
        while True:
            if process.returncode is not None:
                await child.output_done()
                raise ServiceFailedError(
                    child.name,
                    f"exited with {describe_exit(process.returncode)} before it was ready",
                    child.lines,
                )
            if await self._answers(child.spec.ready_url):
                child.ready = True
                logger.info("%s ready (%.1fs)", child.name, time.monotonic() - started)
                self._on_change()
                return
            if time.monotonic() >= deadline:
                raise ServiceFailedError(
                    child.name,
                    f"not ready after {self._ready_timeout:.0f}s ({child.spec.ready_url})",
                    child.lines,
                )
            await asyncio.sleep(READY_POLL_SECONDS)

    async def _answers(self, url: str) -> bool:
        if self._http is None:
            return False
        try:
            timeout = aiohttp.ClientTimeout(total=READY_REQUEST_SECONDS)
            async with self._http.get(url, timeout=timeout) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _keep_alive(self, child: _Child) -> None:
        crashes = 0
        up_since = time.monotonic()
        while True:
            code = await child.running().wait()
            child.ready = False
            if self._stopping:
                return
            self._on_change()
            child.signal_group(signal.SIGKILL)  # anything it left in its group
            await child.output_done()
            if time.monotonic() - up_since >= self._restarts.stable_seconds:
                crashes = 0
            crashes += 1
            if crashes > self._restarts.max_attempts:
                self._give_up(
                    child, f"crashed {crashes} times in a row (last: {describe_exit(code)})"
                )
                return
            delay = self._restarts.backoff.delay(crashes)
            logger.warning(
                "%s exited with %s; restarting in %.1fs (attempt %d of %d)",
                child.name,
                describe_exit(code),
                delay,
                crashes,
                self._restarts.max_attempts,
            )
            await asyncio.sleep(delay)
            child.restarts += 1
            try:
                await child.spawn()
            except ServiceFailedError as exc:
                self._give_up(child, exc.reason)
                return
            up_since = time.monotonic()
            logger.info("%s restarted (pid %s)", child.name, child.pid)
            self._on_change()
            try:
                await self._wait_ready(child)
            except ServiceFailedError as exc:
                logger.warning("%s; killing it", exc)
                child.signal_group(signal.SIGKILL)

    def _give_up(self, child: _Child, reason: str) -> None:
        failure = ServiceFailedError(child.name, f"{reason}; giving up", child.lines)
        logger.error("%s", failure)
        if self._failure is not None and not self._failure.done():
            self._failure.set_result(failure)

    async def stop(self) -> None:
        """SIGTERM every child's group, SIGKILL after the deadline; idempotent."""
        if self._stop_task is None:
            self._stop_task = asyncio.create_task(self._stop())
        await asyncio.shield(self._stop_task)

    async def _stop(self) -> None:
        self._stopping = True
        for keeper in self._keepers:
            keeper.cancel()
        await asyncio.gather(*self._keepers, return_exceptions=True)
        await asyncio.gather(*(self._stop_child(c) for c in self._children))
        if self._http is not None:
            await self._http.close()

    async def _stop_child(self, child: _Child) -> None:
        process = child.process
        if process is None:
            return
        if process.returncode is None:
            child.signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), self._stop_timeout)
            except TimeoutError:
                logger.warning(
                    "%s did not stop in %.0fs; killing it", child.name, self._stop_timeout
                )
                child.signal_group(signal.SIGKILL)
                await process.wait()
        child.signal_group(signal.SIGKILL)  # anything it left in its group
        await child.output_done()
        logger.info("%s stopped (%s)", child.name, describe_exit(process.returncode))

    def kill_now(self) -> None:
        """The second Ctrl-C: SIGKILL every group at once, no draining."""
        self._stopping = True
        for child in self._children:
            child.signal_group(signal.SIGKILL)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Pid, readiness and restarts of each child, for ``stack.json``."""
        return {
            c.name: {
                "pid": c.pid,
                "ready": c.ready,
                "restarts": c.restarts,
                "ready_url": c.spec.ready_url,
            }
            for c in self._children
        }
