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
