"""``python -m services.ingest`` as a real child process: it serves, and on SIGTERM it stops
listening but finishes the request in flight (a 202 after the signal), then exits 0.

The request is held in flight by freezing the session's broker (SIGSTOP) while it awaits
its acknowledgement, and thawing it (SIGCONT) once the process has stopped listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import signal
import uuid

import aiohttp

from signet.dev.broker import EmbeddedBroker, free_port
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import PublishableKey, WorkspaceConfig
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.processes import ServiceProcess, service_env
from tests.services.ingest.conftest import seed_event
from tests.services.ingest.topic_reader import contains_ids, read_events


async def _in_flight(session: aiohttp.ClientSession, url: str) -> float:
    async with session.get(url + "/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith("signet_ingest_requests_in_flight "):
                return float(line.split()[1])
    raise AssertionError("no in-flight gauge")


async def _post(
    session: aiohttp.ClientSession, url: str, key: str, body: dict[str, object]
) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {key}"}
    async with session.post(url + "/v1/events", json=body, headers=headers) as response:
        payload = await response.json(content_type=None)
        return response.status, str(payload.get("id", payload))


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def test_serves_then_drains_the_request_in_flight_on_sigterm(
    broker: EmbeddedBroker, kafka_settings: CommonSettings, topics: Topics
) -> None:
    broker_pid = broker.pid
    assert broker_pid is not None
    key = "pk_live_" + secrets.token_urlsafe(24)
    workspace_id = f"ws_{uuid.uuid4().hex[:20]}"
    config = WorkspaceConfig(
        workspace_id=workspace_id,
        version=1,
        name="Casterly",
        environment="production",
        created_at=1,
        updated_at=1,
        publishable_keys=[PublishableKey("pk_0", hashlib.sha256(key.encode()).hexdigest(), "h", 1)],
    )
    # On the topic before the process starts: /readyz waits until the view read it.
    async with AsyncProducer(kafka_settings) as producer:
        await producer.send(topics.workspace_config, codec.encode(config), key=workspace_id)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(kafka_settings, port=port, host="127.0.0.1", shutdown_timeout_seconds=20)
    process = ServiceProcess("ingest", env, ready_url=url + "/readyz")
    await process.start()
    try:
        async with aiohttp.ClientSession() as session:
            status, served = await _post(session, url, key, seed_event())
            assert status == 202, served

            # Freeze the broker so the next request is in flight (awaiting its ack) at
            # SIGTERM. (A body still uploading at shutdown is not drained: aiohttp stops
            # reading from connections once it closes them.)
            os.kill(broker_pid, signal.SIGSTOP)
            try:
                held = asyncio.create_task(
                    _post(session, url, key, seed_event(resource_id="in-flight"))
                )

                async def held_in_flight() -> bool:
                    return await _in_flight(session, url) >= 2  # the held request + this scrape

                async def stopped_listening() -> bool:
                    return not await _listening(port)

                await eventually(held_in_flight, "the held request to start", timeout=10)
                stopping = asyncio.create_task(process.stop(timeout=30))
                await eventually(stopped_listening, "no new connections after SIGTERM", timeout=10)
                # Keep the fault a while: a shutdown that does not wait for in-flight
                # requests (or waits less than this) fails the held request.
                await asyncio.sleep(1.0)
                assert not held.done()
            finally:
                os.kill(broker_pid, signal.SIGCONT)
            status, drained = await asyncio.wait_for(held, 20)
            assert status == 202, drained

        assert await stopping == 0, process.output()
    finally:
        await process.stop()

    records = await read_events(kafka_settings, topics.events, contains_ids(served, drained))
    assert {r.event.id for r in records if r.key == workspace_id} == {served, drained}
