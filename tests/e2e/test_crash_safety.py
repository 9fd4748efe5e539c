"""Crash safety (issue 3): SIGKILL the dispatcher, the router and the ingest while events
pour in over HTTP, restart them, and every event that got a 202 still reaches every
subscribed destination at least once, duplicates carrying the same ``webhook-id``."""

from __future__ import annotations

import asyncio
import base64
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
import standardwebhooks
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from signet.errors import CodecError
from signet.kafka.topics import RETRY_TIERS_SECONDS, Topics, kafka_client_config
from signet.records import codec
from signet.records.model import DeadLetter, Delivery, Event, Outcome
from signet.settings import CommonSettings
from tests.e2e.conftest import ServiceSettings, Stack
from tests.eventually import eventually
from tests.receiver import Receiver, Reply

pytestmark = pytest.mark.timeout(420)

MakeReceiver = Callable[[], Awaitable[Receiver]]
EVENTS = 300
WORKERS = 8
PACE_SECONDS = 0.15  # per worker between events: ~50 events/s, a load lasting seconds


@pytest.fixture(scope="module")
def stack_settings() -> ServiceSettings:
    return {
        # Retries (of the flaky receiver) within the test, never exhausted; quick rejoins.
        "dispatcher": {
            "retry_delays_seconds": "[1, 2]",
            "retry_max_attempts": 50,
            "consumer_session_timeout_seconds": 6,
        },
        "router": {"consumer_session_timeout_seconds": 6},
    }


async def setup_workspace(stack: Stack, urls: list[str]) -> tuple[str, list[str]]:
    """A workspace with one destination per URL; its publishable key and their secrets."""
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Crashy", "environment": "production"}
    )
    assert status == 201, workspace
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    assert status == 201, session
    secrets = []
    for index, url in enumerate(urls):
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        status, created = await stack.workspace(
            session["token"],
            "POST",
            "/v1/workspace/destinations",
            {
                "name": f"Receiver {index}",
                "url": url,
                "event_types": ["order.*"],
                "secret": secret,
            },
        )
        assert status == 201, created
        secrets.append(secret)
    return workspace["publishable_key"], secrets


@pytest.mark.parametrize("together", [False, True], ids=["staggered", "together"])
async def test_kill_9_of_any_service_mid_load_loses_no_accepted_event(
    stack: Stack, kafka_settings: CommonSettings, make_receiver: MakeReceiver, together: bool
) -> None:
    steady, flaky = await make_receiver(), await make_receiver()
    steady.default = Reply(delay_seconds=0.1)  # so requests are in flight at the kill
    # Every third request to the flaky one fails: its events also go through the tiers,
    # and some wait there when the dispatcher dies.
    flaky.script(*[Reply(status=500), Reply(), Reply()] * EVENTS)
    key, secrets = await setup_workspace(stack, [steady.url, flaky.url])

    accepted: list[str] = []
    refused = 0
    restarts: dict[str, asyncio.Task[None]] = {}
    numbers = iter(range(EVENTS))
    # SIGKILL each service once, mid-load, and restart it while the load goes on: the
    # dispatcher once it is delivering (or, "together", with the router, which then
    # restarts with a backlog while the dispatcher restarts too), the router and the
    # ingest further in.
    crashes: list[tuple[str, Callable[[], bool]]] = [
        ("dispatcher", lambda: len(accepted) >= 150 if together else len(steady.requests) >= 40),
        ("router", lambda: len(accepted) >= 150),
        ("ingest", lambda: len(accepted) >= 225),
    ]

    async def crash(service: str) -> None:
        process = stack.processes[service]
        process.kill()
        await process.stop()  # reaps it
        await process.start()

    async def worker() -> None:
        nonlocal refused
        for n in numbers:
            body = {
                "event": "order.completed",
                "resource": "order",
                "resource_id": f"ord_{n}",
                "payload": {"n": n},
            }
            try:
                status, answer = await stack.emit(key, body)
            except aiohttp.ClientError:
                status, answer = 0, None  # the ingest is down: not accepted
            if status != 202:
                refused += 1
                await asyncio.sleep(0.05)  # the ingest is restarting; the load goes on (pacing)
                continue
            accepted.append(answer["id"])
            for victim, due in crashes:
                if victim not in restarts and due():
                    restarts[victim] = asyncio.create_task(crash(victim))
            await asyncio.sleep(PACE_SECONDS)  # pacing the load, not a wait for anything

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    await asyncio.gather(*restarts.values())
    assert set(restarts) == {"dispatcher", "router", "ingest"}
    assert len(accepted) > EVENTS * 0.5, f"only {len(accepted)} accepted, {refused} refused"

    wanted = set(accepted)
    for receiver, secret in ((steady, secrets[0]), (flaky, secrets[1])):
        await _wait_for_ids(stack, kafka_settings, receiver, wanted, timeout=150)
        delivered = [r for r in receiver.requests if r.status is not None and r.status < 300]
        ids = Counter(r.headers["webhook-id"] for r in delivered)
        assert wanted <= set(ids), f"missing {len(wanted - set(ids))} accepted events"
        for request in receiver.requests:
            body: dict[str, Any] = orjson.loads(request.body)
            assert request.headers["webhook-id"] == body["id"]  # duplicates: the same id
            standardwebhooks.Webhook(secret).verify(request.body, request.headers)
        duplicates = sum(n - 1 for n in ids.values())
        print(
            f"\n{receiver.url}: {len(wanted)} accepted events, {len(delivered)} deliveries "
            f"({duplicates} duplicates), {len(receiver.requests)} requests; {refused} refused"
        )


