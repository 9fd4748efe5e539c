"""Deletes what is older than the retention period (``SIGNET_LOG_RETENTION_DAYS``, or a
workspace's own ``log_retention_days``), now and then, in bounded steps so the
projection's transactions never wait long behind it. Erasure markers (``log_erasures``)
are never deleted: they are what keeps an erased payload from coming back.

How it meets the hash chain: each chain loses a *prefix* (its oldest entries, through the
newest one logged before the cut-off), never a middle, and the chain head is kept. The
first entry left still names the hash before it (``prev_hash``); an export states that
hash as its anchor in the signed head, so a trimmed chain verifies from the anchor on,
and an export taken before the trim still verifies in full.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

from signet_sdk.ids import now_ms

from services.portal.delivery_log.metrics import LogMetrics
from services.portal.delivery_log.store import LogStore, PurgeResult
from signet.records.model import WorkspaceConfig

logger = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
STEP_ROWS = 5_000


# Each workspace's own retention in days, for those that have one (operator API:
# ``PATCH /v1/workspaces/{id}``); the others keep the global setting.
OwnRetention = Callable[[], Mapping[str, float]]


def no_own_retention() -> Mapping[str, float]:
    return {}


class Workspaces(Protocol):
    def workspaces(self) -> list[WorkspaceConfig]: ...


def own_log_retention(workspaces: Workspaces) -> dict[str, float]:
    """The workspaces (of a config view) that have a retention of their own, in days."""
    return {
        config.workspace_id: config.log_retention_days
        for config in workspaces.workspaces()
        if config.log_retention_days is not None
    }


class RetentionTask:
    def __init__(
        self,
        store: LogStore,
        metrics: LogMetrics,
        *,
        retention_days: float,
        interval_seconds: float,
        own_retention: OwnRetention = no_own_retention,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._retention_ms = int(retention_days * DAY_MS)
        self._interval = interval_seconds
        self._own_retention = own_retention
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
        """Delete everything past retention now, a step at a time; the total deleted.

        The global retention for every workspace without one of its own, then each of
        those with its own."""
        now = self._clock()
        own = dict(self._own_retention())
        total = await self._purge(now - self._retention_ms, excluding=own)
        for workspace_id, days in sorted(own.items()):
            more = await self._purge(now - int(days * DAY_MS), workspace_id=workspace_id)
            total = PurgeResult(
                attempts=total.attempts + more.attempts,
                deliveries=total.deliveries + more.deliveries,
                buckets=total.buckets + more.buckets,
            )
        if total.attempts or total.deliveries or total.buckets:
            logger.info(
                "retention deleted %d attempts, %d deliveries, %d health buckets",
                total.attempts,
                total.deliveries,
                total.buckets,
            )
        return total

    async def _purge(
        self, cutoff: int, *, workspace_id: str | None = None, excluding: Collection[str] = ()
    ) -> PurgeResult:
        attempts = deliveries = buckets = 0
        while not self._stopping.is_set():
            step = await self._store.purge(
                cutoff, max_rows=STEP_ROWS, workspace_id=workspace_id, excluding=excluding
            )
            attempts += step.attempts
            deliveries += step.deliveries
            buckets += step.buckets
            self._metrics.purged.labels("attempts").inc(step.attempts)
            self._metrics.purged.labels("deliveries").inc(step.deliveries)
            self._metrics.purged.labels("stats_buckets").inc(step.buckets)
            if step.attempts + step.deliveries + step.notes + step.buckets == 0:
                break
            await asyncio.sleep(0)  # let the projection's transactions in between steps
        return PurgeResult(attempts=attempts, deliveries=deliveries, buckets=buckets)

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
