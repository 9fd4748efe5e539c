"""Soak: steady traffic for minutes, the broker frozen in the middle; what grows or breaks?

    python -m bench.soak                                    # 10 min, a 20 s freeze (≈ 13 min)
    python -m bench.soak --minutes 2 --freeze-seconds 10    # a short trial (≈ 4 min)
    python -m bench.soak --rate 750                         # skip the peak measurement

The stack as ``bench.e2e`` runs it (the embedded broker, every service its own process)
and the benchmark receiver, which verifies every signature. First path (b)'s peak (HTTP
bulk ingest → one webhook destination), briefly, unless ``--rate`` is given; then 25 % of
it for ``--minutes``, through the HTTP ingest as a careful client sends: every event has
its own idempotency key, and 429, 5xx, timeouts and connection errors are retried with
backoff (``signet_sdk.client``) and, when its attempts run out, again with the same keys, so
a retry never delivers twice. Halfway, the broker is frozen (SIGSTOP) for
``--freeze-seconds`` and thawed (SIGCONT).

Every ``--sample-seconds``: each process's resident memory and open file descriptors
(``/proc``) and each service's ``/readyz``; during and after the freeze ``/readyz`` is
polled more often. At the end it waits for the tail (every accepted event must arrive)
and reports, for a window before the freeze (after the warm-up) and one as long after
recovery, latency p50/p99, deliveries/s, memory and descriptors, plus the events
accepted, delivered, duplicated and missing, the client's retries, and how long after the
thaw deliveries resumed and every service was ready again (``bench/soak_figures.py``).
Loopback only; every count and duration is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import os
import shutil
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
from rich.console import Console
from signet_sdk.client import RETRY_STATUSES, ClientError, UnavailableError

from bench.e2e import IDLE_SETTLE_SECONDS, LATENCY_SHARE, on_stack, parse_setting, stack_names_of
from bench.loads import IngestLoad, seed_event
from bench.measure import as_dict, measure_peak
from bench.report import RESULTS_DIR, busy_note, stamp, write_json
from bench.soak_figures import Freeze, Sample, Tail, figures, print_figures
from bench.stack import (
    BenchStack,
    ReceiverProcess,
    StackProcess,
    open_fds,
    rss_mb,
    stack_processes,
)

BATCH = 250  # path (b)'s peak, as bench.e2e sends it
INGEST_CONCURRENCY = 4
MAX_IN_FLIGHT = 64  # bulk requests of the soak's load at once (fewer than aiohttp's 100)
GIVE_UP_SECONDS = 180.0  # a bulk still not acknowledged after this is counted given up
RETRY_PAUSE_SECONDS = 1.0  # between the client's exhausted attempts and the next round
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=1)
FREEZE_PROBE_SECONDS = 0.25
READY_AGAIN_TIMEOUT = 180.0  # after the thaw


# -- the load: path (b), paced, as a careful client sends it --------------------------------


class SoakLoad(IngestLoad):
    """Path (b)'s paced load with the soak's own idempotency keys, retried until the ingest
    acknowledges each event (or ``GIVE_UP_SECONDS``), counting every answer it retried."""

    def __init__(self, ingest_url: str, publishable_key: str) -> None:
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._answered)
        trace.on_request_exception.append(self._failed)
        self._session = aiohttp.ClientSession(trace_configs=[trace])
        super().__init__(
            ingest_url,
            publishable_key,
            batch=BATCH,
            concurrency=INGEST_CONCURRENCY,
            session=self._session,
        )
        self._keys = (f"soak-{uuid.uuid4().hex[:8]}-{n}" for n in itertools.count())
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.accepted: set[str] = set()  # event ids the ingest acknowledged
        self.answers: Counter[str] = Counter()  # HTTP status or exception, per request
        self.retried_at: list[float] = []  # time.time() of each answer that is retried
        self.refused: Counter[str] = Counter()  # events refused for good, by reason
        self.given_up = 0

    async def close(self) -> None:
        await super().close()
        await self._session.close()

    async def _answered(
        self, _: aiohttp.ClientSession, __: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        self.answers[str(params.response.status)] += 1
        if params.response.status in RETRY_STATUSES:
            self.retried_at.append(time.time())

    async def _failed(
        self,
        _: aiohttp.ClientSession,
        __: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        self.answers[type(params.exception).__name__] += 1
        self.retried_at.append(time.time())

    async def _bulk(self, n: int) -> None:
        now = time.time_ns()  # stamped once: a retried event's latency counts its retries
        pending = [{**seed_event(now), "id": next(self._keys)} for _ in range(n)]
        give_up_at = time.monotonic() + GIVE_UP_SECONDS
        async with self._slots:
            while pending:
                try:
                    items = await self._client.emit_bulk(pending)
                except UnavailableError:
                    pass  # every attempt unanswered: the same keys again, after a pause
                except ClientError as exc:
                    self.refused[f"HTTP {exc.status}"] += len(pending)
                    return
                else:
                    for item in items:
                        if item.accepted and item.id is not None:
                            self.accepted.add(item.id)
                        elif item.status == "rejected":
                            self.refused[str(item.error)[:80]] += 1
                    pending = [
                        e for e, i in zip(pending, items, strict=True) if i.status == "failed"
                    ]
                if pending and time.monotonic() > give_up_at:
                    self.given_up += len(pending)
                    return
                if pending:
                    await asyncio.sleep(RETRY_PAUSE_SECONDS)


# -- probes and samples ---------------------------------------------------------------------


async def ready_codes(http: aiohttp.ClientSession, urls: dict[str, str]) -> dict[str, int | None]:
    """Each service's ``/readyz`` status, None when it does not answer within a second."""

    async def code(url: str) -> int | None:
        try:
            async with http.get(url, timeout=PROBE_TIMEOUT) as response:
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return None

    codes = await asyncio.gather(*(code(url) for url in urls.values()))
    return dict(zip(urls, codes, strict=True))


