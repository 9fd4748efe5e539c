"""What runs while Prometheus watches: Signet's dev stack (as the benchmarks start it, see
``bench/stack.py``), a receiver on loopback with a healthy endpoint, a failing one and a
Slack stand-in, one workspace with a destination on each, and a paced load of events
through HTTP ingest (``bench/loads.py``). Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from bench.loads import IngestLoad
from bench.stack import BenchStack
from signet.dev.devstack.state import read_runtime

# Services that serve /metrics beside /readyz; the stack's other children (the walk-through
# receiver, the embed's host page) are not Signet services.
SERVICES = ("ingest", "portal", "router", "dispatcher", "alerter")
HEALTHY_PATH = "/hook/orders"
FAILING_PATH = "/hook/audit"
SLACK_PATH = "/services/T0SNAPSHOT/B0ALERTS/local"  # the shape the portal accepts for Slack


@dataclass(slots=True, frozen=True)
class LoadPlan:
    rate: float = 50.0  # events per second
    duration: float = 150.0  # seconds of load
    failing_max_attempts: int = 3  # the failing destination's retry policy

    def describe(self) -> str:
        return (
            f"{self.rate:g} events/s for {self.duration:g} s through ingest, each to two "
            f"webhooks on loopback: one answers 200, one 500 "
            f"(max {self.failing_max_attempts} attempts), plus a Slack stand-in"
        )


class LoopbackReceiver:
    """The customer's side: 200 on the healthy path and Slack's, 500 on the failing one."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(HEALTHY_PATH, self._answer(200))
        app.router.add_post(FAILING_PATH, self._answer(500))
        app.router.add_post(SLACK_PATH, self._answer(200))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    def _answer(self, status: int) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            await request.read()
            self.received[request.path] += 1
            return web.Response(status=status, text="ok" if status == 200 else "down")

        return handle

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def scrape_configs(stack: BenchStack) -> list[dict[str, Any]]:
    """One Prometheus job per service, named ``signet-<service>`` as the dashboards expect."""
    runtime = read_runtime(stack.state_dir) or {}
    children = runtime.get("services", {})
    return [
        {
            "job_name": f"signet-{name}",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [urlsplit(children[name]["ready_url"]).netloc]}],
        }
        for name in SERVICES
        if name in children
    ]


async def _call(stack: BenchStack, path: str, bearer: str, body: Any) -> Any:
    async with stack.http.post(
        stack.info.portal_url + path, json=body, headers={"Authorization": f"Bearer {bearer}"}
    ) as response:
        answer = await response.json(content_type=None)
        if response.status >= 300:
            raise RuntimeError(f"POST {path}: {response.status} {answer}")
        return answer


async def create_workspace(stack: BenchStack, receiver: LoopbackReceiver, plan: LoadPlan) -> str:
    """A workspace with a healthy and a failing webhook and a Slack channel; its
    publishable key."""
    operator = stack.info.operator_key
    workspace = await _call(
        stack, "/v1/workspaces", operator, {"name": "Snapshot", "environment": "production"}
    )
    session = await _call(
        stack,
        "/v1/sessions",
        operator,
        {"workspace_id": workspace["id"], "role": "admin", "ttl_seconds": 3600},
    )
    token = session["token"]
    destinations: list[dict[str, Any]] = [
        {"type": "webhook", "name": "Orders", "url": receiver.url(HEALTHY_PATH)},
        {
            "type": "webhook",
            "name": "Audit (down)",
            "url": receiver.url(FAILING_PATH),
            "retry_policy": {"max_attempts": plan.failing_max_attempts},
        },
    ]
    for destination in destinations:
        await _call(
            stack, "/v1/workspace/destinations", token, {**destination, "event_types": ["*"]}
        )
    await _call(
        stack,
        "/v1/workspace/destinations",
        token,
        {"type": "slack", "name": "#ops", "webhook_url": receiver.url(SLACK_PATH)},
    )
    publishable_key: str = workspace["publishable_key"]
    return publishable_key


async def run_load(stack: BenchStack, publishable_key: str, plan: LoadPlan) -> int:
    """Emit ``plan.rate`` events/s for ``plan.duration`` s; how many were emitted."""
    load = IngestLoad(stack.info.ingest_url, publishable_key, batch=100, concurrency=4)
    try:
        await load.ready()
        return await load.paced(plan.rate, plan.duration)
    finally:
        await load.close()


async def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Until ``check()`` (a blocking call, run in a thread) is true, or fail at ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout:.0f} s")
        await asyncio.sleep(0.5)
