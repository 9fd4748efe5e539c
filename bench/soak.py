"""Soak: steady traffic for minutes, the broker frozen in the middle; what grows or breaks?

    python -m bench.soak                                    # 10 min, a 20 s freeze (≈ 13 min)
    python -m bench.soak --minutes 2 --freeze-seconds 10    # a short trial (≈ 4 min)
    python -m bench.soak --rate 750                         # skip the peak measurement

The stack as ``bench.e2e`` runs it (the embedded broker, every service its own process)
and the benchmark receiver, which verifies every signature. First path (b)'s peak (HTTP
bulk ingest → one webhook destination), briefly, unless ``--rate`` is given; then 25 % of
it for ``--minutes``, through the HTTP ingest as a careful client sends: every event has
its own idempotency key, and 429, 5xx, timeouts and connection errors are retried with
backoff (``signet_sdk.client``) and, when its attempts run out, again with the same keys, so
a retry never delivers twice. Halfway, the broker is frozen (SIGSTOP) for
``--freeze-seconds`` and thawed (SIGCONT).

Every ``--sample-seconds``: each process's resident memory and open file descriptors
(``/proc``) and each service's ``/readyz``; during and after the freeze ``/readyz`` is
polled more often. At the end it waits for the tail (every accepted event must arrive)
and reports, for a window before the freeze (after the warm-up) and one as long after
recovery, latency p50/p99, deliveries/s, memory and descriptors, plus the events
accepted, delivered, duplicated and missing, the client's retries, and how long after the
thaw deliveries resumed and every service was ready again. The load is
``bench/soak_load.py``, what watches it ``bench/soak_probes.py``, the figures
``bench/soak_figures.py``. Loopback only; every count and duration is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import shutil
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from bench.e2e import IDLE_SETTLE_SECONDS, LATENCY_SHARE, on_stack, parse_setting
from bench.loads import IngestLoad
from bench.measure import as_dict, measure_peak
from bench.report import RESULTS_DIR, busy_note, stamp, write_json
from bench.soak_figures import figures, print_figures
from bench.soak_load import BATCH, INGEST_CONCURRENCY, SoakLoad
from bench.soak_probes import Prober, freeze_broker, wait_for_tail
from bench.stack import BenchStack, ReceiverProcess


@dataclass(slots=True, frozen=True)
class Plan:
    minutes: float
    freeze_seconds: float
    rate: float | None  # None: 25 % of the measured peak
    peak_events: int
    warmup_seconds: float
    sample_seconds: float
    drain_timeout: float
    settings: tuple[tuple[str, str], ...]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        seconds = args.minutes * 60
        if not 0 < args.freeze_seconds < seconds / 2:
            raise SystemExit("--freeze-seconds must be more than 0 and under half the run")
        return cls(
            minutes=args.minutes,
            freeze_seconds=args.freeze_seconds,
            rate=args.rate,
            peak_events=args.peak_events,
            warmup_seconds=args.warmup_seconds or min(30.0, 0.1 * seconds),
            sample_seconds=args.sample_seconds,
            drain_timeout=args.drain_timeout,
            settings=tuple(parse_setting(text) for text in args.set or ()),
        )


async def offered_rate(
    stack: BenchStack, receiver: ReceiverProcess, key: str, plan: Plan, console: Console
) -> tuple[float, dict[str, Any] | None]:
    """``--rate``, or 25 % of path (b)'s peak, measured here (as bench.e2e does, shorter)."""
    if plan.rate is not None:
        return plan.rate, None
    load = IngestLoad(stack.info.ingest_url, key, batch=BATCH, concurrency=INGEST_CONCURRENCY)
    try:
        await receiver.reset()
        await load.ready()
        await receiver.wait_for(1, 60)
        await asyncio.sleep(IDLE_SETTLE_SECONDS)
        with console.status(f"path (b): peak, {plan.peak_events:,} events…"):
            peak = await measure_peak(
                receiver,
                functools.partial(load.peak, plan.peak_events),
                sent=plan.peak_events,
                expected=plan.peak_events,
                timeout=plan.drain_timeout,
                pids={**stack.pids, "receiver": receiver.pid},
            )
    finally:
        await load.close()
    if not peak.per_second > 0:
        raise SystemExit(f"no peak measured ({peak}); give --rate")
    console.print(f"path (b) peak: {peak.per_second:,.0f} deliveries/s")
    return LATENCY_SHARE * peak.per_second, as_dict(peak)


