"""Turning what the receiver saw into figures: sustained rate, latency percentiles, CPU.

- Sustained deliveries/s: the arrivals between the 10th and the 90th percentile of a
  peak run, divided by the time between them (start-up and drain tails left out).
- Latency: emit → receive of every event of a paced run, the first second left out
  (warm-up); p50/p95/p99 by linear interpolation.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.stack import ReceiverProcess, cpu_seconds

WARMUP_SECONDS = 1.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def sustained_rate(arrivals: list[float]) -> float:
    if len(arrivals) < 10:
        return float("nan")
    ordered = sorted(arrivals)
    first, last = int(len(ordered) * 0.1), int(len(ordered) * 0.9)
    span = ordered[last] - ordered[first]
    return (last - first) / span if span > 0 else float("nan")


@dataclass(slots=True)
class PeakResult:
    sent: int
    received: int
    verified: int
    rejected: int
    per_second: float
    wall_seconds: float
    cpu_percent: dict[str, float] = field(default_factory=dict)  # of one core, per process


@dataclass(slots=True)
class LatencyResult:
    offered_per_second: float
    sent: int
    received: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    latencies_ms: list[float] = field(repr=False, default_factory=list)


async def measure_peak(
    receiver: ReceiverProcess,
    run: Callable[[], Awaitable[None]],
    *,
    sent: int,
    expected: int,
    timeout: float,
    pids: dict[str, int],
) -> PeakResult:
    """Run a peak load; wait (bounded) until ``expected`` deliveries arrived."""
    await receiver.reset()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    began = time.monotonic()
    await run()
    await receiver.wait_for(expected, timeout)
    wall = time.monotonic() - began
    cpu = {
        name: round(100 * (cpu_seconds(pid) - cpu_before[name]) / wall, 1)
        for name, pid in pids.items()
    }
    stats = await receiver.stats()
    return PeakResult(
        sent=sent,
        received=stats["accepted"],
        verified=stats["verified"],
        rejected=stats["rejected"],
        per_second=round(sustained_rate(stats["arrivals"]), 1),
        wall_seconds=round(wall, 2),
        cpu_percent=cpu,
    )


async def measure_latency(
    receiver: ReceiverProcess,
    run: Callable[[float, float], Awaitable[int]],
    *,
    rate: float,
    duration: float,
    fanout: int = 1,
    drain_timeout: float = 30.0,
) -> LatencyResult:
    """Offer ``rate`` events/s for ``duration`` seconds; latencies of what arrived."""
    await receiver.reset()
    began = time.time()
    sent = await run(rate, duration)
    await receiver.wait_for(sent * fanout, drain_timeout)
    stats = await receiver.stats()
    latencies = [
        latency
        for latency, arrived in zip(stats["latencies_ms"], stats["arrivals"], strict=True)
        if arrived - began >= WARMUP_SECONDS
    ]
    return LatencyResult(
        offered_per_second=round(rate, 1),
        sent=sent,
        received=stats["accepted"],
        p50_ms=round(percentile(latencies, 50), 1),
        p95_ms=round(percentile(latencies, 95), 1),
        p99_ms=round(percentile(latencies, 99), 1),
        latencies_ms=latencies,
    )


def as_dict(result: PeakResult | LatencyResult) -> dict[str, Any]:
    data = asdict(result)
    data.pop("latencies_ms", None)
    return data
