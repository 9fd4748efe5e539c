"""End to end against the physical limit, in ONE run on this machine.

    python -m bench.e2e            # full counts (a few minutes)
    python -m bench.e2e --quick    # small counts, to check it works

Paths, each to the same receiver process (``bench/receiver.py``), which verifies every
signature:
  (a)  the limit: a plain aiohttp client POSTing the delivery body straight to the
       receiver at the dispatcher's per-destination concurrency; no Kafka, no signing
  (b1) Signet, HTTP ingest (bulk), one workspace with one webhook destination
  (b2) the same with two destinations (deliveries counted at both)
  (c)  Signet, events written straight to Kafka by ``signet_sdk.producer``
For each: sustained deliveries/s at peak, then emit → receive latency p50/p95/p99 at a
fixed offered rate of 25 % of that path's peak. The limit's peak is run three times
(before, between and after the Signet paths) and the median is the limit. Plus the
single-event latency (one event at a time over HTTP, median of N), and the resident
memory of every process idle and under load. Everything goes to loopback; every count
and duration is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from signet_sdk.client import AsyncEventsClient

from bench.loads import IngestLoad, KafkaLoad, LimitLoad, seed_event
from bench.measure import PeakResult, measure_latency, measure_peak, percentile
from bench.report import (
    PathResult,
    busy_note,
    draw_chart,
    machine,
    path_rows,
    print_memory,
    print_table,
    write_json,
)
from bench.stack import (
    BenchStack,
    MemorySampler,
    OtherWork,
    ReceiverProcess,
    running_stack,
)
from signet.settings import DispatcherSettings

LATENCY_SHARE = 0.25
IDLE_SETTLE_SECONDS = 3.0


@dataclass(slots=True, frozen=True)
class Plan:
    limit_events: int
    events: int
    latency_seconds: float
    single_events: int
    batch: int
    ingest_concurrency: int
    concurrency: int
    drain_timeout: float
    settings: tuple[tuple[str, str], ...]  # extra SIGNET_* variables for the services
    single_only: bool = False  # only the single-event latency

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        quick = args.quick
        return cls(
            limit_events=args.events or (2_000 if quick else 20_000),
            events=args.events or (1_500 if quick else 12_000),
            latency_seconds=args.latency_seconds or (5.0 if quick else 20.0),
            single_events=args.single or (5 if quick else 50),
            batch=250,
            ingest_concurrency=4,
            concurrency=args.concurrency or DispatcherSettings().max_in_flight_per_destination,
            drain_timeout=120.0,
            settings=tuple(parse_setting(text) for text in args.set or ()),
            single_only=args.single_only,
        )


def parse_setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("SIGNET_"):
        raise argparse.ArgumentTypeError(f"expected SIGNET_NAME=value, got {text!r}")
    return name, value


async def single_event_latency(
    stack: BenchStack, receiver: ReceiverProcess, key: str, count: int
) -> dict[str, Any]:
    """One event at a time: emit over HTTP, wait until the receiver has it; median of N."""
    await receiver.reset()
    async with AsyncEventsClient(key, base_url=stack.info.ingest_url) as client:
        for n in range(1, count + 1):
            event = seed_event(time.time_ns())
            await client.emit(**event)
            await receiver.wait_for(n, 30)
    latencies = (await receiver.stats())["latencies_ms"]
    return {
        "events": count,
        "median_ms": round(statistics.median(latencies), 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "min_ms": round(min(latencies), 1),
        "max_ms": round(max(latencies), 1),
    }


async def on_stack(
    settings: dict[str, str],
    console: Console,
    body: Callable[[BenchStack, ReceiverProcess], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """Start the receiver and the stack, run ``body`` on them; the document it returns gets
    the machine and how much of it other processes took meanwhile."""
    before = machine()
    async with contextlib.AsyncExitStack() as exits:
        receiver = ReceiverProcess()
        await receiver.start()
        exits.push_async_callback(receiver.stop)
        with console.status("starting the stack…"):
            stack = await exits.enter_async_context(running_stack(settings))
        others = OtherWork([*stack.pids.values(), receiver.pid, os.getpid()])
        document = await body(stack, receiver)
        document["machine"] = {**before, "others_cpu_percent_during_run": others.percent()}
        return document


async def run(plan: Plan, console: Console) -> dict[str, Any]:
    return await on_stack(
        dict(plan.settings),
        console,
        lambda stack, receiver: _run_on(stack, receiver, plan, console),
    )


async def _run_on(
    stack: BenchStack, receiver: ReceiverProcess, plan: Plan, console: Console
) -> dict[str, Any]:
    one = await stack.workspace(receiver, "bench-one", ["one"])
    two = await stack.workspace(receiver, "bench-two", ["two-a", "two-b"])
    pids = {**stack.pids, "receiver": receiver.pid}
    ingest_one = IngestLoad(
        stack.info.ingest_url,
        one.publishable_key,
        batch=plan.batch,
        concurrency=plan.ingest_concurrency,
    )
    ingest_two = IngestLoad(
        stack.info.ingest_url,
        two.publishable_key,
        batch=plan.batch,
        concurrency=plan.ingest_concurrency,
    )
    kafka = KafkaLoad(stack.info.bootstrap, one.id)
    limit = LimitLoad(receiver.hook("limit"), plan.concurrency)
    try:
        # Warm-up: consumer groups joined, connections open, the ingest knows both keys.
        await receiver.reset()
        await ingest_one.ready()
        await ingest_two.ready()
        await kafka.peak(10)
        await receiver.wait_for(1 + 2 + 10, 60)
        await asyncio.sleep(IDLE_SETTLE_SECONDS)
        sampler = MemorySampler(pids, frozenset(stack_names_of(pids)))
        idle = sampler.snapshot()
        sampler.start()

        results: list[PathResult] = []
        paths: list[tuple[str, str, Any, int]] = [
            ("a", "(a) limit: aiohttp → receiver", limit, 1),
            ("b1", "(b) HTTP bulk, 1 destination", ingest_one, 1),
            ("b2", "(b) HTTP bulk, 2 destinations", ingest_two, 2),
            ("c", "(c) Kafka producer", kafka, 1),
        ]

        async def peak_of(label: str, load: Any, fanout: int, count: int) -> PeakResult:
            with console.status(f"{label}: peak, {count:,} events…"):
                return await measure_peak(
                    receiver,
                    functools.partial(load.peak, count),
                    sent=count,
                    expected=count * fanout,
                    timeout=plan.drain_timeout,
                    pids=pids,
                )

        # The limit is measured three times, before, between and after the Signet paths:
        # one short run of it moves with whatever the machine does in those seconds.
        limit_peaks: list[PeakResult] = []
        for key, label, load, fanout in [] if plan.single_only else paths:
            count = plan.limit_events if key == "a" else plan.events
            peak = await peak_of(label, load, fanout, count)
            if key == "a":
                limit_peaks.append(peak)
            rate = max(1.0, LATENCY_SHARE * peak.per_second / fanout)
            with console.status(f"{label}: {rate:,.0f} events/s for {plan.latency_seconds:g} s…"):
                latency = await measure_latency(
                    receiver,
                    load.paced,
                    rate=rate,
                    duration=plan.latency_seconds,
                    fanout=fanout,
                    drain_timeout=plan.drain_timeout,
                )
            console.print(
                f"{label}: {peak.per_second:,.0f}/s, p99 {latency.p99_ms} ms at {rate:,.0f}/s"
            )
            results.append(PathResult(key, label, peak, latency))
            if key in ("b2", "c"):
                limit_peaks.append(await peak_of(paths[0][1], limit, 1, plan.limit_events))
        if limit_peaks:
            results[0] = median_limit(results[0], limit_peaks)
            console.print(
                "(a) limit, three runs: "
                + ", ".join(f"{p.per_second:,.0f}/s" for p in limit_peaks)
                + f"; the median, {results[0].peak.per_second:,.0f}/s, is the limit"
            )
        await sampler.stop()
        with console.status("single-event latency…"):
            single = await single_event_latency(
                stack, receiver, one.publishable_key, plan.single_events
            )
    finally:
        await ingest_one.close()
        await ingest_two.close()
        await kafka.close()

    stack_names = stack_names_of(pids)
    stack_idle = {name: idle[name] for name in stack_names}
    stack_peak = {name: sampler.peak.get(name, 0.0) for name in stack_names}
    return {
        "benchmark": "e2e",
        "plan": _plan_dict(plan),
        "paths": path_rows(results),
        "single_event_latency": single,
        "memory_mb": {
            "idle": stack_idle,
            "under_load_max": stack_peak,
            "stack_total_idle": round(sum(stack_idle.values()), 1),
            "stack_total_under_load_max": round(sampler.peak_total, 1),
            "receiver_under_load_max": sampler.peak.get("receiver", 0.0),
        },
        "_results": results,
    }


def median_limit(first: PathResult, peaks: list[PeakResult]) -> PathResult:
    """The limit's result with the median of its peak runs (each run kept beside it)."""
    ordered = sorted(peaks, key=lambda p: p.per_second)
    median = ordered[len(ordered) // 2]
    return dataclasses.replace(first, peak=median, runs=tuple(p.per_second for p in peaks))


def stack_names_of(pids: dict[str, int]) -> list[str]:
    """The processes a deployment has. The receiver is the customer's, the embed host the
    SaaS's own page (examples/): neither is part of Signet."""
    return [name for name in pids if name not in ("receiver", "embed-host")]


def _plan_dict(plan: Plan) -> dict[str, Any]:
    return {name: getattr(plan, name) for name in Plan.__slots__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    parser.add_argument("--events", type=int, help="events per peak run")
    parser.add_argument("--latency-seconds", type=float, help="duration of each paced run")
    parser.add_argument("--single", type=int, help="events of the single-event latency")
    parser.add_argument("--concurrency", type=int, help="limit client's concurrency")
    parser.add_argument(
        "--single-only", action="store_true", help="only the single-event latency (quick)"
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="SIGNET_NAME=value",
        help="a setting for every service (repeatable): SIGNET_MAX_QUEUED_PER_DESTINATION=2048",
    )
    parser.add_argument("--label", default="", help="a note stored with the results")
    args = parser.parse_args()
    console = Console()
    plan = Plan.from_args(args)
    document = asyncio.run(run(plan, console))
    results: list[PathResult] = document.pop("_results")
    document["label"] = args.label
    if results:
        print_table(console, results)
    single = document["single_event_latency"]
    console.print(
        f"single event, emit → receive (HTTP, one at a time, n={single['events']}): "
        f"median {single['median_ms']} ms, p90 {single['p90_ms']} ms"
    )
    memory = document["memory_mb"]
    print_memory(
        console, memory["idle"], memory["under_load_max"], memory["stack_total_under_load_max"]
    )
    note = busy_note(document["machine"])
    console.print(note)
    console.print(f"wrote {write_json('e2e', document)}")
    if results:
        console.print(f"wrote {draw_chart(results, f'Signet e2e, {note}')}")


if __name__ == "__main__":
    main()
