"""``signet up`` and signals: a stop during start-up, and a second Ctrl-C that kills at once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from signet.dev.devstack.up import EXIT_KILLED
from tests.eventually import eventually
from tests.signet.dev.devstack.up_process import READY_BANNER, UpProcess, up_env
from tests.signet.dev.devstack.waiting import alive

pytestmark = pytest.mark.timeout(240)


async def test_sigterm_during_startup_stops_cleanly(tmp_path: Path) -> None:
    up = UpProcess(tmp_path, up_env())
    await up.start()
    try:
        await up.wait_for_line(lambda line: "receiver started (pid" in line, "all spawned", 120)
        up.runtime()  # every pid spawned, none ready yet (the router takes seconds)
        assert up.process is not None
        up.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(up.process.wait(), 90)
    finally:
        up.kill_everything()
    assert code == 0, up.output()
    assert not any(READY_BANNER in line for line in up.lines)
    assert [pid for pid in up.seen_pids if alive(pid)] == []


async def test_a_second_ctrl_c_kills_everything_at_once(tmp_path: Path) -> None:
    # A long stop deadline: only the second signal can make this stop quickly.
    up = UpProcess(tmp_path, up_env(SIGNET_STOP_TIMEOUT_SECONDS="120"))
    await up.start()
    try:
        await up.wait_for_line(lambda line: READY_BANNER in line, "all ready", 180)
        up.runtime()
        assert up.process is not None
        up.process.send_signal(signal.SIGINT)
        await up.wait_for_line(lambda line: "stopping everything" in line, "first Ctrl-C", 10)
        up.process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(up.process.wait(), 10)
    finally:
        up.kill_everything()
    assert code == EXIT_KILLED, up.output()
    assert any("SIGINT again: killing everything now" in line for line in up.lines)
    # SIGKILLed, so reaped by whoever inherits them: give that a moment, bounded.
    await eventually(
        lambda: not any(alive(pid) for pid in up.seen_pids), "every pid gone", timeout=10
    )
