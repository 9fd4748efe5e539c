"""Path (b) with tracing exported to a local OTLP sink and with tracing off, in turns, in
ONE run.

    python -m bench.tracing                  # 5 rounds of 12 000 events each way
    python -m bench.tracing --quick          # small counts, to check it works
    python -m bench.tracing --sample 0.1     # "on" keeps a tenth of the traces

The goal (issue 17): HTTP bulk ingest to one destination keeps at least 90 % of its
throughput when every service exports its spans (``OTEL_EXPORTER_OTLP_ENDPOINT``, the
default sampler: every span of every event is exported). Tracing is set when a service
starts, so each peak has a stack of its own, started with or without the ``OTEL_*``
variables, in the order off, on, on, off, … so a drift of the machine over the run weighs
on both sides alike. The sink (``bench/otlp_sink.py``) is a process of its own on
loopback; its span count shows the spans were exported (and none with tracing off). The
result is the median of each side, their ratio, and the CPU every process spent per
delivery (``bench/rounds.py``, as ``bench.catalog`` reports it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table

from bench.loads import IngestLoad
from bench.measure import PeakResult
from bench.report import busy_note, machine, write_json
from bench.rounds import Comparison, alternating, complete, peak_of, warm_up
from bench.stack import OtherWork, ReceiverProcess, running_stack

OFF, ON = "tracing off", "tracing on (exported)"


class SinkProcess:
    """``python -m bench.otlp_sink``: counts the spans the services export."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.otlp_sink",
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        self.url = f"http://127.0.0.1:{int(line.decode().split()[1])}"

    async def spans(self) -> int:
        async with aiohttp.ClientSession() as http, http.get(self.url + "/count") as response:
            return int((await response.json())["spans"])

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


async def settled_count(sink: SinkProcess, traced: bool) -> int:
    """The sink's span count once the services exported what they buffered (the batch
    processor sends every 5 s): unchanged for 6 s, or at once with tracing off."""
    count = await sink.spans()
    while traced:
        await asyncio.sleep(6)
        count, before = await sink.spans(), count
        if count == before:
            break
    return count


async def one_peak(
    receiver: ReceiverProcess,
    sink: SinkProcess,
    events: int,
    traced: bool,
    sample: float | None = None,
) -> tuple[PeakResult, int, float]:
    """A stack with or without tracing (``sample``: the share of traces kept, by the
    standard ``parentbased_traceidratio`` sampler; None: all): a warm-up, one measured
    peak; the peak, the spans the sink took, how busy the machine was (others, %)."""
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url} if traced else {}
    if traced and sample is not None:
        otel |= {
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": str(sample),
        }
    # The bench's own environment must not turn tracing on for the "off" side.
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        del os.environ[name]
    async with running_stack(otel) as stack:
        workspace = await stack.workspace(receiver, "tracing", ["one"])
        pids = {**stack.pids, "receiver": receiver.pid, "otlp-sink": sink.pid}
        other_work = OtherWork([*pids.values(), os.getpid()])
        load = IngestLoad(
            stack.info.ingest_url, workspace.publishable_key, batch=250, concurrency=4
        )
        try:
            await load.ready()
            await warm_up(receiver, load, events, pids)
            before = await sink.spans()
            peak = await peak_of(receiver, load, events, pids)
            others = other_work.percent()
            spans = await settled_count(sink, traced) - before
            return peak, spans, others
        finally:
            await load.close()


async def run(
    rounds: int, events: int, console: Console, sample: float | None = None
) -> tuple[dict[str, list[PeakResult]], dict[str, list[int]], float]:
    peaks: dict[str, list[PeakResult]] = {OFF: [], ON: []}
    spans: dict[str, list[int]] = {OFF: [], ON: []}
    busy: list[float] = []
    receiver, sink = ReceiverProcess(), SinkProcess()
    await receiver.start()
    await sink.start()
    try:
        for index, side in alternating(rounds, OFF, ON):
            peak, exported, others = await one_peak(receiver, sink, events, side == ON, sample)
            peaks[side].append(complete(side, peak, events))
            spans[side].append(exported)
            busy.append(others)
            console.print(
                f"round {index + 1}, {side}: {peak.per_second:,.0f}/s, {exported:,} spans exported"
            )
    finally:
        await sink.stop()
        await receiver.stop()
    return peaks, spans, sum(busy) / len(busy) if busy else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (each runs both)")
    parser.add_argument("--events", type=int, default=12_000, help="events per peak")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 000 events")
    parser.add_argument(
        "--sample", type=float, default=None, help="share of traces kept (default: all)"
    )
    args = parser.parse_args()
    rounds, events = (1, 2_000) if args.quick else (args.rounds, args.events)
    console = Console()
    peaks, spans, others = asyncio.run(run(rounds, events, console, args.sample))
    where = {**machine(), "others_cpu_percent_during_run": others}
    comparison = Comparison(OFF, ON, peaks)
    cpu = comparison.cpu
    table = Table(title=f"path (b), 1 destination: deliveries/s, median of {rounds}")
    for column in ("", "median /s", "each peak /s", "spans exported", "CPU µs/delivery"):
        table.add_column(column, justify="right")
    for side in (OFF, ON):
        table.add_row(
            side,
            *comparison.rates(side),
            ", ".join(f"{n:,}" for n in spans[side]),
            f"{cpu[side]['all']:.0f}",
        )
    console.print(table)
    if args.sample is not None:
        console.print(f"tracing on keeps {args.sample:g} of the traces")
    comparison.print_ratios(console, "off", "on")
    console.print(busy_note(where))
    figures = comparison.figures()
    document: dict[str, Any] = {
        "benchmark": "tracing",
        "machine": where,
        "rounds": rounds,
        "events": events,
        "sample": args.sample,
        "per_second": figures["per_second"],
        "spans_exported": spans,
        **figures,
    }
    console.print(f"wrote {write_json('tracing', document)}")


if __name__ == "__main__":
    main()
