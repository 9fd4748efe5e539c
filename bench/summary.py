"""Medians over several e2e runs, the figures docs/benchmarks.md quotes.

    python -m bench.summary --label final          # the runs labelled final-1, final-2, …
    python -m bench.summary bench/results/e2e-20261127-*.json

Each column is the median over the runs; a path's share of the limit is each run's own
(Signet against the limit measured in that run), then the median of those shares. The
goals of issue 7 are checked against the medians.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bench.report import RESULTS_DIR

# Issue 7's goals: share of the limit per path, p99 at 25 % load, whole stack resident.
SHARE_GOALS = {"b1": 35.0, "b2": 35.0, "c": 45.0}
P99_GOAL_MS = 100.0
MEMORY_GOAL_MB = 600.0


def load(paths: list[Path]) -> list[dict[str, Any]]:
    runs = [orjson.loads(path.read_bytes()) for path in paths]
    return [run for run in runs if run.get("benchmark") == "e2e" and run.get("paths")]


def labelled(label: str) -> list[Path]:
    """The e2e results whose label is ``label`` or ``label-<n>``."""
    found = []
    for path in sorted(RESULTS_DIR.glob("e2e-2*.json")):
        run_label = orjson.loads(path.read_bytes()).get("label", "")
        if run_label == label or run_label.startswith(f"{label}-"):
            found.append(path)
    return found


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per path the medians (and each run's value) of throughput, share and latency."""
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        for path in run["paths"]:
            row = rows.setdefault(
                path["key"],
                {"label": path["label"], "per_second": [], "share": [], "p50": [], "p95": []}
                | {"p99": []},
            )
            latency = path["latency_at_25_percent"]
            row["per_second"].append(path["peak"]["per_second"])
            row["share"].append(path["percent_of_limit"])
            for name in ("p50", "p95", "p99"):
                row[name].append(latency[f"{name}_ms"])
    memory = [run["memory_mb"]["stack_total_under_load_max"] for run in runs]
    single = [run["single_event_latency"]["median_ms"] for run in runs]
    return {
        "runs": len(runs),
        "paths": {
            key: {
                "label": row["label"],
                **{name: values for name, values in row.items() if name != "label"},
                **{
                    f"{name}_median": _median(values)
                    for name, values in row.items()
                    if name != "label"
                },
            }
            for key, row in rows.items()
        },
        "memory_mb": memory,
        "memory_mb_median": _median(memory),
        "single_event_ms": single,
        "single_event_ms_median": _median(single),
        "others_cpu_percent": [run["machine"]["others_cpu_percent_during_run"] for run in runs],
    }


def _runs(values: list[float], fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    table = Table(title=f"e2e: medians of {summary['runs']} runs (each run's value in brackets)")
    for column in ("path", "deliveries/s", "of the limit", "p50", "p95", "p99 at 25 %", "goal"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for key, row in summary["paths"].items():
        goals = []
        if key in SHARE_GOALS:
            share_ok = row["share_median"] >= SHARE_GOALS[key]
            goals.append(f"share ≥ {SHARE_GOALS[key]:g} % {'✓' if share_ok else '✗'}")
        if key != "a":
            goals.append(f"p99 {'✓' if row['p99_median'] <= P99_GOAL_MS else '✗'}")
        table.add_row(
            row["label"],
            f"{row['per_second_median']:,.0f} ({_runs(row['per_second'], ',.0f')})",
            f"{row['share_median']:.1f} % ({_runs(row['share'], '.1f')})",
            f"{row['p50_median']:.1f} ms",
            f"{row['p95_median']:.1f} ms",
            f"{row['p99_median']:.1f} ms ({_runs(row['p99'], '.1f')})",
            ", ".join(goals),
        )
    console.print(table)
    memory_ok = summary["memory_mb_median"] <= MEMORY_GOAL_MB
    console.print(
        f"whole stack under load: median {summary['memory_mb_median']:.0f} MiB "
        f"({_runs(summary['memory_mb'], '.0f')}); goal ≤ {MEMORY_GOAL_MB:g} "
        f"{'✓' if memory_ok else '✗'}"
    )
    console.print(
        f"single event: median {summary['single_event_ms_median']:.1f} ms "
        f"({_runs(summary['single_event_ms'], '.1f')}); other processes used "
        f"{_runs(summary['others_cpu_percent'], '.1f')} % of the machine"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="e2e result files")
    parser.add_argument("--label", help="the runs with this label (or label-<n>)")
    args = parser.parse_args()
    files = list(args.files) or (labelled(args.label) if args.label else [])
    runs = load(files)
    if not runs:
        parser.error("no e2e results: name files or a --label")
    print_summary(Console(width=140), summarize(runs))


if __name__ == "__main__":
    main()
