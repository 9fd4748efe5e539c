"""The soak's figures (``bench/soak.py``): from what it saw, the windows before and after a
broker freeze, how long recovery took, and the table it prints.

- *recovered*: the later of (a) every service's ``/readyz`` 200 again after the thaw and
  (b) deliveries caught up: the end of the first whole second after the thaw whose
  deliveries' p99 is within twice the p99 from the warm-up's end to the freeze (the
  backlog, stamped when first emitted, has gone through).
- *before* ends at the freeze, *after* starts at recovery; both are as long as the
  shorter of warm-up's end → freeze and recovery → traffic's end (when that trims them,
  it says so). Not recovered: *after* is the end of the traffic, and it says so loudly.

Latency is emit → received and verified (the receiver's), deliveries/s the arrivals in a
window over its length; memory and descriptors are the last sample in a window (and the
largest, for memory); the client's retries are each answer it retried (429, 5xx, timeouts,
connection errors), by when it came.
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.measure import percentile

CAUGHT_UP_FACTOR = 2.0
MIN_WINDOW_SECONDS = 5.0
MISSING_SHOWN = 10


@dataclass(slots=True, frozen=True)
class Sample:
    at: float  # time.time()
    rss_mb: dict[str, float]
    fds: dict[str, int]
    restarts: dict[str, int]
    ready: dict[str, int | None]  # /readyz status per service
    accepted: int  # events acknowledged so far
    delivered: int  # distinct events at the receiver so far


@dataclass(slots=True)
class Freeze:
    frozen_at: float
    seconds: float
    thawed_at: float | None = None
    not_ready_at: dict[str, float] = field(default_factory=dict)  # first non-200 since
    ready_again_at: dict[str, float] = field(default_factory=dict)  # first 200 after thaw
    all_ready_at: float | None = None

    def saw(self, codes: dict[str, int | None], *, thawed: bool) -> bool:
        """Record one round of ``/readyz``; True once every service is ready after the thaw."""
        now = time.time()
        for name, code in codes.items():
            if code != 200:
                self.not_ready_at.setdefault(name, now)
            elif thawed:
                self.ready_again_at.setdefault(name, now)
        if thawed and all(code == 200 for code in codes.values()):
            self.all_ready_at = now
            return True
        return False


@dataclass(slots=True, frozen=True)
class Tail:
    waited_seconds: float
    delivered: int  # distinct event ids at the receiver
    missing: list[str]  # accepted, never delivered
    unexpected: list[str]  # delivered, not the soak's (the peak's or the warm-up's)
    delivered_again_from_before: int  # of those, how many had arrived before the soak too


@dataclass(slots=True, frozen=True)
class Deliveries:
    """Arrival times (sorted) and the latency of each."""

    arrivals: list[float]
    latencies_ms: list[float]

    @classmethod
    def of(cls, arrivals: list[float], latencies_ms: list[float]) -> Deliveries:
        pairs = sorted(zip(arrivals, latencies_ms, strict=True))
        return cls([a for a, _ in pairs], [latency for _, latency in pairs])

    def between(self, start: float, end: float) -> list[float]:
        low = bisect.bisect_left(self.arrivals, start)
        return self.latencies_ms[low : bisect.bisect_left(self.arrivals, end)]

    def first_after(self, moment: float) -> float | None:
        index = bisect.bisect_left(self.arrivals, moment)
        return self.arrivals[index] if index < len(self.arrivals) else None


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 1)


def _since(moment: float | None, origin: float | None) -> float | None:
    return None if moment is None or origin is None else round(moment - origin, 1)


def window(
    name: str, start: float, end: float, deliveries: Deliveries, samples: list[Sample]
) -> dict[str, Any]:
    latencies = deliveries.between(start, end)
    inside = [s for s in samples if start <= s.at <= end] or samples[-1:]
    last = inside[-1]
    return {
        "window": name,
        "seconds": round(end - start, 1),
        "deliveries": len(latencies),
        "deliveries_per_second": round(len(latencies) / (end - start), 1),
        "p50_ms": _round(percentile(latencies, 50)),
        "p99_ms": _round(percentile(latencies, 99)),
        "rss_mb": last.rss_mb,
        "rss_mb_max": {n: max(s.rss_mb.get(n, 0.0) for s in inside) for n in last.rss_mb},
        "rss_mb_total": round(sum(last.rss_mb.values()), 1),
        "fds": last.fds,
        "samples": len(inside),
    }


def caught_up_at(deliveries: Deliveries, thawed_at: float, end: float, p99: float) -> float | None:
    """The end of the first whole second after the thaw with deliveries within
    ``CAUGHT_UP_FACTOR`` times the before-window's p99."""
    second = thawed_at
    while second < end:
        latencies = deliveries.between(second, second + 1)
        if latencies and percentile(latencies, 99) <= CAUGHT_UP_FACTOR * p99:
            return second + 1
        second += 1
    return None


