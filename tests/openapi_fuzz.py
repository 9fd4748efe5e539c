"""schemathesis (its CLI, ``st run``) against a service's own ``/openapi.json``, as a child
process; the fuzz tests of the ingest and the portal both run it this way."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path


async def schemathesis(
    url: str,
    report: Path,
    *args: str,
    checks: Sequence[str] = ("not_a_server_error",),
    max_examples: int = 30,
    timeout: float = 800,
) -> tuple[int, str]:
    """Run schemathesis on the document at ``{url}/openapi.json``; its exit code (0: no
    check failed) and its output. ``report`` gets its ndjson report and its cache."""
    executable = shutil.which("st", path=str(Path(sys.executable).parent))
    assert executable is not None, "schemathesis is not installed (the dev extra has it)"
    process = await asyncio.create_subprocess_exec(
        executable,
        "run",
        f"{url}/openapi.json",
        "--checks",
        ",".join(checks),
        "--max-examples",
        str(max_examples),
        "--seed",
        "4",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "ndjson",
        "--report-dir",
        str(report),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
        cwd=report,  # its .schemathesis/ cache goes there, not into the checkout
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")
