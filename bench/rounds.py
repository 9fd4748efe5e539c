"""Two sides of one switch, measured in alternating rounds on one machine: which is faster.

``bench.catalog`` (a JSON Schema on the event type or not) and ``bench.tracing`` (spans
exported or not) measure path (b)'s peak on each side, in the order A, B, B, A, … so a
drift of the machine over the run weighs on both sides alike. What they share is here:
the order, one measured peak, and the comparison, which is the median of each side, their
ratio, and the CPU every process spent per delivery. On a machine other work shares,
throughput moves with that work, CPU per delivery much less; on a machine the pipeline
saturates, their ratio is what the throughput's would be.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from rich.console import Console

from bench.measure import PeakResult, measure_peak
from bench.stack import ReceiverProcess

DRAIN_TIMEOUT_SECONDS = 120.0
WARM_UP_EVENTS = 2_000
GOAL_RATIO = 0.9
Side = TypeVar("Side")


class PeakLoad(Protocol):
    async def peak(self, n: int) -> None: ...


def alternating(rounds: int, first: Side, second: Side) -> Iterator[tuple[int, Side]]:
    """``(round, side)`` in the order first, second, second, first, first, second, …"""
    for index in range(rounds):
        for side in (first, second) if index % 2 == 0 else (second, first):
            yield index, side


async def peak_of(
    receiver: ReceiverProcess, load: PeakLoad, events: int, pids: dict[str, int]
) -> PeakResult:
    """One peak of ``events``, every one of them waited for (a bounded wait)."""
    return await measure_peak(
        receiver,
        functools.partial(load.peak, events),
        sent=events,
        expected=events,
        timeout=DRAIN_TIMEOUT_SECONDS,
        pids=pids,
    )


async def warm_up(
    receiver: ReceiverProcess, load: PeakLoad, events: int, pids: dict[str, int]
) -> None:
    """A short peak first, so every process on the path has run once (as bench.e2e does)."""
    await peak_of(receiver, load, min(events, WARM_UP_EVENTS), pids)


def complete(side: str, peak: PeakResult, events: int) -> PeakResult:
    """``peak``, if every event arrived and verified; a peak that lost some proves nothing."""
    if peak.received < events or peak.rejected:
        raise RuntimeError(f"{side}: {peak}")
    return peak


def median(peaks: list[PeakResult]) -> float:
    return statistics.median(p.per_second for p in peaks)


def cpu_per_delivery(peaks: list[PeakResult]) -> dict[str, float]:
    """Median over the peaks of CPU µs per delivery, by process, and ``all``."""
    per_process: dict[str, list[float]] = {}
    for peak in peaks:
        for process, percent in peak.cpu_percent.items():
            per_process.setdefault(process, []).append(percent * 1e4 / peak.per_second)
        per_process.setdefault("all", []).append(
            sum(peak.cpu_percent.values()) * 1e4 / peak.per_second
        )
    return {name: statistics.median(values) for name, values in per_process.items()}


@dataclass(slots=True, frozen=True)
class Comparison:
    """The peaks of ``base`` (the switch off) and ``other`` (on), and what they say."""

    base: str
    other: str
    peaks: dict[str, list[PeakResult]]

    @property
    def cpu(self) -> dict[str, dict[str, float]]:
        return {side: cpu_per_delivery(self.peaks[side]) for side in self.peaks}

    @property
    def ratio(self) -> float:
        """Throughput, other ÷ base: the goal is at least :data:`GOAL_RATIO`."""
        return median(self.peaks[self.other]) / median(self.peaks[self.base])

    @property
    def cpu_ratio(self) -> float:
        """CPU per delivery, base ÷ other."""
        cpu = self.cpu
        return cpu[self.base]["all"] / cpu[self.other]["all"]

    def rates(self, side: str) -> tuple[str, str]:
        """The table's "median /s" and "each peak /s" cells of ``side``."""
        peaks = self.peaks[side]
        return f"{median(peaks):,.0f}", ", ".join(f"{p.per_second:,.0f}" for p in peaks)

    def print_ratios(self, console: Console, base_word: str, other_word: str) -> None:
        verdict = "met" if self.ratio >= GOAL_RATIO else "NOT met"
        console.print(f"{other_word} ÷ {base_word}: {self.ratio:.3f} (goal ≥ 0.90: {verdict})")
        console.print(f"CPU per delivery, {base_word} ÷ {other_word}: {self.cpu_ratio:.3f}")

    def figures(self) -> dict[str, Any]:
        """What the results file keeps of the comparison, by key."""
        return {
            "per_second": {side: [p.per_second for p in self.peaks[side]] for side in self.peaks},
            "cpu_percent": {side: [p.cpu_percent for p in self.peaks[side]] for side in self.peaks},
            "median_per_second": {side: median(self.peaks[side]) for side in self.peaks},
            "ratio": self.ratio,
            "cpu_us_per_delivery": self.cpu,
            "cpu_ratio": self.cpu_ratio,
        }
