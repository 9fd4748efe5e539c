"""``signet up`` as a user runs it: a real process starting the real broker and services.

One stack for the module (starting it costs seconds on this machine), used in order:
every service answers ready → the printed walk-through, run by bash, delivers a
verified webhook → a SIGKILLed service is restarted and ready again → SIGTERM stops
everything with exit code 0 and no process (service, receiver, broker) left behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator

import orjson
import pytest

from signet.dev.devstack.info import SEED_PAYLOAD
from signet.dev.devstack.state import read_runtime
from tests.eventually import eventually
from tests.signet.dev.devstack.up_process import READY_BANNER, UpProcess, ready, up_env
from tests.signet.dev.devstack.waiting import alive

pytestmark = pytest.mark.timeout(300)

SERVICES = ("ingest", "router", "dispatcher", "portal", "alerter", "receiver", "embed-host")
START_TIMEOUT = 180.0


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UpProcess]:
    up = UpProcess(tmp_path_factory.mktemp("up"), up_env(SIGNET_READY_TIMEOUT_SECONDS="150"))
    began = time.monotonic()
    await up.start()
    try:
        banner = await up.wait_for_line(
            lambda line: READY_BANNER in line, "all ready", START_TIMEOUT
        )
        elapsed = time.monotonic() - began
        reported = re.search(r"all ready in [0-9.]+s", banner)
        print(f"\nsignet up: {reported and reported[0]} ({elapsed:.1f}s from process start)")
        yield up
    finally:
        if up.process is not None and up.process.returncode is None:
            up.kill_everything()
            await up.process.wait()


async def test_every_service_answers_ready(stack: UpProcess) -> None:
    runtime = stack.runtime()
    assert set(runtime["services"]) == set(SERVICES)
    assert runtime["ready"] is True
    for name, service in runtime["services"].items():
        assert service["ready"], name
        assert await ready(service["ready_url"]), name
    assert await ready(f"{runtime['ingest_url']}/readyz")
    key = (stack.state_dir / "operator_key").read_text().strip()
    assert any(key in line for line in stack.lines), "the operator key is printed"
    assert any("NOT FOR PRODUCTION" in line for line in stack.lines)


async def test_the_printed_walkthrough_delivers_a_verified_webhook(stack: UpProcess) -> None:
    script = stack.state_dir / "walkthrough.sh"
    assert script.read_text() in "\n".join(stack.lines) + "\n", "printed as saved"
    bash = await asyncio.create_subprocess_exec(
        "bash",
        "-e",
        str(script),
        cwd=stack.cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(bash.communicate(), 90)
    assert bash.returncode == 0, f"{out.decode()}\n--- signet up ---\n{stack.output()}"
    assert b'"id":"evt_' in out.replace(b" ", b"")

    verified = await stack.wait_for_line(
        lambda line: (
            line.startswith("receiver") and "order.completed" in line and "verified" in line
        ),
        "the delivery at the receiver",
        60,
    )
    assert "✓ signature verified (standard-webhooks)" in verified
    index = stack.lines.index(verified)
    # The receiver prints the body on the next line, which may not be read yet.
    await eventually(lambda: len(stack.lines) > index + 1, "the body line", 10)
    body_line = stack.lines[index + 1]
    delivered = orjson.loads(body_line.split("|", 1)[1].strip())
    assert delivered["type"] == "order.completed"
    assert delivered["data"] == SEED_PAYLOAD


async def test_a_killed_service_is_restarted_and_ready_again(stack: UpProcess) -> None:
    before = stack.runtime()["services"]["ingest"]
    os.kill(before["pid"], signal.SIGKILL)

    def restarted() -> bool:
        ingest = stack.runtime()["services"]["ingest"]
        return bool(ingest["restarts"] == before["restarts"] + 1 and ingest["ready"])

    await eventually(restarted, "ingest restarted and ready", 90)
    after = stack.runtime()["services"]["ingest"]
    assert after["pid"] != before["pid"]
    assert not alive(before["pid"])
    assert await ready(after["ready_url"])
    assert any("ingest exited with signal SIGKILL; restarting in" in line for line in stack.lines)


async def test_sigterm_stops_everything_and_leaves_nothing(stack: UpProcess) -> None:
    stack.runtime()  # every pid the stack ever reported is checked below
    assert stack.process is not None
    stack.process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(stack.process.wait(), 90)
    assert code == 0, stack.output()
    assert stack.lines[-1].endswith("everything stopped")
    left = [pid for pid in stack.seen_pids if alive(pid)]
    assert left == [], f"still running: {left}"
    assert read_runtime(stack.state_dir) is None
