"""What the soak (``bench/soak.py``) looks at while it runs: each service's ``/readyz``,
each process's memory and descriptors, the broker frozen and thawed, and the tail of
deliveries at the end.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.e2e import stack_names_of
from bench.soak_figures import Freeze, Sample, Tail
from bench.soak_load import SoakLoad
from bench.stack import (
    BenchStack,
    ReceiverProcess,
    StackProcess,
    open_fds,
    rss_mb,
    stack_processes,
)

PROBE_TIMEOUT = aiohttp.ClientTimeout(total=1)
FREEZE_PROBE_SECONDS = 0.25
READY_AGAIN_TIMEOUT = 180.0  # after the thaw


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
