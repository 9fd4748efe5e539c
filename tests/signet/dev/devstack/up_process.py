"""``signet up`` as a real child process for tests: its output, its pids, its state dir."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from signet.dev.broker import free_port
from signet.dev.devstack.state import read_runtime
from tests.eventually import eventually

PORT_SETTINGS = (
    "broker",
    "ingest",
    "portal",
    "router_web",
    "dispatcher_metrics",
    "alerter_metrics",
    "receiver",
)


def up_env(**extra: str) -> dict[str, str]:
    """The parent's environment without any SIGNET_* of its own, every port free."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNET_")}
    for setting in PORT_SETTINGS:
        env[f"SIGNET_{setting.upper()}_PORT"] = str(free_port())
    env.update(extra)
    return env


READY_BANNER = "Signet is up: all ready in"


class UpProcess:
    """``signet up`` in its own session, its output read line by line as it comes."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.state_dir = cwd / ".signet"
        self._env = env
        self.lines: list[str] = []
        self.seen_pids: set[int] = set()
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self, *args: str) -> None:
        """Run ``signet up`` with ``args`` (``--fresh``)."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "signet.cli",
            "up",
            *args,
            cwd=self.cwd,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self.seen_pids.add(self.process.pid)
        assert self.process.stdout is not None
        self._reader = asyncio.create_task(self._read(self.process.stdout))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while raw := await stream.readline():
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def output(self, last: int = 80) -> str:
        return "\n".join(self.lines[-last:])

    def runtime(self) -> dict[str, Any]:
        runtime = read_runtime(self.state_dir)
        assert runtime is not None, f"no stack.json:\n{self.output()}"
        if runtime["broker"]["pid"]:
            self.seen_pids.add(runtime["broker"]["pid"])
        self.seen_pids.update(s["pid"] for s in runtime["services"].values() if s["pid"])
        return runtime

    async def wait_for_line(self, match: Callable[[str], bool], what: str, timeout: float) -> str:
        found: list[str] = []

        def check() -> bool:
            found.extend(line for line in self.lines if match(line))
            if not found and self.process is not None and self.process.returncode is not None:
                raise AssertionError(f"signet up exited while waiting for {what}:\n{self.output()}")
            return bool(found)

        try:
            await eventually(check, what, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- signet up output ---\n{self.output()}") from None
        return found[0]

    def kill_everything(self) -> None:
        """Only after a failed test: SIGKILL whatever is still there, by pid."""
        for pid in self.seen_pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


async def ready(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False
