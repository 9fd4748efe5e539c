"""The soak's load (``bench/soak.py``): path (b), paced, as a careful client sends it.

Every event has its own idempotency key; 429, 5xx, timeouts and connection errors are
retried with backoff by ``signet_sdk.client`` and, when its attempts run out, again with
the same keys, so a retry never delivers twice. Every answer is counted, and every one
that was retried is timed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from types import SimpleNamespace

import aiohttp
from signet_sdk.client import RETRY_STATUSES, ClientError, UnavailableError

from bench.loads import IngestLoad, seed_event

BATCH = 250  # path (b)'s peak, as bench.e2e sends it
INGEST_CONCURRENCY = 4
MAX_IN_FLIGHT = 64  # bulk requests of the soak's load at once (fewer than aiohttp's 100)
GIVE_UP_SECONDS = 180.0  # a bulk still not acknowledged after this is counted given up
RETRY_PAUSE_SECONDS = 1.0  # between the client's exhausted attempts and the next round


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
