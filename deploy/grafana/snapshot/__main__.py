"""Pictures of Signet's Grafana dashboards from real data, without Grafana.

    python -m deploy.grafana.snapshot                     # run the stack, load it, draw
    python -m deploy.grafana.snapshot --results r.json    # ... and keep the query answers
    python -m deploy.grafana.snapshot --from-results r.json   # draw again, run nothing

Starts the dev stack on loopback, Debian's Prometheus scraping every service, emits a
bounded load (see :class:`LoadPlan`), asks Prometheus every panel's query over that time,
stops everything and writes ``docs/images/dashboard-<uid>.png`` per committed dashboard.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.stack import running_stack
from deploy.grafana.build import DASHBOARD_DIR
from deploy.grafana.snapshot.dashboard import Dashboard, PanelKind, read_dashboard
from deploy.grafana.snapshot.draw import DashboardPicture
from deploy.grafana.snapshot.queries import QueryResults, Window
from deploy.grafana.snapshot.scenario import (
    LoadPlan,
    LoopbackReceiver,
    create_workspace,
    run_load,
    scrape_configs,
    wait_until,
)
from tests.deploy.prometheus_server import INSTALL_HINT, PrometheusServer

IMAGE_DIR = Path(__file__).resolve().parents[3] / "docs" / "images"
SCRAPE_SECONDS = 2.0
STEP_SECONDS = 2.0
BEFORE_SECONDS = 15.0  # quiet time shown before the load starts
# The window ends with the load (and one more scrape), so a stat panel's last value, what
# Grafana shows as "now", is the stack under load rather than idle after it.
AFTER_SECONDS = SCRAPE_SECONDS
TARGETS_TIMEOUT_SECONDS = 60.0


def footer(results: QueryResults) -> str:
    day = datetime.fromtimestamp(results.window.start, UTC).date().isoformat()
    return (
        f"Rendered from Prometheus query results of a local Signet stack under load, {day}; "
        f"not a Grafana screenshot.\nLoad: {results.scenario}."
    )


async def record(plan: LoadPlan, boards: Sequence[Dashboard], workdir: Path) -> QueryResults:
    """Run the stack under ``plan`` with Prometheus watching; every panel's answers."""
    receiver = LoopbackReceiver()
    await receiver.start()
    try:
        async with running_stack() as stack:
            configs = scrape_configs(stack)
            with PrometheusServer(
                configs, workdir, scrape_interval=f"{SCRAPE_SECONDS:g}s"
            ) as prometheus:

                def all_up() -> bool:
                    targets = prometheus.targets()
                    return len(targets) == len(configs) and all(
                        t["health"] == "up" for t in targets
                    )

                await wait_until(all_up, TARGETS_TIMEOUT_SECONDS, "Prometheus targets not up")
                key = await create_workspace(stack, receiver, plan)
                start = time.time()
                await asyncio.sleep(BEFORE_SECONDS)
                print(f"load: {plan.describe()}", flush=True)
                emitted = await run_load(stack, key, plan)
                await asyncio.sleep(AFTER_SECONDS)
                end = time.time()
                print(f"emitted {emitted} events; the receiver got {dict(receiver.received)}")
                window = Window(start, end, STEP_SECONDS, SCRAPE_SECONDS)
                return await asyncio.to_thread(
                    QueryResults.fetch, prometheus.url, window, boards, plan.describe()
                )
    finally:
        await receiver.stop()


def report(board: Dashboard, results: QueryResults) -> list[str]:
    """Lines naming each query that returned no series (an empty panel or legend entry)."""
    empty = []
    for panel in board.panels:
        if panel.kind is PanelKind.ROW:
            continue
        for target in panel.targets:
            if not results.series(target):
                empty.append(f"  {board.uid} / {panel.title}: no data for {target.expr}")
    return empty


def draw_all(boards: Sequence[Dashboard], results: QueryResults, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for board in boards:
        path = out / f"dashboard-{board.uid}.png"
        DashboardPicture(board, results, footer(results)).save(path)
        print(f"wrote {path}")
        for line in report(board, results):
            print(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    defaults = LoadPlan()
    parser.add_argument("--rate", type=float, default=defaults.rate, help="events per second")
    parser.add_argument("--duration", type=float, default=defaults.duration, help="seconds")
    parser.add_argument("--out", type=Path, default=IMAGE_DIR, help="where the PNGs go")
    parser.add_argument("--results", type=Path, help="also save the query answers here")
    parser.add_argument("--from-results", type=Path, help="draw from saved answers only")
    args = parser.parse_args(argv)
    boards = [read_dashboard(path) for path in sorted(DASHBOARD_DIR.glob("*.json"))]
    if args.from_results is not None:
        results = QueryResults.load(args.from_results)
    else:
        if shutil.which("prometheus") is None:
            print(f"prometheus not found on PATH: {INSTALL_HINT}", file=sys.stderr)
            return 1
        plan = LoadPlan(rate=args.rate, duration=args.duration)
        workdir = Path(tempfile.mkdtemp(prefix="signet-snapshot-"))
        try:
            results = asyncio.run(record(plan, boards, workdir))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if args.results is not None:
            results.save(args.results)
    draw_all(boards, results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