async def soak(
    stack: BenchStack, receiver: ReceiverProcess, plan: Plan, console: Console
) -> dict[str, Any]:
    workspace = await stack.workspace(receiver, "soak", ["soak"])
    rate, peak = await offered_rate(stack, receiver, workspace.publishable_key, plan, console)
    load = SoakLoad(stack.info.ingest_url, workspace.publishable_key)
    prober = Prober(stack, receiver, load)
    try:
        await load.ready()
        await receiver.wait_for(1, 60)
        earlier = await receiver.ids()  # the peak's and the warm-up's, to tell apart later
        await receiver.reset()
        load.answers.clear()  # the soak's traffic only
        seconds = plan.minutes * 60
        began = time.time()
        freeze_at = began + seconds / 2 - plan.freeze_seconds / 2
        with console.status(
            f"{rate:,.0f} events/s for {plan.minutes:g} min; the broker freezes for "
            f"{plan.freeze_seconds:g} s at {seconds / 2 - plan.freeze_seconds / 2:.0f} s…"
        ):
            async with asyncio.TaskGroup() as tasks:
                traffic = tasks.create_task(load.paced(rate, seconds))
                frozen = tasks.create_task(
                    freeze_broker(prober, stack.pids["broker"], freeze_at, plan.freeze_seconds)
                )
                tasks.create_task(prober.sample_until(traffic, plan.sample_seconds))
        with console.status(f"waiting for the tail of {len(load.accepted):,} events…"):
            tail = await wait_for_tail(receiver, load.accepted, earlier, plan.drain_timeout)
        await prober.sample()
        stats = await receiver.stats()
    finally:
        await load.close()
    return {
        "benchmark": "soak",
        "plan": {
            **{name: getattr(plan, name) for name in Plan.__slots__},
            "offered_per_second": round(rate, 1),
            "peak": peak,
        },
        **figures(
            began=began,
            warmup=plan.warmup_seconds,
            traffic_seconds=seconds,
            freeze=frozen.result(),
            samples=prober.samples,
            arrivals=stats["arrivals"],
            latencies_ms=stats["latencies_ms"],
            duplicates=stats["duplicates"],
            emitted=traffic.result(),
            tail=tail,
            load={
                "accepted": len(load.accepted),
                "answers": dict(load.answers),
                "retried_at": load.retried_at,
                "refused": dict(load.refused),
                "given_up": load.given_up,
            },
        ),
    }


async def run(plan: Plan, console: Console) -> dict[str, Any]:
    async def body(stack: BenchStack, receiver: ReceiverProcess) -> dict[str, Any]:
        document = await soak(stack, receiver, plan, console)
        # The services' warnings explain what the figures show; the stack deletes its copy.
        RESULTS_DIR.mkdir(exist_ok=True)
        log = RESULTS_DIR / f"soak-{stamp()}.log"
        shutil.copyfile(stack.state_dir / "services.log", log)
        document["services_log"] = str(log)
        return document

    return await on_stack(dict(plan.settings), console, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the traffic")
    parser.add_argument("--freeze-seconds", type=float, default=20.0, help="broker frozen")
    parser.add_argument("--rate", type=float, help="events/s (default: 25 %% of (b)'s peak)")
    parser.add_argument("--peak-events", type=int, default=6_000, help="events of the peak")
    parser.add_argument("--warmup-seconds", type=float, help="default: 10 %% of the run, ≤ 30")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="between samples")
    parser.add_argument("--drain-timeout", type=float, default=180.0, help="tail, at most")
    parser.add_argument("--set", action="append", metavar="SIGNET_NAME=value")
    parser.add_argument("--label", default="", help="a note stored with the results")
    args = parser.parse_args()
    console = Console()
    document = asyncio.run(run(Plan.from_args(args), console))
    document["label"] = args.label
    print_figures(console, document)
    console.print(busy_note(document["machine"]))
    console.print(f"wrote {write_json('soak', document)} and {document['services_log']}")


if __name__ == "__main__":
    main()
