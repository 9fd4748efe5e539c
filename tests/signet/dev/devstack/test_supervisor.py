"""The supervisor with real child processes: readiness, restart with backoff, clean stop.

The supervised service is ``signet listen`` (a real aiohttp server with ``/readyz``);
the stubborn child is a real Python process that ignores SIGTERM and has a child of its
own, to prove the group is killed after the deadline and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import signal
import sys
from functools import partial

import aiohttp
import pytest
from rich.console import Console

from signet.backoff import Backoff
from signet.dev.broker import free_port
from signet.dev.devstack.errors import ServiceFailedError
from signet.dev.devstack.output import StackConsole
from signet.dev.devstack.supervisor import ChildSpec, RestartPolicy, Supervisor, describe_exit
from tests.eventually import eventually
from tests.signet.dev.devstack.waiting import alive

FAST = RestartPolicy(
    Backoff(initial_seconds=0.05, max_seconds=0.2), max_attempts=3, stable_seconds=60
)

# A child answering 200 on every GET of its port (argv[1]), with what comes before it.
READY_SERVER = """
import http.server, sys

class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ready).serve_forever()
"""

STUBBORN = (
    """
import signal, subprocess, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
print("grandchild", grandchild.pid, flush=True)
"""
    + READY_SERVER
)


def listener(name: str) -> ChildSpec:
    port = free_port()
    return ChildSpec(
        name=name,
        argv=(sys.executable, "-m", "signet.cli", "listen", "--port", str(port)),
        env=dict(os.environ),
        ready_url=f"http://127.0.0.1:{port}/readyz",
    )


def python(name: str, code: str, *args: str, port: int | None = None) -> ChildSpec:
    return ChildSpec(
        name=name,
        argv=(sys.executable, "-c", code, *args),
        env=dict(os.environ),
        ready_url=f"http://127.0.0.1:{port or free_port()}/readyz",
    )


def console() -> tuple[StackConsole, io.StringIO]:
    out = io.StringIO()
    return StackConsole(Console(file=out, width=200, color_system=None)), out


async def ready(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, timeout=aiohttp.ClientTimeout(total=1)) as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


def test_restarts_wait_doubling_from_half_a_second_up_to_thirty() -> None:
    backoff = RestartPolicy().backoff
    delays = [backoff.delay(n) for n in range(1, 9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_exit_descriptions() -> None:
    assert describe_exit(-9) == "signal SIGKILL"
    assert describe_exit(3) == "code 3"
    assert describe_exit(None) == "still running"


async def test_children_start_ready_restart_after_a_crash_and_stop_clean(
    caplog: pytest.LogCaptureFixture,
) -> None:
    out_console, out = console()
    specs = [listener("alpha"), listener("beta")]
    supervisor = Supervisor(specs, out_console, restarts=FAST, ready_timeout=30)
    try:
        await supervisor.start()
        first = supervisor.pids()
        assert set(first) == {"alpha", "beta"}
        assert all([await ready(spec.ready_url) for spec in specs])

        os.kill(first["alpha"], signal.SIGKILL)
        await eventually(lambda: supervisor.restarts()["alpha"] == 1, "alpha restarted")
        await eventually(lambda: supervisor.ready()["alpha"], "alpha ready again")
        assert await ready(specs[0].ready_url)
        assert supervisor.pids()["alpha"] != first["alpha"]
        assert supervisor.pids()["beta"] == first["beta"]
        assert not alive(first["alpha"])
    finally:
        await supervisor.stop()
    every_pid = {*first.values(), *supervisor.pids().values()}
    assert not any(alive(pid) for pid in every_pid)
    assert "alpha      | listening on http://127.0.0.1:" in out.getvalue()
    assert "alpha exited with signal SIGKILL; restarting in 0.1s (attempt 1 of 3)" in caplog.text
    await supervisor.stop()  # idempotent


SLOW_READY = "import time\ntime.sleep(1.0)\n" + READY_SERVER


async def test_a_child_marked_after_the_others_is_spawned_once_they_are_ready(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="signet.dev.devstack.supervisor")
    port = free_port()
    slow = python("slow", SLOW_READY, str(port), port=port)
    late = dataclasses.replace(listener("late"), after_the_others=True)
    supervisor = Supervisor([late, slow], console()[0], restarts=FAST, ready_timeout=30)
    try:
        await supervisor.start()
        assert supervisor.ready() == {"late": True, "slow": True}
    finally:
        await supervisor.stop()
    order = [
        r.getMessage().split(" (")[0]
        for r in caplog.records
        if r.getMessage().startswith(("slow ", "late ")) and " (" in r.getMessage()
    ]
    assert order[:4] == ["slow started", "slow ready", "late started", "late ready"], order


async def test_a_child_that_exits_before_ready_fails_start_with_its_last_lines() -> None:
    out_console, _ = console()
    broken = python("broken", "import sys; print('config is wrong: no key'); sys.exit(3)")
    healthy = listener("healthy")
    supervisor = Supervisor([healthy, broken], out_console, ready_timeout=30)
    try:
        with pytest.raises(ServiceFailedError) as failure:
            await supervisor.start()
        healthy_pid = supervisor.pids()["healthy"]
    finally:
        await supervisor.stop()
    assert failure.value.service == "broken"
    assert "exited with code 3 before it was ready" in str(failure.value)
    assert "config is wrong: no key" in failure.value.explain()
    assert not alive(healthy_pid)


async def test_a_child_that_never_gets_ready_times_out() -> None:
    out_console, _ = console()
    sleeper = python("sleeper", "import time; print('starting', flush=True); time.sleep(300)")
    supervisor = Supervisor([sleeper], out_console, ready_timeout=1.0)
    try:
        with pytest.raises(ServiceFailedError, match=r"sleeper: not ready after 1s"):
            await supervisor.start()
        pid = supervisor.pids()["sleeper"]
    finally:
        await supervisor.stop()
    assert not alive(pid)


async def test_a_crash_loop_gives_up_after_max_attempts() -> None:
    out_console, _ = console()
    spec = listener("flaky")
    supervisor = Supervisor([spec], out_console, restarts=FAST, ready_timeout=30)
    try:
        await supervisor.start()
        failed = asyncio.create_task(supervisor.failed())
        for attempt in range(FAST.max_attempts + 1):
            pid = supervisor.pids()["flaky"]
            os.kill(pid, signal.SIGKILL)
            if attempt < FAST.max_attempts:
                await eventually(
                    partial(restarted_and_ready, supervisor, "flaky", attempt + 1),
                    f"restart {attempt + 1} ready",
                )
        failure = await asyncio.wait_for(failed, 10)
    finally:
        await supervisor.stop()
    assert failure.service == "flaky"
    assert "crashed 4 times in a row" in str(failure)
    assert supervisor.restarts()["flaky"] == FAST.max_attempts


async def test_stop_kills_a_child_that_ignores_sigterm_and_its_whole_group(
    caplog: pytest.LogCaptureFixture,
) -> None:
    out_console, out = console()
    port = free_port()
    stubborn = python("stubborn", STUBBORN, str(port), port=port)
    supervisor = Supervisor([stubborn], out_console, ready_timeout=30, stop_timeout=1.0)
    try:
        await supervisor.start()
        await eventually(lambda: "grandchild" in out.getvalue(), "the grandchild's pid")
        pid = supervisor.pids()["stubborn"]
        grandchild = int(out.getvalue().split("grandchild ")[1].split()[0])
        assert alive(grandchild)
    finally:
        await supervisor.stop()
    assert "stubborn did not stop in 1s; killing it" in caplog.text
    assert not alive(pid)
    await eventually(lambda: not alive(grandchild), "the grandchild killed with its group", 5)


async def test_a_command_that_cannot_be_run_is_a_clear_failure() -> None:
    out_console, _ = console()
    missing = ChildSpec("ghost", ("/nonexistent/ghost",), dict(os.environ), "http://x/readyz")
    supervisor = Supervisor([missing], out_console)
    try:
        with pytest.raises(ServiceFailedError, match="ghost: cannot start /nonexistent/ghost"):
            await supervisor.start()
    finally:
        await supervisor.stop()


def test_names_must_be_unique() -> None:
    out_console, _ = console()
    spec = listener("same")
    with pytest.raises(ValueError, match="unique"):
        Supervisor([spec, spec], out_console)


def restarted_and_ready(supervisor: Supervisor, name: str, restarts: int) -> bool:
    return supervisor.restarts()[name] == restarts and supervisor.ready()[name]
