"""What every benchmark stands on: the dev stack, the benchmark receiver, workspaces, and
the resident memory and CPU time of each process.

The stack is :class:`signet.dev.devstack.DevStack` (the broker and every service as child
processes, as ``signet up`` runs them) on free loopback ports, from a throw-away state
directory, with the services' output in ``services.log`` there. The receiver is its own
process (``bench/receiver.py``) so it does not share an event loop with the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import orjson
from rich.console import Console

from signet.dev.devstack import DevStack, StackInfo
from signet.dev.devstack.output import StackConsole
from signet.dev.devstack.state import read_runtime
from signet.settings import DevStackSettings

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- processes: memory and CPU from /proc ------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (``/proc/<pid>/statm``), 0 if it is gone."""
    try:
        resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return resident_pages * PAGE_SIZE / 2**20


def open_fds(pid: int) -> int:
    """How many file descriptors ``pid`` holds open (``/proc/<pid>/fd``), 0 if it is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` used so far (``/proc/<pid>/stat``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds every core spent busy since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


class OtherWork:
    """How much of the machine processes other than ``ours`` used from now on."""

    def __init__(self, ours: list[int]) -> None:
        self._ours = ours
        self._began = time.monotonic()
        self._busy = machine_busy_seconds()
        self._mine = sum(cpu_seconds(pid) for pid in ours)

    def percent(self) -> float:
        wall = time.monotonic() - self._began
        busy = machine_busy_seconds() - self._busy
        mine = sum(cpu_seconds(pid) for pid in self._ours) - self._mine
        cores = os.cpu_count() or 1
        return round(max(0.0, 100 * (busy - mine) / (wall * cores)), 1)


@dataclass(slots=True)
class MemorySampler:
    """Samples each process's RSS every ``interval`` seconds while running.

    ``peak_total`` is the largest simultaneous sum over the ``totalled`` processes (the
    stack), ``peak`` each process's own maximum.
    """

    pids: dict[str, int]
    totalled: frozenset[str]
    interval: float = 0.5
    peak: dict[str, float] = field(default_factory=dict)
    peak_total: float = 0.0
    _task: asyncio.Task[None] | None = None

    def snapshot(self) -> dict[str, float]:
        return {name: round(rss_mb(pid), 1) for name, pid in self.pids.items()}

    async def _run(self) -> None:
        while True:
            sample = self.snapshot()
            for name, mb in sample.items():
                self.peak[name] = max(self.peak.get(name, 0.0), mb)
            total = sum(mb for name, mb in sample.items() if name in self.totalled)
            self.peak_total = max(self.peak_total, total)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# -- the receiver process -----------------------------------------------------------------


class ReceiverProcess:
    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""
        self._http: aiohttp.ClientSession | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def hook(self, name: str) -> str:
        return f"{self.url}/hook/{name}"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.receiver",
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        port = int(line.decode().split()[1])
        self.url = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        assert self._http is not None
        async with self._http.request(method, self.url + path, json=body) as response:
            return orjson.loads(await response.read())

    async def keys(self, secrets: dict[str, str]) -> None:
        await self._json("POST", "/keys", secrets)

    async def reset(self) -> None:
        await self._json("POST", "/reset")

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", "/stats")
        return result

    async def counts(self) -> dict[str, int]:
        """accepted, verified, rejected, distinct (event ids) and duplicates, since the reset."""
        result: dict[str, int] = await self._json("GET", "/counts")
        return result

    async def ids(self) -> set[str]:
        """The distinct event ids received since the reset."""
        return set(await self._json("GET", "/ids"))

    async def wait_for(self, count: int, timeout: float) -> int:
        """Until ``count`` requests were accepted since the reset; returns how many were."""
        answer = await self._json("GET", f"/wait?count={count}&timeout={timeout}")
        return int(answer["accepted"])


# -- the stack and its workspaces ---------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Workspace:
    id: str
    publishable_key: str
    hooks: tuple[str, ...]  # receiver hook names, one per destination


@dataclass(slots=True, frozen=True)
class StackProcess:
    pid: int
    ready_url: str | None  # None: the broker
    restarts: int


def stack_processes(state_dir: Path) -> dict[str, StackProcess]:
    """The stack's processes now (``stack.json``): each service and the broker. Read it
    again to follow a service the supervisor restarted (a new pid)."""
    runtime = read_runtime(state_dir) or {}
    processes = {
        name: StackProcess(s["pid"], s.get("ready_url"), s.get("restarts", 0))
        for name, s in runtime.get("services", {}).items()
        if s["pid"]
    }
    if runtime.get("broker", {}).get("pid"):
        processes["broker"] = StackProcess(runtime["broker"]["pid"], None, 0)
    return processes


@dataclass(slots=True)
class BenchStack:
    info: StackInfo
    pids: dict[str, int]  # service name → pid, and "broker"
    state_dir: Path
    http: aiohttp.ClientSession

    async def workspace(self, receiver: ReceiverProcess, name: str, hooks: list[str]) -> Workspace:
        """A production workspace with one standard-webhooks destination per hook name."""
        workspace = await self._call(
            "POST",
            "/v1/workspaces",
            self.info.operator_key,
            {"name": name, "environment": "production"},
        )
        session = await self._call(
            "POST",
            "/v1/sessions",
            self.info.operator_key,
            {"workspace_id": workspace["id"], "role": "admin", "ttl_seconds": 3600},
        )
        secrets = {}
        for hook in hooks:
            destination = await self._call(
                "POST",
                "/v1/workspace/destinations",
                session["token"],
                {
                    "type": "webhook",
                    "name": hook,
                    "url": receiver.hook(hook),
                    "event_types": ["*"],
                    "signature_scheme": "standard-webhooks",
                },
            )
            secrets[hook] = destination["secret"]
        await receiver.keys(secrets)
        return Workspace(workspace["id"], workspace["publishable_key"], tuple(hooks))

    async def _call(self, method: str, path: str, bearer: str, body: Any) -> Any:
        async with self.http.request(
            method,
            self.info.portal_url + path,
            json=body,
            headers={"Authorization": f"Bearer {bearer}"},
        ) as response:
            answer = orjson.loads(await response.read())
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {answer}")
            return answer


def bench_settings(state_dir: Path) -> DevStackSettings:
    """The dev stack on free ports, logging warnings only (as a production deployment
    would: a line per request costs throughput), no walk-through receiver."""
    return DevStackSettings(
        state_dir=state_dir,
        ingest_port=0,
        portal_port=0,
        broker_port=0,
        router_web_port=0,
        dispatcher_metrics_port=0,
        alerter_metrics_port=0,
        receiver=False,
        log_level="WARNING",
    )


@contextlib.asynccontextmanager
async def running_stack(settings: dict[str, str] | None = None) -> AsyncIterator[BenchStack]:
    """The stack; ``settings`` are extra ``SIGNET_*`` variables for every service."""
    state_dir = Path(tempfile.mkdtemp(prefix="signet-bench-"))
    log_file: TextIO = (state_dir / "services.log").open("w")
    console = StackConsole(Console(file=log_file, width=200, color_system=None))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [console.handler()]
    root.setLevel(logging.INFO)
    env = {**os.environ, **(settings or {})}
    stack = DevStack(bench_settings(state_dir), console, base_env=env)
    try:
        info = await stack.start()
        pids = {name: process.pid for name, process in stack_processes(state_dir).items()}
        async with aiohttp.ClientSession() as http:
            yield BenchStack(info, pids, state_dir, http)
    finally:
        await stack.stop()
        root.handlers[:], root.level = saved
        log_file.close()
        shutil.rmtree(state_dir, ignore_errors=True)
