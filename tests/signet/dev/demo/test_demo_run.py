"""``signet demo`` end to end, as a user runs it: a child process with its own embedded
stack, every step of the seed scenario, exit code 0."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest


@pytest.mark.timeout(240)
async def test_signet_demo_plays_every_step() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNET_")}
    env["COLUMNS"] = "160"  # rich's width when not on a terminal: keep table rows whole
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signet.cli",
        "demo",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 200)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    shown = output.decode()
    assert process.returncode == 0, shown
    for call in (
        "POST /v1/workspaces  201",
        "POST /v1/sessions  201",
        "EventsClient.emit → POST /v1/events  202",
    ):
        assert call in shown
    assert shown.count("POST /v1/workspace/destinations  201") == 3
    assert "Order service │ hmac-sha256       │ ✓" in shown
    assert "Audit log     │ standard-webhooks │ ✓" in shown
    assert "4/4" in shown  # every attempt at the failing audit log arrived, verified
    assert "│ exhausted │" in shown
    assert "Delivery to Audit log failed for good" in shown  # what the Slack alert shows
