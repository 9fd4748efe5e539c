"""A real dispatcher on loopback and nothing else, for the benches that study it alone.

``bench.isolation`` and ``bench.fifo`` both run: an embedded Tansu broker, topics under a
prefix of their own with ONE partition (so every destination shares it), the receivers
in the bench's own process (an aiohttp app it passes in), and ``python -m
services.dispatcher`` as one child process, started once the workspace's configuration is
on the broker. Deliveries are written straight to ``deliveries``:

    async with dispatcher_rig(app, "fifo") as rig:
        hook = destination(rig.ring, f"{rig.base_url}/hook/a")
        url = await rig.start_dispatcher([hook])
        await rig.producer.send(rig.topics.deliveries, codec.encode(delivery(hook.id)), …)

Everything stops when the block ends: the dispatcher (SIGTERM, then SIGKILL after 30 s),
the receivers, the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web
from signet_sdk.ids import new_id, now_ms
from signet_sdk.signing import generate_secret

from signet.dev.broker import EmbeddedBroker, free_port
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics, ensure_topics
from signet.records import codec
from signet.records.model import Delivery, Destination, SigningSecret, WorkspaceConfig
from signet.security.secrets import MasterKeyRing, generate_master_key, hint, secret_aad
from signet.settings import CommonSettings

WORKSPACE = "ws_bench_isolation"
STOP_TIMEOUT_SECONDS = 30


def destination(ring: MasterKeyRing, url: str) -> Destination:
    """A webhook destination of :data:`WORKSPACE` for every event type, with a fresh secret."""
    destination_id = new_id("dst")
    secret = generate_secret("standard-webhooks").secret
    now = now_ms()
    sealed = SigningSecret(
        id=new_id("sec"),
        sealed=ring.seal(secret.encode(), secret_aad(WORKSPACE, destination_id)),
        hint=hint(secret),
        created_at=now,
    )
    return Destination(
        id=destination_id,
        type="webhook",
        name=url.rsplit("/", 1)[-1],
        created_at=now,
        updated_at=now,
        url=url,
        event_types=["*"],
        secrets=[sealed],
    )


def delivery(destination_id: str) -> Delivery:
    """A first attempt, due now, of a new ``bench.tick`` event."""
    event_id, now = new_id("evt"), now_ms()
    body = orjson.dumps({"id": event_id, "type": "bench.tick", "data": {}})
    return Delivery(
        id=new_id("dlv"),
        event_id=event_id,
        workspace_id=WORKSPACE,
        destination_id=destination_id,
        event_type="bench.tick",
        body=body,
        attempt=1,
        event_created_at=now,
        due_at=now,
    )


def start_dispatcher(
    settings: CommonSettings, master_keys: str, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m services.dispatcher`` on ``settings``' topics; the process and the URL
    of its metrics and probes. The caller's ``SIGNET_*`` variables win."""
    port = free_port()
    env = {
        **os.environ,
        "SIGNET_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SIGNET_TOPIC_PREFIX": settings.topic_prefix,
        "SIGNET_PARTITIONS": "1",
        "SIGNET_DELIVERIES_PARTITIONS": "1",
        "SIGNET_MASTER_KEYS": master_keys,
        "SIGNET_METRICS_HOST": "127.0.0.1",
        "SIGNET_METRICS_PORT": str(port),
        "SIGNET_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:8]}",
        "SIGNET_CONSUMER_SESSION_TIMEOUT_SECONDS": "6",
        "SIGNET_ALLOW_PRIVATE_DESTINATIONS": "true",
        "SIGNET_ALLOW_INSECURE_DESTINATIONS": "true",
        "SIGNET_DRAIN_TIMEOUT_SECONDS": "1",
        "SIGNET_LOG_LEVEL": "WARNING",
        **{k: v for k, v in os.environ.items() if k.startswith("SIGNET_")},
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.dispatcher"], env=env, stdout=out, stderr=out
        )
    return process, f"http://127.0.0.1:{port}"


async def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url + "/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise SystemExit("the dispatcher did not become ready")


async def metric(url: str, name: str) -> float:
    """The sum of every sample of the dispatcher's metric ``name`` (a prefix of the line)."""
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
        text = await response.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


@dataclass(slots=True)
class DispatcherRig:
    """The running parts; the dispatcher itself once :meth:`start_dispatcher` is called."""

    settings: CommonSettings
    topics: Topics
    master_keys: str
    ring: MasterKeyRing
    base_url: str  # the receivers' app
    producer: AsyncProducer
    log: Path
    dispatcher: subprocess.Popen[bytes] | None = field(default=None)

    async def start_dispatcher(self, destinations: list[Destination]) -> str:
        """Publish :data:`WORKSPACE` with ``destinations``, start the dispatcher and wait
        until it is ready (it has read the configuration); the URL of its metrics."""
        now = now_ms()
        config = WorkspaceConfig(WORKSPACE, 1, "Bench", "production", now, now, [], destinations)
        await self.producer.send(self.topics.workspace_config, codec.encode(config), key=WORKSPACE)
        self.dispatcher, url = start_dispatcher(self.settings, self.master_keys, self.log)
        await wait_ready(url, self.dispatcher)
        return url

    def stop_dispatcher(self) -> None:
        if self.dispatcher is None:
            return
        self.dispatcher.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.dispatcher.wait(STOP_TIMEOUT_SECONDS)
        if self.dispatcher.poll() is None:
            self.dispatcher.kill()


@contextlib.asynccontextmanager
async def dispatcher_rig(
    receivers: web.Application, name: str, *, handler_cancellation: bool = False
) -> AsyncIterator[DispatcherRig]:
    """The broker, its topics and ``receivers`` served on loopback; ``name`` names the
    dispatcher's log file (``bench-<name>-dispatcher-….log`` in the temporary folder)."""
    broker = EmbeddedBroker()
    broker.start()
    log = Path(tempfile.mkstemp(prefix=f"bench-{name}-dispatcher-", suffix=".log")[1])
    runner = web.AppRunner(receivers, access_log=None, handler_cancellation=handler_cancellation)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rig: DispatcherRig | None = None
    try:
        settings = CommonSettings(
            kafka_bootstrap=broker.bootstrap,
            topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
            partitions=1,
            deliveries_partitions=1,
        )
        ensure_topics(settings)
        master_keys = generate_master_key()
        async with AsyncProducer(settings) as producer:
            rig = DispatcherRig(
                settings=settings,
                topics=Topics.from_settings(settings),
                master_keys=master_keys,
                ring=MasterKeyRing.parse(master_keys),
                base_url=f"http://127.0.0.1:{port}",
                producer=producer,
                log=log,
            )
            yield rig
    finally:
        if rig is not None:
            rig.stop_dispatcher()
        await runner.cleanup()
        broker.stop()
