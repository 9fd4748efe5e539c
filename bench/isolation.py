"""Isolation: does one hanging destination slow the healthy ones in its partition?

    python -m bench.isolation                      # 300 healthy deliveries/s, 20 s per phase
    python -m bench.isolation --rate 500 --seconds 30

Everything on loopback (``bench/dispatcher_rig.py``): a Tansu broker, the real dispatcher
(``python -m services.dispatcher``, one child process), ``deliveries`` with ONE partition
so every destination shares it, and the receivers in this process. Deliveries are written
straight to Kafka at a fixed rate, spread over 9 healthy destinations.

Phase 1: only the healthy destinations. Phase 2: the same healthy load plus a hanging
destination taking 10 % of all traffic (it accepts the request and never answers; its
requests time out after the default 15 s). Phase 3: the healthy load plus a stalled FIFO
destination (``"ordering": "fifo"``) taking 10 %: it answers 503 at once, so its head is
retried and every later delivery to it moves to the hold topic
(docs/delivery.md#ordered-delivery). For the healthy destinations, each phase reports
throughput (deliveries received per second, first write to last receipt) and latency
(record written → request received) p50/p99; then the ratios. Goal: phases 2 and
3 keep >= 90 % of the throughput and a p99 within 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import time
from dataclasses import dataclass, field

from aiohttp import web

from bench.dispatcher_rig import delivery, destination, dispatcher_rig, metric
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Destination

HEALTHY = 9


@dataclass(slots=True)
class Receivers:
    """Healthy endpoints answer at once; the hanging one never does (until released)."""

    arrived: dict[str, float] = field(default_factory=dict)  # event id → receipt time
    hanging: int = 0
    stalled_requests: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def healthy(self, request: web.Request) -> web.Response:
        await request.read()
        self.arrived.setdefault(request.headers["webhook-id"], time.time())
        self.changed.set()
        return web.Response(text="ok")

    async def stalled(self, request: web.Request) -> web.Response:
        await request.read()
        self.stalled_requests += 1
        return web.Response(status=503)

    async def hang(self, request: web.Request) -> web.Response:
        self.hanging += 1
        await self.release.wait()
        return web.Response(status=503)

    async def wait_for(self, ids: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ids <= self.arrived.keys():
            if time.monotonic() > deadline:
                missing = len(ids - self.arrived.keys())
                raise SystemExit(f"{missing} healthy deliveries never arrived")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 1)


@dataclass(slots=True, frozen=True)
class PhaseResult:
    deliveries: int
    throughput: float
    p50_ms: float
    p99_ms: float
    hanging_sent: int


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


async def phase(
    producer: AsyncProducer,
    topics: Topics,
    receivers: Receivers,
    healthy: list[Destination],
    hanging: Destination | None,
    rate: float,
    seconds: float,
) -> PhaseResult:
    """``rate`` healthy deliveries/s for ``seconds``; with ``hanging``, 10 % of all
    traffic (rate / 9 more) goes to it."""
    written: dict[str, float] = {}
    acks = []
    hang_every = HEALTHY if hanging is not None else 0
    start = time.monotonic()
    sent = hang_sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        for _ in range(int(elapsed * rate) - sent):
            record = delivery(healthy[sent % HEALTHY].id)
            written[record.event_id] = time.time()
            acks.append(
                producer.send_nowait(
                    topics.deliveries, codec.encode(record), key=record.destination_id
                )
            )
            sent += 1
            if hang_every and sent % hang_every == 0 and hanging is not None:
                stuck = delivery(hanging.id)
                acks.append(
                    producer.send_nowait(
                        topics.deliveries, codec.encode(stuck), key=stuck.destination_id
                    )
                )
                hang_sent += 1
        await asyncio.sleep(0.005)
    await asyncio.gather(*acks)
    await receivers.wait_for(set(written), timeout=120)
    first_write = min(written.values())
    last_receipt = max(receivers.arrived[e] for e in written)
    latencies = [(receivers.arrived[e] - t) * 1000 for e, t in written.items()]
    return PhaseResult(
        deliveries=len(written),
        throughput=len(written) / (last_receipt - first_write),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        hanging_sent=hang_sent,
    )


async def run(rate: float, seconds: float) -> None:
    receivers = Receivers()
    app = web.Application()
    app.router.add_post("/healthy/{n}", receivers.healthy)
    app.router.add_post("/hang", receivers.hang)
    app.router.add_post("/stalled", receivers.stalled)
    async with dispatcher_rig(app, "isolation", handler_cancellation=True) as rig:
        try:
            base, ring = rig.base_url, rig.ring
            healthy = [destination(ring, f"{base}/healthy/{n}") for n in range(HEALTHY)]
            hanging = destination(ring, f"{base}/hang")
            stalled = dataclasses.replace(destination(ring, f"{base}/stalled"), ordering="fifo")
            url = await rig.start_dispatcher([*healthy, hanging, stalled])
            print(f"dispatcher ready; warming up (log: {rig.log})", flush=True)
            producer, topics = rig.producer, rig.topics
            await phase(producer, topics, receivers, healthy, None, rate, 3)

            alone = await phase(producer, topics, receivers, healthy, None, rate, seconds)
            print(f"phase 1 done: {alone}", flush=True)
            mixed = await phase(producer, topics, receivers, healthy, hanging, rate, seconds)
            print(f"phase 2 done: {mixed}", flush=True)
            deferred = await metric(url, 'signet_dispatcher_retries_total{reason="busy"')
            timeouts = await metric(url, 'signet_dispatcher_attempts_total{outcome="failed"')
            receivers.release.set()  # phase 2's hanging requests end: phase 3 starts clean
            ordered = await phase(producer, topics, receivers, healthy, stalled, rate, seconds)
            print(f"phase 3 done: {ordered}", flush=True)
        finally:
            receivers.release.set()
    report(rate, seconds, alone, mixed, receivers.hanging, deferred, timeouts)
    report_stalled_fifo(alone, ordered, receivers.stalled_requests)


def report(
    rate: float,
    seconds: float,
    alone: PhaseResult,
    mixed: PhaseResult,
    hanging_requests: int,
    deferred: float,
    failed: float,
) -> None:
    throughput_ratio = mixed.throughput / alone.throughput
    p99_ratio = mixed.p99_ms / alone.p99_ms
    print()
    print(
        f"isolation bench: {HEALTHY} healthy destinations, one partition, {rate:g}/s offered, "
        f"{seconds:g} s per phase"
    )
    print(f"{'':34}{'throughput/s':>14}{'p50 ms':>10}{'p99 ms':>10}{'deliveries':>12}")
    for name, result in (("healthy alone", alone), ("healthy + 1 hanging (10 %)", mixed)):
        print(
            f"{name:34}{result.throughput:>14.1f}{result.p50_ms:>10.1f}"
            f"{result.p99_ms:>10.1f}{result.deliveries:>12}"
        )
    print(
        f"hanging destination: {mixed.hanging_sent} deliveries written, {hanging_requests} "
        f"requests reached it (the rest deferred: {deferred:.0f} busy deferrals; "
        f"{failed:.0f} failed attempts)"
    )
    print(
        f"throughput ratio {throughput_ratio:.3f} (goal >= 0.90)   "
        f"p99 ratio {p99_ratio:.2f}x (goal <= 2x)"
    )


def report_stalled_fifo(alone: PhaseResult, ordered: PhaseResult, stalled_requests: int) -> None:
    print(
        f"{'healthy + 1 stalled FIFO (10 %)':34}{ordered.throughput:>14.1f}"
        f"{ordered.p50_ms:>10.1f}{ordered.p99_ms:>10.1f}{ordered.deliveries:>12}"
    )
    print(
        f"stalled FIFO destination: {ordered.hanging_sent} deliveries written, "
        f"{stalled_requests} requests reached it (its head and the head's retries; the "
        f"rest wait on the hold topic)"
    )
    print(
        f"throughput ratio {ordered.throughput / alone.throughput:.3f} (goal >= 0.90)   "
        f"p99 ratio {ordered.p99_ms / alone.p99_ms:.2f}x (goal <= 2x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=300, help="healthy deliveries per second")
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    args = parser.parse_args()
    asyncio.run(run(args.rate, args.seconds))


if __name__ == "__main__":
    main()
