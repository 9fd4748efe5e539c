"""signet.runner: a service runs on the event loop its settings name, with the collector
tuned once it started, and SIGTERM drains it.

Each case runs a real child process (signals and event loops are per process), sends it
SIGTERM once it says it started, and reads what it printed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

SERVICE = textwrap.dedent(
    """
    import asyncio, gc, sys
    from signet.runner import GC_THRESHOLDS, run_service

    class Service:
        async def start(self):
            loop = asyncio.get_running_loop()
            # A loop a library makes for a thread of its own is of the same kind.
            other = asyncio.new_event_loop()
            same = type(other) is type(loop)
            other.close()
            print("started on", type(loop).__module__, same, flush=True)

        async def stop(self):
            await asyncio.sleep(0.05)  # a drain that awaits still completes
            frozen = gc.get_freeze_count() > 0
            print("stopped", gc.get_threshold() == GC_THRESHOLDS, frozen, flush=True)

    async def build():
        return Service()

    run_service(build, "probe", event_loop=sys.argv[1])
    """
)


@pytest.mark.parametrize(
    ("event_loop", "module"), [("uvloop", "uvloop"), ("asyncio", "asyncio.unix_events")]
)
def test_a_service_runs_on_the_loop_it_was_given_and_stops_gracefully_on_sigterm(
    event_loop: str, module: str
) -> None:
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SERVICE, event_loop],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline().strip()
        child.send_signal(signal.SIGTERM)
        rest, _ = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    assert first == f"started on {module} True"
    # Running, the collector has start-up frozen and its own thresholds.
    assert rest.strip() == "stopped True True"
    assert child.returncode == 0