async def _wait_for_ids(
    stack: Stack, settings: CommonSettings, receiver: Receiver, wanted: set[str], timeout: float
) -> None:
    """Until every wanted id was answered with a 2xx by this receiver (deadline)."""

    def missing() -> set[str]:
        return wanted - {
            r.headers["webhook-id"]
            for r in receiver.requests
            if r.status is not None and r.status < 300
        }

    try:
        await eventually(lambda: not missing(), "every id delivered", timeout, interval=0.2)
    except AssertionError:  # the check asserts nothing: this is the deadline
        left = missing()
        logs = {name: str(p.log_path) for name, p in stack.processes.items()}
        trail = await asyncio.to_thread(where_they_stopped, settings, left)
        pytest.fail(
            f"{receiver.url}: {len(left)} of {len(wanted)} never delivered: "
            f"{trail}; router: {await _router_unrouted(stack)}; logs {logs}"
        )


def where_they_stopped(settings: CommonSettings, event_ids: set[str]) -> dict[str, list[str]]:
    """For a failure message: what the topics hold about each event that never arrived."""
    topics = Topics.from_settings(settings)
    trail: dict[str, list[str]] = {e: [] for e in sorted(event_ids)[:10]}
    readers: list[tuple[str, type[Event] | type[Delivery] | type[Outcome] | type[DeadLetter]]] = [
        (topics.events, Event),
        (topics.deliveries, Delivery),
        *((topics.retry(s), Delivery) for s in RETRY_TIERS_SECONDS),
        (topics.outcomes, Outcome),
        (topics.dlq, DeadLetter),
    ]
    for topic, record_type in readers:
        for value in _read_all(settings, topic):
            try:
                record = codec.decode(value, record_type)
            except CodecError:
                continue
            if isinstance(record, DeadLetter):
                try:
                    event_id = codec.decode(record.original_value, Event).id
                except CodecError:
                    continue
                detail = f"dead letter ({record.service}: {record.reason})"
                if event_id in trail:
                    trail[event_id].append(detail)
                continue
            event_id = record.id if isinstance(record, Event) else record.event_id
            if event_id in trail:
                detail = (
                    getattr(record, "status", None) or f"attempt {getattr(record, 'attempt', '')}"
                )
                trail[event_id].append(f"{topic.rsplit('.', 1)[-1]}:{detail}")
    return trail


def _read_all(settings: CommonSettings, topic: str) -> list[bytes]:
    consumer = Consumer(
        {
            **kafka_client_config(settings),
            "group.id": f"trace-{os.urandom(4).hex()}",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, 10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        values, done = [], 0
        while done < len(partitions):
            for msg in consumer.consume(500, 5):
                err = msg.error()
                if err is not None:
                    done += err.code() == KafkaError._PARTITION_EOF
                    continue
                values.append(msg.value() or b"")
        return values
    finally:
        consumer.close()


async def _router_unrouted(stack: Stack) -> str:
    """The router's count of events it routed nowhere, by reason (diagnostics only)."""
    url = stack.processes["router"]._ready_url.replace("/readyz", "/metrics")
    try:
        async with stack.http.get(url) as response:
            text = await response.text()
    except aiohttp.ClientError as exc:
        return f"metrics unavailable ({exc})"
    return "; ".join(
        line for line in text.splitlines() if line.startswith("signet_router_events_unrouted")
    )
