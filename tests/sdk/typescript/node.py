"""Running the TypeScript SDK's node and npm commands from tests (sdk/typescript/).

Node 20 and npm are part of the toolchain (``make install`` runs ``npm ci``): a machine
without them fails these tests rather than skipping them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "sdk" / "typescript"


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed: the TypeScript SDK's tests need Node >= 20"
    return path


@dataclass(slots=True, frozen=True)
class Completed:
    returncode: int
    output: str  # stdout and stderr, interleaved

    def check(self, what: str) -> str:
        assert self.returncode == 0, f"{what} exited {self.returncode}:\n{self.output}"
        return self.output


async def run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Completed:
    """Run ``command`` to its end (without blocking the event loop the stack's tests share)."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Completed(process.returncode, stdout.decode(errors="replace"))


def installed() -> Path:
    """The package folder, after ``npm ci`` put its dev tools in node_modules."""
    assert (PACKAGE / "node_modules" / ".bin" / "tsc").exists(), (
        "sdk/typescript/node_modules is missing: run `make install` "
        "(npm ci --prefix sdk/typescript)"
    )
    return PACKAGE


class NodeServer:
    """A long-running node script (a webhook receiver) whose output lines are collected.

    async with NodeServer([node, "receiver.mjs"], cwd, env) as server:
        await eventually(lambda: server.lines_with("verified"), "a verified delivery")
    """

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self._command = command
        self._cwd = cwd
        self._env = {**os.environ, **env}
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.lines: list[str] = []

    def lines_with(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]

    @property
    def exited(self) -> bool:
        return self._process is not None and self._process.returncode is not None

    def describe(self) -> str:
        state = f"exited {self._process.returncode}" if self.exited and self._process else "running"
        return f"{' '.join(self._command[1:])} ({state}) said:\n" + "\n".join(self.lines)

    async def __aenter__(self) -> NodeServer:
        self._process = await asyncio.create_subprocess_exec(
            *self._command,
            cwd=self._cwd,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read(self._process))
        return self

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    async def __aexit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            process.terminate()
        await process.wait()
        if self._reader is not None:
            await self._reader
