"""Profile the stages of path (b) — HTTP ingest, router, dispatcher — under a steady load.

    python -m bench.profile                      # 15 s at 800 events/s, one destination
    python -m bench.profile --rate 1200 --seconds 20 --set SIGNET_MAX_QUEUED_PER_DESTINATION=2048

Each profiled service runs under pyinstrument (``bench/profiling/sitecustomize.py``,
put on the services' ``PYTHONPATH``) and writes ``profile-<service>.txt`` / ``.html`` to
``bench/results/`` when the stack stops. The CPU share of every process during the load
says which stage is the busiest; the profiles say where its time goes. (py-spy would
need no wrapper, but cannot read the processes on this machine: "Failed to find python
version from target process", even with ptrace allowed.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from rich.console import Console

from bench.e2e import parse_setting
from bench.loads import IngestLoad
from bench.report import RESULTS_DIR
from bench.stack import ReceiverProcess, cpu_seconds, running_stack

PROFILED = ("ingest", "router", "dispatcher", "portal")


async def run(rate: float, seconds: float, settings: dict[str, str], console: Console) -> None:
    env = {
        **settings,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent / "profiling"), os.environ.get("PYTHONPATH", "")]
        ),
        "SIGNET_BENCH_PROFILE": ",".join(PROFILED),
        "SIGNET_BENCH_PROFILE_DIR": str(RESULTS_DIR),
    }
    receiver = ReceiverProcess()
    await receiver.start()
    try:
        async with running_stack(env) as stack:
            workspace = await stack.workspace(receiver, "profile", ["one"])
            load = IngestLoad(
                stack.info.ingest_url, workspace.publishable_key, batch=250, concurrency=4
            )
            try:
                await load.ready()
                await receiver.reset()
                before = {name: cpu_seconds(pid) for name, pid in stack.pids.items()}
                with console.status(f"{rate:g} events/s for {seconds:g} s…"):
                    sent = await load.paced(rate, seconds)
                    got = await receiver.wait_for(sent, 60)
                cpu = {
                    name: 100 * (cpu_seconds(pid) - before[name]) / seconds
                    for name, pid in stack.pids.items()
                }
            finally:
                await load.close()
            console.print(f"sent {sent}, received {got} (verified at the receiver)")
            for name, share in sorted(cpu.items(), key=lambda item: -item[1]):
                console.print(f"  {name:<11} {share:5.1f} % of a core")
            console.print("stopping the stack (the profiles are written on exit)…")
    finally:
        await receiver.stop()
    for name in PROFILED:
        console.print(f"  {RESULTS_DIR / f'profile-{name}.txt'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=800.0, help="events/s offered")
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of the load")
    parser.add_argument("--set", action="append", metavar="SIGNET_NAME=value")
    args = parser.parse_args()
    settings = dict(parse_setting(text) for text in args.set or ())
    asyncio.run(run(args.rate, args.seconds, settings, Console()))


if __name__ == "__main__":
    main()
