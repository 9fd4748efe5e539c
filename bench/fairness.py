"""Fairness: does one workspace emitting 20x the others slow the others down?

    python -m bench.fairness            # 4 quiet workspaces at 25 events/s, one noisy at 500/s
    python -m bench.fairness --quick    # shorter phases

Two phases on the same stack, each a fixed offered rate for a bounded time, through the
HTTP ingest: (1) only the quiet workspaces emit; (2) the same, plus one noisy workspace
emitting ``--factor`` times the rate of one quiet workspace. Each workspace has one
webhook destination on the benchmark receiver, which verifies every signature. Reported:
the quiet workspaces' emit → receive latency p50/p95/p99 in both phases, and what the
noisy one got through.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.e2e import parse_setting
from bench.loads import IngestLoad
from bench.measure import percentile
from bench.report import busy_note, machine, write_json
from bench.stack import OtherWork, ReceiverProcess, Workspace, running_stack


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "deliveries": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


async def phase(
    receiver: ReceiverProcess,
    loads: list[tuple[IngestLoad, float]],
    seconds: float,
    quiet_names: list[str],
    noisy_name: str | None,
) -> dict[str, Any]:
    await receiver.reset()
    sent = await asyncio.gather(*(load.paced(rate, seconds) for load, rate in loads))
    await receiver.wait_for(sum(sent), 120)
    stats = await receiver.stats()
    by_name: dict[str, list[float]] = stats["latencies_by_name"]
    quiet = [latency for name in quiet_names for latency in by_name.get(name, [])]
    result: dict[str, Any] = {
        "sent": sum(sent),
        "received": stats["accepted"],
        "verified": stats["verified"],
        "quiet": summary(quiet),
    }
    if noisy_name is not None:
        result["noisy"] = summary(by_name.get(noisy_name, []))
    return result


async def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    before = machine()
    settings = dict(parse_setting(text) for text in args.set or ())
    seconds = args.seconds or (6.0 if args.quick else 20.0)
    async with contextlib.AsyncExitStack() as exits:
        receiver = ReceiverProcess()
        await receiver.start()
        exits.push_async_callback(receiver.stop)
        with console.status("starting the stack…"):
            stack = await exits.enter_async_context(running_stack(settings))
        others = OtherWork([*stack.pids.values(), receiver.pid])
        quiet: list[Workspace] = [
            await stack.workspace(receiver, f"quiet-{n}", [f"quiet-{n}"])
            for n in range(1, args.workspaces + 1)
        ]
        noisy = await stack.workspace(receiver, "noisy", ["noisy"])
        url = stack.info.ingest_url
        quiet_loads = [IngestLoad(url, w.publishable_key, batch=250, concurrency=2) for w in quiet]
        noisy_load = IngestLoad(url, noisy.publishable_key, batch=250, concurrency=2)
        await receiver.reset()
        for load in (*quiet_loads, noisy_load):
            exits.push_async_callback(load.close)
            await load.ready()
        await receiver.wait_for(len(quiet_loads) + 1, 60)  # the ready() events, not counted
        names = [w.hooks[0] for w in quiet]
        noisy_rate = args.quiet_rate * args.factor
        with console.status(f"without the noisy workspace, {seconds:g} s…"):
            alone = await phase(
                receiver, [(load, args.quiet_rate) for load in quiet_loads], seconds, names, None
            )
        with console.status(f"with the noisy workspace at {noisy_rate:g}/s, {seconds:g} s…"):
            shared = await phase(
                receiver,
                [(load, args.quiet_rate) for load in quiet_loads] + [(noisy_load, noisy_rate)],
                seconds,
                names,
                noisy.hooks[0],
            )
        return {
            "benchmark": "fairness",
            "machine": {**before, "others_cpu_percent_during_run": others.percent()},
            "plan": {
                "quiet_workspaces": args.workspaces,
                "quiet_rate_per_workspace": args.quiet_rate,
                "noisy_rate": noisy_rate,
                "seconds_per_phase": seconds,
                "settings": settings,
            },
            "without_noisy": alone,
            "with_noisy": shared,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases (a smoke run)")
    parser.add_argument("--workspaces", type=int, default=4, help="quiet workspaces")
    parser.add_argument("--quiet-rate", type=float, default=25.0, help="events/s of each")
    parser.add_argument("--factor", type=float, default=20.0, help="noisy rate / quiet rate")
    parser.add_argument("--seconds", type=float, help="duration of each phase")
    parser.add_argument("--set", action="append", metavar="SIGNET_NAME=value")
    args = parser.parse_args()
    console = Console()
    document = asyncio.run(run(args, console))
    table = Table(title="Quiet workspaces' emit → receive latency (ms)")
    for column in ("phase", "deliveries", "p50", "p95", "p99"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    plan = document["plan"]
    for label, key in (("alone", "without_noisy"), ("next to the noisy one", "with_noisy")):
        q = document[key]["quiet"]
        table.add_row(
            label, str(q["deliveries"]), *(f"{q[p]:.1f}" for p in ("p50_ms", "p95_ms", "p99_ms"))
        )
    console.print(table)
    noisy = document["with_noisy"]["noisy"]
    console.print(
        f"noisy workspace: {plan['noisy_rate']:g} events/s offered, {noisy['deliveries']} "
        f"delivered, p99 {noisy['p99_ms']} ms; quiet: {plan['quiet_workspaces']} x "
        f"{plan['quiet_rate_per_workspace']:g}/s"
    )
    console.print(busy_note(document["machine"]))
    console.print(f"wrote {write_json('fairness', document)}")


if __name__ == "__main__":
    main()
