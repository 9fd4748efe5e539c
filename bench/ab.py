"""Two versions of the code on this machine, in turns: is a change faster, and where?

    python -m bench.ab --base HEAD~1                  # this checkout against its parent
    python -m bench.ab --base 22ce9ac --rounds 4
    python -m bench.ab --base HEAD --set SIGNET_MAX_PENDING=512   # a setting, same code

One e2e run moves by up to 25 % from the next on this machine (docs/benchmarks.md): more than
most single changes. This runs only the peaks of path (b) with one destination and path
(c), for the base (a git worktree of ``--base``) and this checkout in turn, on a fresh
stack each time, the order swapped every round (base, head, head, base, …), and prints the
median throughput of each and the CPU each process spent per delivery: the figure that
moves least with the machine's speed, and says which process a change made cheaper.
``--set`` applies to this checkout's runs only, so ``--base HEAD`` compares a setting.

The base's services run the base's code (the worktree is their working directory and
``PYTHONPATH``); the load generator, the receiver and the stack's supervisor are this
checkout's. Everything goes to loopback; every count is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.e2e import IDLE_SETTLE_SECONDS, parse_setting
from bench.loads import IngestLoad, KafkaLoad
from bench.measure import PeakResult, measure_peak
from bench.report import write_json
from bench.stack import ReceiverProcess, running_stack

REPO = Path(__file__).resolve().parent.parent
PATHS = ("b1", "c")
DRAIN_TIMEOUT_SECONDS = 120.0


@dataclass(slots=True)
class Version:
    name: str  # "base" or "head"
    tree: Path
    settings: dict[str, str]
    peaks: dict[str, list[PeakResult]] = field(default_factory=lambda: {p: [] for p in PATHS})

    def median_rate(self, path: str) -> float:
        return statistics.median(p.per_second for p in self.peaks[path])

    def cpu_per_delivery(self, path: str) -> dict[str, float]:
        """Median over the path's peaks of CPU µs per delivery, by process."""
        per_process: dict[str, list[float]] = {}
        for peak in self.peaks[path]:
            for process, percent in peak.cpu_percent.items():
                per_process.setdefault(process, []).append(percent * 1e4 / peak.per_second)
        return {name: statistics.median(values) for name, values in per_process.items()}


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """A detached git worktree of ``ref``, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="signet-ab-")) / "base"
    git = ["git", "-C", str(REPO)]
    subprocess.run([*git, "worktree", "add", "--detach", str(path), ref], check=True)  # noqa: S603
    try:
        yield path
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False)  # noqa: S603


async def measure(version: Version, receiver: ReceiverProcess, events: int) -> None:
    """One round: a fresh stack running ``version``'s code, the peak of each path."""
    settings = {**version.settings, "PYTHONPATH": str(version.tree)}
    # ``python -m`` puts the working directory first on the path: the services' code.
    with contextlib.chdir(version.tree):
        async with running_stack(settings) as stack:
            workspace = await stack.workspace(receiver, "ab", ["one"])
            pids = {**stack.pids, "receiver": receiver.pid}
            loads: dict[str, Any] = {
                "b1": IngestLoad(
                    stack.info.ingest_url, workspace.publishable_key, batch=250, concurrency=4
                ),
                "c": KafkaLoad(stack.info.bootstrap, workspace.id),
            }
            try:
                await receiver.reset()
                await loads["b1"].ready()
                await loads["c"].peak(10)
                await receiver.wait_for(1 + 10, 60)
                await asyncio.sleep(IDLE_SETTLE_SECONDS)
                for path in PATHS:
                    peak = await measure_peak(
                        receiver,
                        functools.partial(loads[path].peak, events),
                        sent=events,
                        expected=events,
                        timeout=DRAIN_TIMEOUT_SECONDS,
                        pids=pids,
                    )
                    version.peaks[path].append(peak)
            finally:
                for load in loads.values():
                    await load.close()


async def run(base: Version, head: Version, rounds: int, events: int, console: Console) -> None:
    receiver = ReceiverProcess()
    await receiver.start()
    try:
        for index in range(rounds):
            order = (base, head) if index % 2 == 0 else (head, base)
            for version in order:
                with console.status(f"round {index + 1}/{rounds}: {version.name}…"):
                    await measure(version, receiver, events)
                rates = ", ".join(f"{p} {version.peaks[p][-1].per_second:,.0f}/s" for p in PATHS)
                console.print(f"round {index + 1}, {version.name}: {rates}")
    finally:
        await receiver.stop()


def print_result(console: Console, base: Version, head: Version) -> None:
    table = Table(title="peaks: median over rounds (each round in brackets)")
    table.add_column("path")
    for version in (base, head):
        table.add_column(f"{version.name} /s", justify="right")
    table.add_column("head ÷ base", justify="right")
    for path in PATHS:
        cells = [f"{v.median_rate(path):,.0f} ({_rates(v.peaks[path])})" for v in (base, head)]
        ratio = head.median_rate(path) / base.median_rate(path)
        table.add_row(path, *cells, f"{ratio:.3f}")
    console.print(table)

    cpu = Table(title="CPU per delivery, µs (median over the rounds)")
    cpu.add_column("process")
    for path in PATHS:
        for column in (f"{path} base", f"{path} head", "change"):
            cpu.add_column(column, justify="right")
    # Per path: (base, head) µs by process; a process idle in every column is left out.
    by_path = [(base.cpu_per_delivery(p), head.cpu_per_delivery(p)) for p in PATHS]
    names = sorted(by_path[0][0], key=lambda n: -by_path[0][0][n])
    for name in [*names, "all"]:
        pairs = [
            (sum(b.values()), sum(h.values()))
            if name == "all"
            else (b.get(name, 0.0), h.get(name, 0.0))
            for b, h in by_path
        ]
        if max(max(pair) for pair in pairs) >= 1:
            row = [(f"{b:.0f}", f"{h:.0f}", f"{h - b:+.0f}") for b, h in pairs]
            cpu.add_row(name, *(cell for three in row for cell in three))
    console.print(cpu)


def _rates(peaks: list[PeakResult]) -> str:
    return ", ".join(f"{p.per_second:,.0f}" for p in peaks)


def document(base_ref: str, base: Version, head: Version, events: int) -> dict[str, Any]:
    return {
        "benchmark": "ab",
        "base": base_ref,
        "events": events,
        "versions": {
            v.name: {
                "settings": v.settings,
                "per_second": {p: [r.per_second for r in v.peaks[p]] for p in PATHS},
                "median_per_second": {p: v.median_rate(p) for p in PATHS},
                "cpu_us_per_delivery": {p: v.cpu_per_delivery(p) for p in PATHS},
            }
            for v in (base, head)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git ref to compare against")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each runs both)")
    parser.add_argument("--events", type=int, default=12_000, help="events per peak")
    parser.add_argument("--set", action="append", metavar="SIGNET_NAME=value")
    args = parser.parse_args()
    console = Console()
    settings = dict(parse_setting(text) for text in args.set or ())
    with worktree(args.base) as tree:
        base = Version("base", tree, {})
        head = Version("head", REPO, settings)
        asyncio.run(run(base, head, args.rounds, args.events, console))
    print_result(console, base, head)
    path = write_json("ab", document(args.base, base, head, args.events))
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