def timeline(began: float, samples: list[Sample], deliveries: Deliveries) -> list[dict[str, Any]]:
    """Each sample, with the deliveries/s and p99 since the one before."""
    rows = []
    previous = began
    for sample in samples:
        latencies = deliveries.between(previous, sample.at)
        span = max(sample.at - previous, 1e-9)
        rows.append(
            {
                "t": round(sample.at - began, 1),
                "deliveries_per_second": round(len(latencies) / span, 1),
                "p99_ms": _round(percentile(latencies, 99)),
                **{k: v for k, v in asdict(sample).items() if k != "at"},
                "rss_mb_total": round(sum(sample.rss_mb.values()), 1),
            }
        )
        previous = sample.at
    return rows


def figures(
    *,
    began: float,
    warmup: float,
    traffic_seconds: float,
    freeze: Freeze,
    samples: list[Sample],
    arrivals: list[float],
    latencies_ms: list[float],
    duplicates: int,
    emitted: int,
    tail: Tail,
    load: dict[str, Any],
) -> dict[str, Any]:
    """What goes in the JSON (everything but the plan and the machine)."""
    deliveries = Deliveries.of(arrivals, latencies_ms)
    end = began + traffic_seconds
    thawed = freeze.thawed_at if freeze.thawed_at is not None else freeze.frozen_at
    reference = deliveries.between(began + warmup, freeze.frozen_at)
    usual_p99 = percentile(reference, 99) if reference else math.inf
    caught_up = caught_up_at(deliveries, thawed, end, usual_p99)
    recovered = (
        max(caught_up, freeze.all_ready_at)
        if caught_up is not None and freeze.all_ready_at is not None
        else None
    )
    # Both windows as long as the shorter of what each side of the freeze offers.
    available = freeze.frozen_at - (began + warmup)
    length = max(MIN_WINDOW_SECONDS, min(available, end - (recovered or thawed)))
    after_start = recovered if recovered is not None else end - length
    after_end = after_start + length
    before = window("before", freeze.frozen_at - length, freeze.frozen_at, deliveries, samples)
    after = window("after", after_start, after_end, deliveries, samples)
    retried = sorted(load.pop("retried_at"))

    def retries(start: float, stop: float) -> int:
        return bisect.bisect_left(retried, stop) - bisect.bisect_left(retried, start)

    first = deliveries.first_after(thawed)
    during = retries(freeze.frozen_at, recovered or end)
    return {
        "windows": {
            "before": before,
            "after": {**after, "recovered": recovered is not None},
            "trimmed_from_seconds": round(available, 1) if length < available else None,
        },
        "freeze": {
            "starts_after_seconds": round(freeze.frozen_at - began, 1),
            "seconds": round(thawed - freeze.frozen_at, 1),
            "deliveries_while_frozen": len(deliveries.between(freeze.frozen_at, thawed)),
            "not_ready_after_freeze_seconds": {
                n: _since(t, freeze.frozen_at) for n, t in freeze.not_ready_at.items()
            },
            "ready_again_after_thaw_seconds": {
                n: _since(t, thawed) for n, t in freeze.ready_again_at.items()
            },
            "deliveries_resumed_after_thaw_seconds": _since(first, thawed),
            "all_ready_after_thaw_seconds": _since(freeze.all_ready_at, thawed),
            "caught_up_after_thaw_seconds": _since(caught_up, thawed),
            "recovered_after_thaw_seconds": _since(recovered, thawed),
        },
        "events": {
            "emitted": emitted,
            "accepted": load["accepted"],
            "delivered": tail.delivered,
            "duplicates": duplicates,
            "missing": len(tail.missing),
            "missing_ids": tail.missing[:MISSING_SHOWN],
            "unexpected": len(tail.unexpected),
            "unexpected_ids": tail.unexpected[:MISSING_SHOWN],
            "unexpected_delivered_again_from_before": tail.delivered_again_from_before,
            "given_up": load["given_up"],
            "refused": load["refused"],
            "tail_wait_seconds": tail.waited_seconds,
        },
        "client": {
            "answers": load["answers"],
            "retries": len(retried),
            "retries_before": retries(began + warmup, freeze.frozen_at),
            "retries_freeze_to_recovery": during,
            "retries_after": retries(after_start, after_end),
        },
        "restarts": samples[-1].restarts if samples else {},
        "timeline": timeline(began, samples, deliveries),
    }


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return ""
    difference = after - before
    return f"{difference:+,}" if isinstance(difference, int) else f"{difference:+,.1f}"


