"""The whole stack across broker stalls of 5 s and 30 s under load on every path, with the
dispatcher SIGKILLed in the middle of the long one (issue 13).

Load: product events over HTTP ingest (a client retrying 503s with the same idempotency
key) and from the direct Kafka producer, portal commands, deliveries to a healthy and a
flaky receiver (retries waiting in the tiers through the stall), and a dead receiver
whose exhausted deliveries the alerter reports to a Slack stand-in. For each stall:
readiness is 503 on every service while the broker is frozen and 200 within 30 s of the
thaw, without a hand; afterwards every accepted event reaches every subscribed receiver,
duplicates carrying the event's own webhook-id; the portal applies commands again; the
alerter alerts. The recovery times are printed (docs/operations.md quotes them).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from signet.producer import EventProducer
from tests.eventually import eventually
from tests.faults.conftest import FaultStack, ServiceSettings
from tests.faults.workspace import (
    Workspace,
    add_webhook,
    create_workspace,
    wait_until_delivered,
)
from tests.processes import ServiceProcess
from tests.receiver import Receiver, Reply

pytestmark = pytest.mark.timeout(300)

MakeReceiver = Callable[[], Awaitable[Receiver]]
RECOVERY_SECONDS = 30  # what the issue allows each service after the thaw
HTTP_WORKERS = 4
PACE_SECONDS = 0.1  # per worker between events


@pytest.fixture
def fault_stack_settings() -> ServiceSettings:
    return {
        "portal": {"command_timeout_seconds": 3},
        # The first alert goes out at once, the rest of a window folds into a digest.
        "alerter": {"storm_window_seconds": 2},
    }


class Load:
    """Emits events until stopped: over HTTP (retrying with the same key, as the SDK
    does) and from the direct producer (emitting failed ones again by id)."""

    def __init__(self, stack: FaultStack, workspace: Workspace) -> None:
        self._stack = stack
        self._workspace = workspace
        self.accepted: dict[str, set[str]] = {"order": set(), "invoice": set()}
        self.http_retries = 0
        self._stopping = asyncio.Event()
        self._thread_stopping = threading.Event()
        self._seq = 0

    async def _emit_http(self, worker: int) -> None:
        while not self._stopping.is_set():
            self._seq += 1
            n = self._seq
            kind = "invoice" if n % 10 == 0 else "order"  # one in ten goes to the dead one
            body = {
                "event": f"{kind}.created",
                "resource": kind,
                "resource_id": f"{kind}_{n}",
                "payload": {"n": n, "worker": worker},
            }
            headers = {"Idempotency-Key": f"http-{n}"}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    status, answer = await self._stack.call(
                        "POST",
                        self._stack.ingest_url + "/v1/events",
                        self._workspace.publishable_key,
                        body,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=15),
                    )
                except (aiohttp.ClientError, TimeoutError):
                    status, answer = 0, None
                if status == 202:
                    self.accepted[kind].add(answer["id"])
                    break
                assert status in (0, 429, 502, 503, 504), (status, answer)
                self.http_retries += 1
                await asyncio.sleep(0.5)  # the client's back-off before its retry (load)
            await asyncio.sleep(PACE_SECONDS)  # pacing the load, not a wait for anything

    def _emit_direct(self) -> None:
        with EventProducer(self._stack.settings, **{"message.timeout.ms": 5000}) as producer:
            keys: dict[str, int] = {}
            n = 0

            def emit(i: int) -> str:
                return producer.emit(
                    self._workspace.id,
                    event="order.created",
                    resource="order",
                    resource_id=f"direct_{i}",
                    payload={"direct": i},
                    id=f"direct-{i}",
                )

            while not self._thread_stopping.is_set() or producer.pending:
                if not self._thread_stopping.is_set():
                    n += 1
                    keys[emit(n)] = n
                producer.poll(0.1)
                for failure in producer.take_failures():
                    emit(keys[failure.event_id])  # same key, same event id
            producer.flush(30)
            self.accepted["order"] |= set(keys)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Load]:
        tasks = [asyncio.create_task(self._emit_http(w)) for w in range(HTTP_WORKERS)]
        direct = asyncio.create_task(asyncio.to_thread(self._emit_direct))
        try:
            yield self
        finally:
            self._stopping.set()
            self._thread_stopping.set()
            await asyncio.gather(*tasks)
            await direct


async def supervise(process: ServiceProcess, stop: asyncio.Event) -> int:
    """Restart ``process`` whenever it exits, as ``signet up`` or Kubernetes would."""
    restarts = 0
    while True:
        await eventually(
            lambda: stop.is_set() or process.returncode is not None,
            "the process to exit, or the end of the test",
            300,
            interval=0.2,
        )
        if stop.is_set():
            return restarts
        await asyncio.sleep(0.5)  # a supervisor's restart delay: part of the scenario
        await process.spawn()
        restarts += 1


async def rename(stack: FaultStack, workspace: Workspace, destination: str, name: str) -> int:
    status, _ = await stack.call(
        "PATCH",
        f"{stack.portal_url}/v1/workspace/destinations/{destination}",
        workspace.token,
        {"name": name},
        timeout=aiohttp.ClientTimeout(total=15),
    )
    return status


async def stall(stack: FaultStack, seconds: float, during: Callable[[], Awaitable[Any]]) -> float:
    """Freeze the broker for ``seconds`` while ``during`` runs; every service must say 503
    while frozen and 200 within RECOVERY_SECONDS of the thaw. Returns the recovery time."""
    async with stack.broker.frozen(seconds):
        # Readiness follows within about two probe intervals; well before the thaw.
        seen: dict[str, int | None] = {}

        async def unready() -> bool:
            seen.update(await stack.readiness())
            return all(code in (503, None) for code in seen.values())

        await eventually(unready, lambda: f"503 everywhere: {seen}", seconds - 1, interval=0.25)
        await during()
    recovered = await stack.wait_all(200, within=RECOVERY_SECONDS)
    await stack.wait_all(200, within=5, path="/healthz")
    return recovered


async def test_every_service_heals_from_stalls_and_loses_nothing(
    fault_stack: FaultStack, make_receiver: MakeReceiver
) -> None:
    stack = fault_stack
    healthy, flaky, dead, slack = [await make_receiver() for _ in range(4)]
    dead.default = Reply(status=500)
    workspace = await create_workspace(stack)
    await add_webhook(stack, workspace, "Healthy", healthy.url)
    flaky_id = await add_webhook(
        stack,
        workspace,
        "Flaky",
        flaky.url,
        retry_policy={"max_attempts": 20, "delays_seconds": [1, 2]},
    )
    await add_webhook(
        stack,
        workspace,
        "Dead",
        dead.url,
        event_types=["invoice.*"],
        retry_policy={"max_attempts": 2, "delays_seconds": [1]},
    )
    status, channel = await stack.call(
        "POST",
        stack.portal_url + "/v1/workspace/destinations",
        workspace.token,
        {
            "type": "slack",
            "name": "Alerts",
            "webhook_url": f"http://127.0.0.1:{slack.port}/services/T0/B0/stall",
        },
    )
    assert status == 201, channel

    load = Load(stack, workspace)
    supervisor_stop = asyncio.Event()
    supervisor = asyncio.create_task(supervise(stack.processes["dispatcher"], supervisor_stop))
    async with load.running():
        await asyncio.sleep(3)  # steady load before the first stall: the scenario, not a wait

        # -- 5 s: a portal command during the stall fails cleanly, then applies ----------
        async def command_in_stall() -> None:
            assert await rename(stack, workspace, flaky_id, "Flaky (renamed in a stall)") in (
                503,
                504,
            )

        short = await stall(stack, 5, command_in_stall)
        assert await rename(stack, workspace, flaky_id, "Flaky") == 200

        # -- 30 s, with retries waiting in the tiers and the dispatcher killed mid-stall --
        flaky.default = Reply(status=503)
        await asyncio.sleep(2)  # failing on purpose for 2 s: retries pile up in the tiers

        async def kill_the_dispatcher() -> None:
            await asyncio.sleep(5)  # deeper into the stall, on purpose
            stack.processes["dispatcher"].kill()  # the supervisor restarts it, mid-stall
            flaky.default = Reply()

        slack_before = len(slack.requests)
        long = await stall(stack, 30, kill_the_dispatcher)
        await asyncio.sleep(3)  # load after the recovery too: the scenario, not a wait
    supervisor_stop.set()
    restarts = await supervisor

    delivered = await wait_until_delivered(healthy, load.accepted["order"], within=90)
    flaky_seen = await wait_until_delivered(flaky, load.accepted["order"], within=90)
    assert dead.requests, "the dead receiver was never tried"
    await slack.wait_for(slack_before + 1, timeout=60)  # exhausted after the stall: alerted
    replacements = {
        name: await stack.metric(name, "signet_kafka_client_replacements_total")
        for name in stack.processes
    }
    print(
        f"recovered after 5 s: {short:.1f}s; after 30 s + SIGKILL: {long:.1f}s; "
        f"accepted {len(load.accepted['order'])} order events "
        f"(+{len(load.accepted['invoice'])} invoices), HTTP retries {load.http_retries}; "
        f"healthy receiver {sum(delivered.values())} deliveries for {len(delivered)} events, "
        f"flaky {sum(flaky_seen.values())}; dispatcher restarts {restarts}; "
        f"client replacements {replacements}"
    )
    assert restarts >= 1
    assert len(load.accepted["order"]) > 100