@dataclass(slots=True)
class Prober:
    """What the soak looks at: the stack's processes (followed across restarts), their
    ``/readyz``, and the counts at the receiver and the load."""

    stack: BenchStack
    receiver: ReceiverProcess
    load: SoakLoad
    samples: list[Sample] = field(default_factory=list)

    def processes(self) -> dict[str, StackProcess]:
        found = stack_processes(self.stack.state_dir)
        return {name: found[name] for name in stack_names_of({n: p.pid for n, p in found.items()})}

    def ready_urls(self) -> dict[str, str]:
        return {n: p.ready_url for n, p in self.processes().items() if p.ready_url is not None}

    async def ready(self) -> dict[str, int | None]:
        return await ready_codes(self.stack.http, self.ready_urls())

    async def sample(self) -> Sample:
        processes = self.processes()
        counts = await self.receiver.counts()
        sample = Sample(
            at=time.time(),
            rss_mb={name: round(rss_mb(p.pid), 1) for name, p in processes.items()},
            fds={name: open_fds(p.pid) for name, p in processes.items()},
            restarts={name: p.restarts for name, p in processes.items()},
            ready=await self.ready(),
            accepted=len(self.load.accepted),
            delivered=counts["distinct"],
        )
        self.samples.append(sample)
        return sample

    async def sample_until(self, done: asyncio.Task[Any], every: float) -> None:
        while not done.done():
            await self.sample()
            await asyncio.wait({done}, timeout=every)


async def freeze_broker(prober: Prober, broker_pid: int, at: float, seconds: float) -> Freeze:
    """SIGSTOP the broker at ``at`` (time.time()) for ``seconds``, then SIGCONT; polls
    ``/readyz`` throughout, until every service is ready again after the thaw."""
    await asyncio.sleep(max(0.0, at - time.time()))
    freeze = Freeze(frozen_at=time.time(), seconds=seconds)
    os.kill(broker_pid, signal.SIGSTOP)
    try:
        while time.time() < freeze.frozen_at + seconds:
            freeze.saw(await prober.ready(), thawed=False)
            await asyncio.sleep(FREEZE_PROBE_SECONDS)
    finally:
        os.kill(broker_pid, signal.SIGCONT)
    freeze.thawed_at = time.time()
    while time.time() < freeze.thawed_at + READY_AGAIN_TIMEOUT:
        if freeze.saw(await prober.ready(), thawed=True):
            break
        await asyncio.sleep(FREEZE_PROBE_SECONDS)
    return freeze


async def wait_for_tail(
    receiver: ReceiverProcess, accepted: set[str], earlier: set[str], timeout: float
) -> Tail:
    """Until every accepted event arrived (bounded); what arrived, what did not, and what
    arrived that the soak did not send (``earlier``: what arrived before it began)."""
    began = time.monotonic()
    deadline = began + timeout
    await receiver.wait_for(len(accepted), timeout)  # requests: a duplicate counts too
    while True:
        arrived = await receiver.ids()
        missing = accepted - arrived
        if not missing or time.monotonic() > deadline:
            break
        await asyncio.sleep(5.0)
    return Tail(
        waited_seconds=round(time.monotonic() - began, 1),
        delivered=len(arrived),
        missing=sorted(missing),
        unexpected=sorted(arrived - accepted),
        delivered_again_from_before=len((arrived - accepted) & earlier),
    )


# -- the run --------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Plan:
    minutes: float
    freeze_seconds: float
    rate: float | None  # None: 25 % of the measured peak
    peak_events: int
    warmup_seconds: float
    sample_seconds: float
    drain_timeout: float
    settings: tuple[tuple[str, str], ...]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        seconds = args.minutes * 60
        if not 0 < args.freeze_seconds < seconds / 2:
            raise SystemExit("--freeze-seconds must be more than 0 and under half the run")
        return cls(
            minutes=args.minutes,
            freeze_seconds=args.freeze_seconds,
            rate=args.rate,
            peak_events=args.peak_events,
            warmup_seconds=args.warmup_seconds or min(30.0, 0.1 * seconds),
            sample_seconds=args.sample_seconds,
            drain_timeout=args.drain_timeout,
            settings=tuple(parse_setting(text) for text in args.set or ()),
        )


