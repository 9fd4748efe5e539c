"""The Python SDK against the real ingest on the real broker.

Faults are injected by a real aiohttp proxy in front of the ingest: it answers 503 or
drops the connection for the first requests, and records the idempotency keys it saw.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from signet_sdk.client import (
    AsyncEventsClient,
    AuthenticationError,
    EventsClient,
    InvalidEventError,
    RetryPolicy,
    UnavailableError,
)
from signet_sdk.contract.events import event_id_for

from services.ingest.app import IngestApp
from signet.dev.broker import free_port
from signet.kafka.topics import Topics
from signet.settings import IngestSettings

# The ingest app, its settings and the workspace seeder come from the ingest's own tests.
from tests.services.ingest.conftest import (  # noqa: F401 - fixtures
    SEED_PAYLOAD,
    Workspaces,
    ingest,
    ingest_settings,
    workspaces,
)
from tests.services.ingest.topic_reader import contains_ids, read_events

FAST = RetryPolicy(max_attempts=4, initial_backoff_seconds=0.01, max_backoff_seconds=0.05)
SEED: dict[str, Any] = {
    "event": "order.completed",
    "resource": "order",
    "resource_id": "ord_lannister_77",
    "payload": SEED_PAYLOAD,
}


@dataclass
class FaultyProxy:
    """Forwards to the ingest; the first ``failures`` requests get ``mode`` instead."""

    upstream: str
    mode: str = "503"  # 503 | 429 | drop-after-forward
    failures: int = 0
    keys: list[str | None] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.keys.append(request.headers.get("Idempotency-Key"))
        self.bodies.append(body)
        failing = self.failures > 0
        self.failures -= 1
        if failing and self.mode in ("503", "429"):
            return web.Response(status=int(self.mode), headers={"Retry-After": "0"})
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.upstream + request.path, data=body, headers=headers) as answer,
        ):
            reply = await answer.read()
            status = answer.status
        if failing:  # the ingest took it; the client never hears back
            assert request.transport is not None
            request.transport.abort()
        return web.Response(status=status, body=reply, content_type="application/json")


@pytest.fixture
async def proxy(ingest: IngestApp) -> AsyncIterator[FaultyProxy]:  # noqa: F811
    faulty = FaultyProxy(ingest.url)
    app = web.Application()
    app.router.add_post("/{tail:.*}", faulty.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    faulty.url = f"http://127.0.0.1:{port}"
    yield faulty
    await runner.cleanup()


async def _ids_on_topic(settings: IngestSettings, workspace_id: str, sentinel: str) -> list[str]:
    topic = Topics.from_settings(settings).events
    records = await read_events(settings, topic, contains_ids(sentinel))
    return [r.event.id for r in records if r.key == workspace_id and r.event.id != sentinel]


async def test_sync_emit_returns_the_id_of_the_record_on_the_topic(
    ingest: IngestApp,  # noqa: F811
    workspaces: Workspaces,  # noqa: F811
    ingest_settings: IngestSettings,  # noqa: F811
) -> None:
    workspace = await workspaces.create()
    with EventsClient(workspace.key, base_url=ingest.url) as client:
        event_id = await asyncio.to_thread(client.emit, **SEED)
        again = await asyncio.to_thread(client.emit, **SEED, idempotency_key="ord-77-completed")
        same = await asyncio.to_thread(client.emit, **SEED, idempotency_key="ord-77-completed")
        sentinel = await asyncio.to_thread(client.emit, **{**SEED, "resource_id": "sentinel"})
    assert event_id.startswith("evt_")
    assert again == same == event_id_for(workspace.id, "ord-77-completed")
    ids = await _ids_on_topic(ingest_settings, workspace.id, sentinel)
    assert sorted(ids) == sorted([event_id, again])


async def test_async_emit_retries_503_with_the_same_generated_key(
    proxy: FaultyProxy,
    workspaces: Workspaces,  # noqa: F811
) -> None:
    workspace = await workspaces.create()
    proxy.failures = 2
    async with AsyncEventsClient(workspace.key, base_url=proxy.url, retry=FAST) as client:
        event_id = await client.emit(**SEED)
    assert len(proxy.keys) == 3
    key = proxy.keys[0]
    assert key is not None and key.startswith("sdk_")
    assert proxy.keys == [key, key, key]
    assert event_id == event_id_for(workspace.id, key)


async def test_a_lost_answer_is_retried_without_a_second_record(
    proxy: FaultyProxy,
    workspaces: Workspaces,  # noqa: F811
    ingest_settings: IngestSettings,  # noqa: F811
) -> None:
    workspace = await workspaces.create()
    proxy.mode, proxy.failures = "drop-after-forward", 1
    with EventsClient(workspace.key, base_url=proxy.url, retry=FAST) as client:
        event_id = await asyncio.to_thread(client.emit, **SEED)
        sentinel = await asyncio.to_thread(client.emit, **{**SEED, "resource_id": "sentinel"})
    assert proxy.keys[0] == proxy.keys[1]
    assert await _ids_on_topic(ingest_settings, workspace.id, sentinel) == [event_id]


async def test_429_is_retried_and_gives_up_after_max_attempts(
    proxy: FaultyProxy,
    workspaces: Workspaces,  # noqa: F811
) -> None:
    workspace = await workspaces.create()
    proxy.mode, proxy.failures = "429", 100
    async with AsyncEventsClient(workspace.key, base_url=proxy.url, retry=FAST) as client:
        with pytest.raises(UnavailableError, match="4 attempts") as raised:
            await client.emit(**SEED)
    assert raised.value.retriable
    assert len(proxy.keys) == 4 and len(set(proxy.keys)) == 1


async def test_connection_refused_is_unavailable() -> None:
    nothing_there = f"http://127.0.0.1:{free_port()}"
    with (
        EventsClient("pk_test_" + "x" * 24, base_url=nothing_there, retry=FAST) as client,
        pytest.raises(UnavailableError, match="ConnectionRefusedError"),
    ):
        await asyncio.to_thread(client.emit, **SEED)


async def test_invalid_event_and_unknown_key_are_clear_errors(
    ingest: IngestApp,  # noqa: F811
    workspaces: Workspaces,  # noqa: F811
) -> None:
    workspace = await workspaces.create()
    async with AsyncEventsClient(workspace.key, base_url=ingest.url) as client:
        with pytest.raises(InvalidEventError) as raised:
            await client.emit(**{**SEED, "event": "not an event type"})
    assert raised.value.status == 400
    assert [e["field"] for e in raised.value.errors] == ["event"]
    async with AsyncEventsClient("pk_live_" + "y" * 24, base_url=ingest.url) as client:
        with pytest.raises(AuthenticationError) as denied:
            await client.emit(**SEED)
    assert denied.value.status == 401


async def test_bulk_reports_each_event_and_splits_large_batches(
    ingest: IngestApp,  # noqa: F811
    workspaces: Workspaces,  # noqa: F811
    ingest_settings: IngestSettings,  # noqa: F811
) -> None:
    workspace = await workspaces.create()
    events = [
        {**SEED, "resource_id": "ord_1"},
        {**SEED, "event": "bad type!"},
        {**SEED, "resource_id": "ord_3", "id": "my-own-key"},
        {**SEED, "resource_id": "ord_4"},
        {**SEED, "payload": "not an object"},
    ]
    async with AsyncEventsClient(
        workspace.key, base_url=ingest.url, max_bulk_events=2
    ) as client:  # three requests; the last is all-invalid (a 400 from the ingest)
        items = await client.emit_bulk(events)
        retried = await client.emit_bulk([events[2]])
    assert [i.status for i in items] == ["accepted", "rejected", "accepted", "accepted", "rejected"]
    assert [i.index for i in items] == [0, 1, 2, 3, 4]
    assert items[1].error["errors"][0]["field"] == "event"
    assert items[4].error["errors"][0]["field"] == "payload"
    assert items[2].id == retried[0].id == event_id_for(workspace.id, "my-own-key")
    assert len({i.idempotency_key for i in items}) == 5
    accepted = [i.id for i in items if i.accepted and i.id]
    ids = await _ids_on_topic(ingest_settings, workspace.id, accepted[-1])
    assert sorted([*ids, accepted[-1]]) == sorted(accepted)


async def test_bulk_retries_a_503_batch_with_the_same_keys(
    proxy: FaultyProxy,
    workspaces: Workspaces,  # noqa: F811
) -> None:
    workspace = await workspaces.create()
    proxy.failures = 1
    with EventsClient(workspace.key, base_url=proxy.url, retry=FAST) as client:
        items = await asyncio.to_thread(
            client.emit_bulk, [{**SEED, "resource_id": f"ord_{n}"} for n in range(3)]
        )
    assert all(i.accepted for i in items)
    assert proxy.bodies[0] == proxy.bodies[1]  # same events, same keys


def test_retry_after_is_honoured_and_clamped() -> None:
    policy = RetryPolicy(max_retry_after_seconds=3.0)
    assert policy.delay(1, "2") == 2.0
    assert policy.delay(1, "120") == 3.0
    # An HTTP date is honoured too (RFC 9110): one in the past means "now"...
    assert policy.delay(3, "Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    # ...and one ahead is waited for, clamped like delta-seconds.
    ahead = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert policy.delay(1, ahead) == 3.0
    # Unreadable: the policy's own jittered backoff.
    assert 0 <= policy.delay(3, "soon") <= 0.8


def test_a_secret_key_is_refused_before_any_request() -> None:
    with pytest.raises(AuthenticationError, match="publishable key"):
        EventsClient("whsec_abc")
