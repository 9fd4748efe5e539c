"""The load generators: as fast as they can go (peak), or at a fixed offered rate (paced).

Each event carries ``sent_at_ns`` in its payload, stamped when it is emitted, so the
receiver measures emit → receive latency from the body. Paced loads are open-loop: every
tick (50 ms) emits what the rate says is due, whether or not earlier events arrived.

- limit: a plain aiohttp client POSTing the body Signet would deliver straight to the
  receiver (no Kafka, no signing), ``concurrency`` requests at a time.
- ingest: Signet's HTTP ingest, bulk requests through :class:`signet_sdk.client.AsyncEventsClient`.
- kafka: straight to ``signet.events`` with :class:`signet_sdk.producer.EventProducer`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import orjson
from signet_sdk.client import AsyncEventsClient, AuthenticationError

from signet.dev.devstack.info import SEED_EVENT, SEED_PAYLOAD, SEED_RESOURCE, SEED_RESOURCE_ID
from signet.producer import EventProducer
from signet.settings import CommonSettings

TICK_SECONDS = 0.05
JSON = {"content-type": "application/json"}


def seed_event(sent_at_ns: int) -> dict[str, Any]:
    return {
        "event": SEED_EVENT,
        "resource": SEED_RESOURCE,
        "resource_id": SEED_RESOURCE_ID,
        "payload": {**SEED_PAYLOAD, "sent_at_ns": sent_at_ns},
    }


def delivery_body(index: int, sent_at_ns: int) -> bytes:
    """The body Signet delivers for the seed event (same shape and size)."""
    return orjson.dumps(
        {
            "id": f"evt_{index:026d}",
            "type": SEED_EVENT,
            "resource": SEED_RESOURCE,
            "resource_id": SEED_RESOURCE_ID,
            "workspace_id": "ws_01BENCHMARKLIMIT000000000",
            "created_at": "2026-04-17T18:22:00.000Z",
            "data": {**SEED_PAYLOAD, "sent_at_ns": sent_at_ns},
        }
    )


async def paced(
    rate: float, duration: float, emit: Callable[[int], Coroutine[Any, Any, None]]
) -> int:
    """Call ``emit(n)`` every tick with the events due at ``rate``/s; returns how many."""
    started = time.monotonic()
    emitted = 0
    tasks: set[asyncio.Task[None]] = set()
    for tick in itertools.count(1):
        due_at = started + tick * TICK_SECONDS
        if due_at - started > duration:
            break
        await asyncio.sleep(max(0.0, due_at - time.monotonic()))
        due = int(rate * (time.monotonic() - started)) - emitted
        if due > 0:
            emitted += due
            task = asyncio.create_task(emit(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return emitted


# -- (a) the limit -------------------------------------------------------------------------


class LimitLoad:
    def __init__(self, url: str, concurrency: int) -> None:
        self._url = url
        self._concurrency = concurrency
        self._index = itertools.count()

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._concurrency))

    async def _post(self, http: aiohttp.ClientSession) -> None:
        body = delivery_body(next(self._index), time.time_ns())
        async with http.post(self._url, data=body, headers=JSON) as response:
            await response.read()

    async def peak(self, count: int) -> None:
        remaining = iter(range(count))
        async with self._session() as http:

            async def worker() -> None:
                for _ in remaining:
                    await self._post(http)

            await asyncio.gather(*(worker() for _ in range(self._concurrency)))

    async def paced(self, rate: float, duration: float) -> int:
        async with self._session() as http:  # the connector's limit is the concurrency cap

            async def emit(n: int) -> None:
                await asyncio.gather(*(self._post(http) for _ in range(n)))

            return await paced(rate, duration, emit)


# -- (b) HTTP ingest, bulk ------------------------------------------------------------------


class IngestLoad:
    def __init__(
        self,
        ingest_url: str,
        publishable_key: str,
        *,
        batch: int,
        concurrency: int,
        session: aiohttp.ClientSession | None = None,  # the caller's, which it closes
    ):
        self._client = AsyncEventsClient(publishable_key, base_url=ingest_url, session=session)
        self._batch = batch
        self._concurrency = concurrency

    async def close(self) -> None:
        await self._client.close()

    async def ready(self, timeout: float = 30.0) -> None:
        """Until the ingest knows the workspace's key (its config view may lag the portal)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self._client.emit_bulk([seed_event(time.time_ns())])
                return
            except AuthenticationError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def _bulk(self, n: int) -> None:
        now = time.time_ns()
        items = await self._client.emit_bulk([seed_event(now) for _ in range(n)])
        refused = [i for i in items if not i.accepted]
        if refused:
            raise RuntimeError(f"{len(refused)} events refused, first: {refused[0]}")

    async def peak(self, count: int) -> None:
        sizes = iter([self._batch] * (count // self._batch) + [count % self._batch])

        async def worker() -> None:
            for size in sizes:
                if size:
                    await self._bulk(size)

        await asyncio.gather(*(worker() for _ in range(self._concurrency)))

    async def paced(self, rate: float, duration: float) -> int:
        return await paced(rate, duration, self._bulk)


# -- (c) straight to Kafka ------------------------------------------------------------------


class KafkaLoad:
    """One long-lived producer, as a real high-volume producer is: an idempotent
    producer's first records wait for its producer id (about a second on Tansu), which is
    start-up, not what a running producer's events pay; the warm-up's ``peak`` takes it."""

    def __init__(self, bootstrap: str, workspace_id: str) -> None:
        self._producer = EventProducer(CommonSettings(kafka_bootstrap=bootstrap))
        self._workspace_id = workspace_id

    def _emit(self, n: int) -> None:
        now = time.time_ns()
        for _ in range(n):
            event = seed_event(now)
            self._producer.emit(
                self._workspace_id,
                event=event["event"],
                resource=event["resource"],
                resource_id=event["resource_id"],
                payload=event["payload"],
            )

    def _peak(self, count: int) -> None:
        self._emit(count)
        self._producer.flush()

    def _paced(self, rate: float, duration: float) -> int:
        emitted = 0
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < duration:
            due = int(rate * elapsed) - emitted
            if due > 0:
                self._emit(due)
                emitted += due
            self._producer.poll(0)
            time.sleep(TICK_SECONDS / 5)
        self._producer.flush()
        return emitted

    async def close(self) -> None:
        await asyncio.to_thread(self._producer.close)

    async def peak(self, count: int) -> None:
        await asyncio.to_thread(self._peak, count)

    async def paced(self, rate: float, duration: float) -> int:
        return await asyncio.to_thread(self._paced, rate, duration)
