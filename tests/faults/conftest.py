"""Fault injection: each test gets a broker of its own, which it freezes (SIGSTOP) and
thaws (SIGCONT) under load, and the whole stack as real child processes on it.

    async with stack.broker.frozen(5):      # the broker stops answering for 5 s
        ...
    await stack.wait_all(200, within=30)     # every service serves again by itself

Loopback only; every count and duration is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from signet.dev.broker import EmbeddedBroker, free_port
from signet.security.secrets import generate_master_key
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.processes import ServiceProcess, service_env
from tests.topics import fresh_topics

SERVICES = ("router", "dispatcher", "alerter", "portal", "ingest")


class FreezableBroker(EmbeddedBroker):
    """The embedded broker, which a test can freeze and thaw like a stalled machine."""

    def freeze(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGCONT)

    @contextlib.asynccontextmanager
    async def frozen(self, seconds: float) -> AsyncIterator[None]:
        """Frozen for ``seconds`` (the body runs meanwhile, and may take longer), then thawed."""
        self.freeze()
        thaw_at = time.monotonic() + seconds
        try:
            yield
            await asyncio.sleep(max(0.0, thaw_at - time.monotonic()))
        finally:
            self.thaw()

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, AssertionError):
            self.thaw()  # a stopped process cannot be terminated
        super().stop()


@pytest.fixture
def fault_broker() -> Iterator[FreezableBroker]:
    broker = FreezableBroker()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def fault_settings(fault_broker: FreezableBroker) -> CommonSettings:
    return fresh_topics(fault_broker.bootstrap)


@dataclass(slots=True)
class FaultStack:
    """Every service as a child process on ``broker``; ``health`` maps a service to the
    base URL of its ``/readyz`` and ``/healthz``."""

    broker: FreezableBroker
    settings: CommonSettings
    ingest_url: str
    portal_url: str
    operator_key: str
    processes: dict[str, ServiceProcess]
    health: dict[str, str]
    http: aiohttp.ClientSession
    _probe_timeout: aiohttp.ClientTimeout = field(
        default_factory=lambda: aiohttp.ClientTimeout(total=2)
    )

    async def status(self, service: str, path: str = "/readyz") -> int | None:
        """The HTTP status of a probe, or None when the process does not answer."""
        try:
            async with self.http.get(
                self.health[service] + path, timeout=self._probe_timeout
            ) as response:
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def metric(self, service: str, name: str) -> float:
        """The sum of a metric's samples on a service's ``/metrics`` (0 when absent)."""
        async with self.http.get(self.health[service] + "/metrics") as response:
            text = await response.text()
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    total += sample.value
        return total

    async def readiness(self) -> dict[str, int | None]:
        codes = await asyncio.gather(*(self.status(name) for name in self.processes))
        return dict(zip(self.processes, codes, strict=True))

    async def wait_all(self, status: int, *, within: float, path: str = "/readyz") -> float:
        """Seconds until every service answers ``status`` on ``path``; fails past ``within``."""
        started = time.monotonic()
        seen: dict[str, int | None] = {}

        async def all_answer() -> bool:
            codes = await asyncio.gather(*(self.status(n, path) for n in self.processes))
            seen.update(zip(self.processes, codes, strict=True))
            return all(code == status for code in seen.values())

        await eventually(
            all_answer, lambda: f"all {status} on {path}: {seen}", within, interval=0.25
        )
        return time.monotonic() - started

    async def call(
        self, method: str, url: str, bearer: str, body: Any = None, **kwargs: Any
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {bearer}", **kwargs.pop("headers", {})}
        async with self.http.request(method, url, json=body, headers=headers, **kwargs) as r:
            payload = await r.json(content_type=None) if r.status != 204 else None
            return r.status, payload

    async def operator(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return await self.call(method, self.portal_url + path, self.operator_key, body)


ServiceSettings = dict[str, dict[str, str | int | float | bool]]


@pytest.fixture
def fault_stack_settings() -> ServiceSettings:
    """Extra ``SIGNET_*`` per service; a test module overrides it."""
    return {}


# Quick rejoins and short retries, so a stall's aftermath fits in a test.
BASE_SETTINGS: ServiceSettings = {
    "router": {"consumer_session_timeout_seconds": 6},
    "dispatcher": {
        "consumer_session_timeout_seconds": 6,
        "retry_delays_seconds": "[1, 2]",
        "retry_max_attempts": 3,
    },
    "alerter": {"consumer_session_timeout_seconds": 6},
    "portal": {"log_consumer_session_timeout_seconds": 6},
    "ingest": {},
}


@pytest.fixture
async def fault_stack(
    fault_broker: FreezableBroker,
    fault_settings: CommonSettings,
    fault_stack_settings: ServiceSettings,
    tmp_path: Any,
) -> AsyncIterator[FaultStack]:
    operator_key = base64.urlsafe_b64encode(os.urandom(24)).decode()
    shared = {"master_keys": generate_master_key()}
    ports = {name: free_port() for name in SERVICES}
    portal_url = f"http://127.0.0.1:{ports['portal']}"
    own: dict[str, dict[str, str | int | float | bool]] = {
        "router": {"web_port": ports["router"], "data_dir": str(tmp_path / "router")},
        "dispatcher": {
            "metrics_port": ports["dispatcher"],
            "allow_private_destinations": True,
            "allow_insecure_destinations": True,
            **shared,
        },
        "alerter": {
            "metrics_port": ports["alerter"],
            "allow_private_destinations": True,
            "allow_insecure_destinations": True,
            "public_url": portal_url,
            **shared,
        },
        "portal": {
            "port": ports["portal"],
            "public_url": portal_url,
            "operator_key": operator_key,
            "allow_insecure_destinations": True,
            "database_url": f"sqlite:///{tmp_path}/signet.db",
            **shared,
        },
        "ingest": {"port": ports["ingest"]},
    }
    processes = {}
    for name in SERVICES:
        extra = {**own[name], **BASE_SETTINGS[name], **fault_stack_settings.get(name, {})}
        processes[name] = ServiceProcess(
            name,
            service_env(fault_settings, **extra),
            ready_url=f"http://127.0.0.1:{ports[name]}/readyz",
        )
    await asyncio.gather(*(p.start() for p in processes.values()))
    async with aiohttp.ClientSession() as http:
        try:
            yield FaultStack(
                broker=fault_broker,
                settings=fault_settings,
                ingest_url=f"http://127.0.0.1:{ports['ingest']}",
                portal_url=portal_url,
                operator_key=operator_key,
                processes=processes,
                health={name: f"http://127.0.0.1:{ports[name]}" for name in SERVICES},
                http=http,
            )
        finally:
            fault_broker.thaw()
            await asyncio.gather(*(p.stop() for p in processes.values()))
