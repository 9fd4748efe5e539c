"""Endpoint health at scale: ``GET …/destinations/{id}/stats`` on a SQLite log of 1,000,000
attempts, answered from the rollup (services/portal/delivery_log/rollup.py).

    python -m bench.endpoint_health                 # 1,000,000 attempts (≈ 1 min)
    python -m bench.endpoint_health --attempts 100000 --runs 10   # a quick check

1. A fresh SQLite log gets ``--attempts`` attempts of one workspace, spread evenly over
   the last ``--days`` days and ``--destinations`` destinations (the first one is queried;
   with the default of 1 it holds every attempt: the worst case). They are inserted in
   bulk (chain fields filler: nothing here reads them), without the rollup.
2. The rollup is then filled the way an existing log gets it: migration 1 (create and
   backfill ``log_stats``) on the next start. Its time is reported.
3. Each window (1h, 24h, 7d) is read ``--runs`` times through the store, as the route
   does; the median, p95 and max are reported. For comparison, the same counts computed
   by a scan of the attempts (what the rollup spares) are timed ``--scan-runs`` times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import percentile
from services.portal.delivery_log.sql_store import SqlLogStore
from services.portal.delivery_log.sqlite_store import sqlite_store
from services.portal.stats_models import StatsWindow

RESULTS = Path(__file__).parent / "results"
DAY_MS = 86_400_000
BATCH = 20_000
WORKSPACE = "ws_bench_health"
NOW = 1_765_000_000_000  # fixed, so runs compare
STATUSES = ("delivered",) * 90 + ("failed",) * 8 + ("exhausted",) * 2
_INSERT = (
    "INSERT INTO log_attempts (workspace_id, id, seq, prev_hash, hash, entry, logged_at, "
    "delivery_id, event_id, destination_id, event_type, status, attempt, attempted_at, "
    "event_created_at, url, http_status, latency_ms, error, response_excerpt, request_headers, "
    "next_attempt_at, replay_of) VALUES "
    "(?, ?, ?, '', '', '', ?, ?, ?, ?, 'order.completed', ?, 1, ?, ?, NULL, ?, ?, NULL, NULL, "
    "'{}', ?, NULL)"
)


def destination(index: int) -> str:
    return f"dst_bench_{index:03d}"


async def fill(store: SqlLogStore, attempts: int, days: int, destinations: int) -> float:
    """Insert the attempts in bulk; seconds taken."""
    rng = random.Random(16)
    span = days * DAY_MS
    started = time.perf_counter()
    for first in range(0, attempts, BATCH):
        rows = []
        for seq in range(first, min(first + BATCH, attempts)):
            at = NOW - span + seq * span // attempts
            status = STATUSES[rng.randrange(len(STATUSES))]
            answered = rng.random() < 0.97  # the rest: timeouts, refused connections
            rows.append(
                (
                    WORKSPACE,
                    f"att_{seq:09d}",
                    seq + 1,
                    at,
                    f"dlv_{seq:09d}",
                    f"evt_{seq:09d}",
                    destination(seq % destinations),
                    status,
                    at,
                    at,
                    (200 if status == "delivered" else 503) if answered else None,
                    rng.lognormvariate(4.0, 0.6) if answered else None,
                    at + 30_000 if status == "failed" and rng.random() < 0.9 else None,
                )
            )
        async with store.database.write() as conn:
            await conn.executemany(_INSERT, rows)
    return time.perf_counter() - started


async def without_rollup(store: SqlLogStore) -> None:
    """Make the log look like one from before migration 1."""
    async with store.database.write() as conn:
        await conn.execute("DROP TABLE log_stats")
        await conn.execute("DELETE FROM log_migrations WHERE number = 1")


async def timed(call: Any, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 95), 2),
        "max_ms": round(max(times), 2),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="signet-bench-health-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'log.db'}"
        store = sqlite_store(url)
        await store.start()
        await without_rollup(store)
        insert_seconds = await fill(store, args.attempts, args.days, args.destinations)
        await store.stop()

        store = sqlite_store(url)
        started = time.perf_counter()
        await store.start()  # runs migration 1: the rollup and its backfill
        backfill_seconds = time.perf_counter() - started
        try:
            async with store.database.read() as conn:
                rollup_rows = (await conn.fetch("SELECT COUNT(*) AS n FROM log_stats"))[0]["n"]
            queried = destination(0)
            windows: dict[str, Any] = {}
            for window in StatsWindow:

                async def read(window: StatsWindow = window) -> Any:
                    return await store.destination_stats(
                        WORKSPACE,
                        queried,
                        start=window.start(NOW - 1),
                        bucket_ms=window.bucket_ms,
                        count=window.buckets,
                    )

                stats = await read()
                windows[window.value] = {
                    **summary(await timed(read, args.runs)),
                    "delivered": stats.delivered,
                    "failed": stats.failed,
                    "exhausted": stats.exhausted,
                    "latency_ms": None
                    if stats.latency is None
                    else {"p50": stats.latency.p50, "p95": stats.latency.p95},
                }

            async def scan() -> None:
                async with store.database.read() as conn:
                    await conn.fetch(
                        "SELECT SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END) AS d, "
                        "COUNT(*) AS n FROM log_attempts WHERE workspace_id = ? "
                        "AND destination_id = ? AND attempted_at >= ?",
                        WORKSPACE,
                        queried,
                        NOW - 7 * DAY_MS,
                    )

            scan_times = await timed(scan, args.scan_runs)
        finally:
            await store.stop()
    return {
        "attempts": args.attempts,
        "days": args.days,
        "destinations": args.destinations,
        "insert_seconds": round(insert_seconds, 1),
        "backfill_seconds": round(backfill_seconds, 1),
        "rollup_rows": rollup_rows,
        "runs": args.runs,
        "windows": windows,
        "scan_7d": summary(scan_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--destinations", type=int, default=1)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--scan-runs", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(
        f"{result['attempts']:,} attempts over {result['days']} days, "
        f"{result['destinations']} destination(s): inserted in {result['insert_seconds']} s, "
        f"rollup backfilled by migration 1 in {result['backfill_seconds']} s "
        f"({result['rollup_rows']:,} rows)"
    )
    print("| window | median | p95 | max | delivered | failed | exhausted |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, w in result["windows"].items():
        print(
            f"| {name} | {w['median_ms']} ms | {w['p95_ms']} ms | {w['max_ms']} ms "
            f"| {w['delivered']:,} | {w['failed']:,} | {w['exhausted']:,} |"
        )
    scan = result["scan_7d"]
    print(f"a scan of the attempts instead (7d counts): median {scan['median_ms']} ms")
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    text = json.dumps(result, indent=2)
    (RESULTS / f"endpoint-health-{stamp}.json").write_text(text)
    (RESULTS / "endpoint-health-latest.json").write_text(text)


if __name__ == "__main__":
    main()