def _seconds(by_service: dict[str, float | None]) -> str:
    return ", ".join(f"{name} {seconds} s" for name, seconds in by_service.items()) or "none"


def print_figures(console: Console, document: dict[str, Any]) -> None:
    before, after = document["windows"]["before"], document["windows"]["after"]
    freeze, events, client = document["freeze"], document["events"], document["client"]
    plan = document["plan"]
    table = Table(
        title=f"Soak: {plan['offered_per_second']:,.0f} events/s for {plan['minutes']:g} min, "
        f"the broker frozen {freeze['seconds']:g} s at {freeze['starts_after_seconds']:g} s"
    )
    for column in ("", "before", "after", "change"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row(
        "window", f"{before['seconds']:g} s", f"{after['seconds']:g} s", "", end_section=True
    )
    latency = [("deliveries/s", "deliveries_per_second"), ("p50 ms", "p50_ms")]
    for label, key in [*latency, ("p99 ms", "p99_ms")]:
        b, a = before[key], after[key]
        table.add_row(label, f"{b:,.1f}", f"{a:,.1f}", _change(b, a), end_section=key == "p99_ms")
    for name in before["rss_mb"]:
        b, a = before["rss_mb"][name], after["rss_mb"].get(name)
        table.add_row(f"{name} RSS MiB", f"{b:.0f}", f"{a:.0f}", _change(b, a))
    b, a = before["rss_mb_total"], after["rss_mb_total"]
    table.add_row(
        "[bold]whole stack RSS MiB[/]", f"{b:.0f}", f"{a:.0f}", _change(b, a), end_section=True
    )
    for name in before["fds"]:
        b, a = before["fds"][name], after["fds"].get(name)
        table.add_row(f"{name} fds", str(b), str(a), _change(b, a))
    console.print(table)
    if not after["recovered"]:
        console.print("[bold red]NOT RECOVERED[/]: the after window is the end of the traffic")
    elif document["windows"]["trimmed_from_seconds"] is not None:
        console.print(
            f"both windows are {after['seconds']:g} s, not "
            f"{document['windows']['trimmed_from_seconds']:g}: the traffic ended "
            f"{after['seconds']:g} s after recovery"
        )
    console.print(
        f"events: {events['emitted']:,} emitted, {events['accepted']:,} accepted (202), "
        f"{events['delivered']:,} delivered, {events['duplicates']} duplicates, "
        f"{events['given_up']} given up, refused {events['refused'] or 'none'}"
    )
    if events["missing"]:
        console.print(
            f"[bold red]LOST: {events['missing']:,} accepted events never arrived[/] "
            f"(waited {events['tail_wait_seconds']:g} s; first: {events['missing_ids']})"
        )
    if events["unexpected"]:
        console.print(
            f"{events['unexpected']} delivered events were not the soak's (the peak's or the "
            f"warm-up's; {events['unexpected_delivered_again_from_before']} of them had "
            f"arrived before the soak too: delivered again); first: {events['unexpected_ids']}"
        )
    console.print(
        f"client: {client['retries']:,} retries ({client['retries_freeze_to_recovery']:,} "
        f"from the freeze to recovery); answers {client['answers']}"
    )
    console.print(
        f"after the thaw: deliveries resumed in {freeze['deliveries_resumed_after_thaw_seconds']}"
        f" s, every /readyz 200 in {freeze['all_ready_after_thaw_seconds']} s, caught up in "
        f"{freeze['caught_up_after_thaw_seconds']} s"
    )
    console.print(
        f"/readyz not 200 from (s into the freeze): "
        f"{_seconds(freeze['not_ready_after_freeze_seconds'])}; 200 again (s after the thaw): "
        f"{_seconds(freeze['ready_again_after_thaw_seconds'])}"
    )
    if any(document["restarts"].values()):
        console.print(f"[bold red]restarts[/]: {document['restarts']}")
