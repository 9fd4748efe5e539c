"""Deletes what is older than the retention period (``SIGNET_LOG_RETENTION_DAYS``), now and
then, in bounded steps so the projection's transactions never wait long behind it.

How it meets the hash chain: each chain loses a *prefix* (its oldest entries, through the
newest one logged before the cut-off), never a middle, and the chain head is kept. The
first entry left still names the hash before it (``prev_hash``); an export states that
hash as its anchor in the signed head, so a trimmed chain verifies from the anchor on,
and an export taken before the trim still verifies in full.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from signet_sdk.ids import now_ms

from services.portal.delivery_log.metrics import LogMetrics
from services.portal.delivery_log.store import LogStore, PurgeResult

logger = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
STEP_ROWS = 5_000


class RetentionTask:
    def __init__(
        self,
        store: LogStore,
        metrics: LogMetrics,
        *,
        retention_days: float,
        interval_seconds: float,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._retention_ms = int(retention_days * DAY_MS)
        self._interval = interval_seconds
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        if self._task is not None:
            return
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="portal-log-retention")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        await task

    async def purge_once(self) -> PurgeResult:
        """Delete everything past retention now, a step at a time; the total deleted."""
        cutoff = self._clock() - self._retention_ms
        attempts = deliveries = 0
        while not self._stopping.is_set():
            step = await self._store.purge(cutoff, max_rows=STEP_ROWS)
            attempts += step.attempts
            deliveries += step.deliveries
            self._metrics.purged.labels("attempts").inc(step.attempts)
            self._metrics.purged.labels("deliveries").inc(step.deliveries)
            if step.attempts + step.deliveries == 0:
                break
            await asyncio.sleep(0)  # let the projection's transactions in between steps
        if attempts or deliveries:
            logger.info("retention deleted %d attempts, %d deliveries", attempts, deliveries)
        return PurgeResult(attempts=attempts, deliveries=deliveries)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.purge_once()
            except Exception:  # retention must outlive a database hiccup
                logger.exception("retention failed; trying again in %gs", self._interval)
            try:
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            except TimeoutError:
                continue
