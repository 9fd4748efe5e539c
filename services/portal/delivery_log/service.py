"""The delivery log as one portal component: store, projection, retention and log keys.

Built with the portal (bad settings refuse to build), started and stopped with its HTTP
app (``running`` is an aiohttp cleanup context): the store opens before the first request
and closes after the last one finished. ``log_projection_enabled=false`` makes a replica
that only serves the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.portal.delivery_log.factory import store_for
from services.portal.delivery_log.metrics import LogMetrics
from services.portal.delivery_log.projection import LogProjection
from services.portal.delivery_log.retention import (
    OwnRetention,
    RetentionTask,
    no_own_retention,
)
from services.portal.delivery_log.signing import LogKeys
from services.portal.delivery_log.sql_store import SqlLogStore
from signet.kafka.clients import AsyncProducer, DeadLetterWriter
from signet.kafka.metrics import KafkaMetrics
from signet.kafka.topics import Topics
from signet.settings import PortalSettings

logger = logging.getLogger(__name__)

SERVICE_NAME = "portal-log"


class DeliveryLog:
    def __init__(
        self,
        settings: PortalSettings,
        producer: AsyncProducer,
        registry: CollectorRegistry,
        kafka_metrics: KafkaMetrics,
        *,
        own_retention: OwnRetention = no_own_retention,
    ) -> None:
        self.store: SqlLogStore = store_for(
            settings.database_url, pool_size=settings.database_pool_size
        )
        self.keys = LogKeys.from_settings(settings)
        self.metrics = LogMetrics.create(registry)
        self.projection: LogProjection | None = None
        self.retention: RetentionTask | None = None
        if settings.log_projection_enabled:
            dead_letters = DeadLetterWriter(producer, Topics.from_settings(settings), SERVICE_NAME)
            self.projection = LogProjection(
                settings, self.store, dead_letters, self.metrics, kafka_metrics
            )
            self.retention = RetentionTask(
                self.store,
                self.metrics,
                retention_days=settings.log_retention_days,
                interval_seconds=settings.log_retention_interval_seconds,
                own_retention=own_retention,
            )
        self._started = False

    @property
    def ready(self) -> bool:
        """The store is open and, where this replica projects, the projection runs."""
        return self._started and (self.projection is None or self.projection.running)

    async def start(self) -> None:
        if self._started:
            return
        await self.store.start()
        try:
            if self.projection is not None:
                await self.projection.start()
            if self.retention is not None:
                await self.retention.start()
        except BaseException:
            await self._stop_parts()
            raise
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self._stop_parts()

    async def _stop_parts(self) -> None:
        if self.retention is not None:
            await self.retention.stop()
        if self.projection is not None:
            await self.projection.stop()
        await self.store.stop()

    async def running(self, _: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``: up with the app, down after its last request."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()