async def offered_rate(
    stack: BenchStack, receiver: ReceiverProcess, key: str, plan: Plan, console: Console
) -> tuple[float, dict[str, Any] | None]:
    """``--rate``, or 25 % of path (b)'s peak, measured here (as bench.e2e does, shorter)."""
    if plan.rate is not None:
        return plan.rate, None
    load = IngestLoad(stack.info.ingest_url, key, batch=BATCH, concurrency=INGEST_CONCURRENCY)
    try:
        await receiver.reset()
        await load.ready()
        await receiver.wait_for(1, 60)
        await asyncio.sleep(IDLE_SETTLE_SECONDS)
        with console.status(f"path (b): peak, {plan.peak_events:,} events…"):
            peak = await measure_peak(
                receiver,
                functools.partial(load.peak, plan.peak_events),
                sent=plan.peak_events,
                expected=plan.peak_events,
                timeout=plan.drain_timeout,
                pids={**stack.pids, "receiver": receiver.pid},
            )
    finally:
        await load.close()
    if not peak.per_second > 0:
        raise SystemExit(f"no peak measured ({peak}); give --rate")
    console.print(f"path (b) peak: {peak.per_second:,.0f} deliveries/s")
    return LATENCY_SHARE * peak.per_second, as_dict(peak)


async def soak(
    stack: BenchStack, receiver: ReceiverProcess, plan: Plan, console: Console
) -> dict[str, Any]:
    workspace = await stack.workspace(receiver, "soak", ["soak"])
    rate, peak = await offered_rate(stack, receiver, workspace.publishable_key, plan, console)
    load = SoakLoad(stack.info.ingest_url, workspace.publishable_key)
    prober = Prober(stack, receiver, load)
    try:
        await load.ready()
        await receiver.wait_for(1, 60)
        earlier = await receiver.ids()  # the peak's and the warm-up's, to tell apart later
        await receiver.reset()
        load.answers.clear()  # the soak's traffic only
        seconds = plan.minutes * 60
        began = time.time()
        freeze_at = began + seconds / 2 - plan.freeze_seconds / 2
        with console.status(
            f"{rate:,.0f} events/s for {plan.minutes:g} min; the broker freezes for "
            f"{plan.freeze_seconds:g} s at {seconds / 2 - plan.freeze_seconds / 2:.0f} s…"
        ):
            async with asyncio.TaskGroup() as tasks:
                traffic = tasks.create_task(load.paced(rate, seconds))
                frozen = tasks.create_task(
                    freeze_broker(prober, stack.pids["broker"], freeze_at, plan.freeze_seconds)
                )
                tasks.create_task(prober.sample_until(traffic, plan.sample_seconds))
        with console.status(f"waiting for the tail of {len(load.accepted):,} events…"):
            tail = await wait_for_tail(receiver, load.accepted, earlier, plan.drain_timeout)
        await prober.sample()
        stats = await receiver.stats()
    finally:
        await load.close()
    return {
        "benchmark": "soak",
        "plan": {
            **{name: getattr(plan, name) for name in Plan.__slots__},
            "offered_per_second": round(rate, 1),
            "peak": peak,
        },
        **figures(
            began=began,
            warmup=plan.warmup_seconds,
            traffic_seconds=seconds,
            freeze=frozen.result(),
            samples=prober.samples,
            arrivals=stats["arrivals"],
            latencies_ms=stats["latencies_ms"],
            duplicates=stats["duplicates"],
            emitted=traffic.result(),
            tail=tail,
            load={
                "accepted": len(load.accepted),
                "answers": dict(load.answers),
                "retried_at": load.retried_at,
                "refused": dict(load.refused),
                "given_up": load.given_up,
            },
        ),
    }


async def run(plan: Plan, console: Console) -> dict[str, Any]:
    async def body(stack: BenchStack, receiver: ReceiverProcess) -> dict[str, Any]:
        document = await soak(stack, receiver, plan, console)
        # The services' warnings explain what the figures show; the stack deletes its copy.
        RESULTS_DIR.mkdir(exist_ok=True)
        log = RESULTS_DIR / f"soak-{stamp()}.log"
        shutil.copyfile(stack.state_dir / "services.log", log)
        document["services_log"] = str(log)
        return document

    return await on_stack(dict(plan.settings), console, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the traffic")
    parser.add_argument("--freeze-seconds", type=float, default=20.0, help="broker frozen")
    parser.add_argument("--rate", type=float, help="events/s (default: 25 %% of (b)'s peak)")
    parser.add_argument("--peak-events", type=int, default=6_000, help="events of the peak")
    parser.add_argument("--warmup-seconds", type=float, help="default: 10 %% of the run, ≤ 30")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="between samples")
    parser.add_argument("--drain-timeout", type=float, default=180.0, help="tail, at most")
    parser.add_argument("--set", action="append", metavar="SIGNET_NAME=value")
    parser.add_argument("--label", default="", help="a note stored with the results")
    args = parser.parse_args()
    console = Console()
    document = asyncio.run(run(Plan.from_args(args), console))
    document["label"] = args.label
    print_figures(console, document)
    console.print(busy_note(document["machine"]))
    console.print(f"wrote {write_json('soak', document)} and {document['services_log']}")


if __name__ == "__main__":
    main()
