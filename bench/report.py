"""Where results go: a table on the terminal, JSON and a PNG chart in ``bench/results/``."""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bench.measure import LatencyResult, PeakResult, as_dict

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass(slots=True, frozen=True)
class PathResult:
    key: str  # a, b1, b2, c
    label: str
    peak: PeakResult
    latency: LatencyResult
    runs: tuple[float, ...] = ()  # the limit: deliveries/s of each of its peak runs


def machine() -> dict[str, Any]:
    """What the numbers are measured on, and how busy it is before we start."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_before_run": [round(x, 2) for x in os.getloadavg()],
    }


# Other work using more than this share of the machine during a run marks it busy.
BUSY_PERCENT = 10.0


def busy_note(machine: dict[str, Any]) -> str:
    """One line saying how much of the machine other work took while we measured."""
    others = machine.get("others_cpu_percent_during_run", 0.0)
    cores = machine.get("cpus") or 1
    note = f"{cores} cores; other processes used {others:.0f} % of the machine during the run"
    if others > BUSY_PERCENT:
        note += " — MACHINE BUSY: figures are lower than on an idle machine"
    return note


def stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime())


def write_json(name: str, document: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}-{stamp()}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    (RESULTS_DIR / f"{name}-latest.json").write_bytes(path.read_bytes())
    return path


def path_rows(results: Sequence[PathResult]) -> list[dict[str, Any]]:
    if not results:
        return []
    limit = next(r for r in results if r.key == "a").peak.per_second
    return [
        {
            "key": r.key,
            "label": r.label,
            "peak": as_dict(r.peak),
            "percent_of_limit": round(100 * r.peak.per_second / limit, 1) if limit else None,
            "latency_at_25_percent": as_dict(r.latency),
            **({"peak_runs_per_second": list(r.runs)} if r.runs else {}),
        }
        for r in results
    ]


def print_table(console: Console, results: Sequence[PathResult]) -> None:
    table = Table(title="End to end: deliveries received and verified at the receiver")
    table.add_column("path")
    for column in ("deliv./s", "of limit", "at /s", "p50 ms", "p95 ms", "p99 ms", "verified"):
        table.add_column(column, justify="right")
    for row, result in zip(path_rows(results), results, strict=True):
        peak, latency = result.peak, result.latency
        table.add_row(
            result.label,
            f"{peak.per_second:,.0f}",
            f"{row['percent_of_limit']:.0f} %",
            f"{latency.offered_per_second:,.0f}",
            f"{latency.p50_ms:.1f}",
            f"{latency.p95_ms:.1f}",
            f"{latency.p99_ms:.1f}",
            f"{peak.verified}/{peak.received}" if result.key != "a" else "n/a",
        )
    console.print(table)


def print_memory(
    console: Console, idle: dict[str, float], peak: dict[str, float], total: float
) -> None:
    table = Table(title="Resident memory (MiB, from /proc)")
    for column in ("process", "idle", "under load (max)"):
        table.add_column(column, justify="left" if column == "process" else "right")
    for name in idle:
        table.add_row(name, f"{idle[name]:.0f}", f"{peak.get(name, 0):.0f}")
    table.add_row("[bold]whole stack[/]", f"{sum(idle.values()):.0f}", f"{total:.0f}")
    console.print(table)


def draw_chart(results: Sequence[PathResult], title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (bars, cdf) = plt.subplots(1, 2, figsize=(13, 5))
    labels = [r.label for r in results]
    rates = [r.peak.per_second for r in results]
    colours = ["#888888", "#1f77b4", "#2ca02c", "#d62728"][: len(results)]
    drawn = bars.bar(range(len(results)), rates, color=colours)
    limit = rates[0]
    for rect, rate in zip(drawn, rates, strict=True):
        share = f"{100 * rate / limit:.0f} %" if limit else ""
        bars.annotate(
            f"{rate:,.0f}/s\n{share}",
            (rect.get_x() + rect.get_width() / 2, rect.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    wrapped = [label.replace(": ", ":\n").replace(", ", ",\n") for label in labels]
    bars.set_xticks(range(len(results)), wrapped, fontsize=8)
    bars.set_ylabel("deliveries/s received and verified")
    bars.set_title("Sustained throughput (share of the limit)")
    bars.set_ylim(0, max(rates) * 1.25 if rates and not math.isnan(max(rates)) else 1)
    for result, colour in zip(results, colours, strict=True):
        latencies = sorted(result.latency.latencies_ms)
        if not latencies:
            continue
        fractions = [(i + 1) / len(latencies) for i in range(len(latencies))]
        cdf.plot(latencies, fractions, label=result.label, color=colour)
    cdf.set_xscale("log")
    cdf.set_xlabel("emit → receive latency, ms (log)")
    cdf.set_ylabel("fraction of deliveries")
    cdf.set_title("Latency CDF at 25 % of each path's peak")
    cdf.axhline(0.99, color="#bbbbbb", linestyle=":", linewidth=1)
    cdf.legend(fontsize=8, loc="lower right")
    cdf.grid(True, which="both", alpha=0.3)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"e2e-{stamp()}.png"
    figure.savefig(path, dpi=110)
    figure.savefig(RESULTS_DIR / "e2e-latest.png", dpi=110)
    plt.close(figure)
    return path
