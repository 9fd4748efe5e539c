"""Wiring and lifecycle of one router worker.

Start order: the health server (so ``/healthz`` answers while the group forms), the
acknowledged producer and the direct broker reader, then the Faust app (which joins the
group, recovers the config table and starts the agents). Both agents reach their handler
through one :class:`Sequencer`, whose marks are what Faust commits (``transport.py``).
Stop in reverse: Faust drains the in-flight batches and commits what they acknowledged
(bounded by ``stop_timeout_seconds``; anything left uncommitted is processed again by
the next owner), then the producer flushes.

``/readyz`` is the broker probe and the clients' fatal states (``KafkaHealth``: our
producer, the broker reader, and ``faust`` for Faust's own clients) together with the
Faust app's assignment and recovery. A Faust client that died, a Faust app that stopped
on its own, or a worker showing no progress while the broker answers makes the worker
restart (``liveness.py``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Sequence

from confluent_kafka.admin import AdminClient
from prometheus_client import REGISTRY, CollectorRegistry

from services.router.health import READY_MEANS
from signet.catalog.view import EventTypeView
from signet.errors import ConfigurationError
from signet.kafka.clients import AsyncProducer, DeadLetterWriter
from signet.kafka.health import KafkaHealth
from signet.kafka.metrics import ConsumerMeter, lag_by_topic
from signet.kafka.topics import Topics, kafka_client_config
from signet.operator_webhook.view import OperatorWebhookView
from signet.settings import RouterSettings
from signet.web import HealthServer

from .backfill import BrokerReader
from .commands import CommandApplier
from .events import EventRouter
from .liveness import LivenessGuard, StallWatchdog
from .metrics import RouterMetrics
from .output import OutputWriter
from .sequencer import BatchHandler, ProcessedOffsets, Sequencer
from .source import SourceRecord
from .streams import QUIET_LIMIT_SECONDS, RouterStreams, consumer_group

logger = logging.getLogger(__name__)

SERVICE = "router"


class RouterService:
    def __init__(self, settings: RouterSettings, registry: CollectorRegistry = REGISTRY) -> None:
        self._settings = settings
        topics = Topics.from_settings(settings)
        self.metrics = RouterMetrics(registry)
        self._producer = AsyncProducer(settings, self.metrics.kafka)
        self.kafka_health = KafkaHealth(settings, self.metrics.kafka)
        self.kafka_health.watch(self._producer.state)
        # Faust's consumer is not librdkafka's: the lag is read off it (``_report_lag``).
        self._meter = ConsumerMeter(
            self.metrics.kafka,
            {"group.id": consumer_group(settings), "auto.offset.reset": "earliest"},
            interval_seconds=settings.consumer_lag_interval_seconds,
        )
        output = OutputWriter(
            self._producer, DeadLetterWriter(self._producer, topics, SERVICE), self.metrics
        )
        offsets = ProcessedOffsets()
        self._reader = BrokerReader(
            settings, consumer_group(settings), self.kafka_health.client("broker-reader")
        )
        sequencer = Sequencer(self._reader, offsets, self.metrics)
        self._watchdog = StallWatchdog(QUIET_LIMIT_SECONDS)
        self._liveness = LivenessGuard(
            self.kafka_health.client("faust"),
            self._watchdog,
            reachable=lambda: self.kafka_health.reachable,
            dead_client=lambda: self._streams.dead_client(),
        )
        self._streams = RouterStreams(
            settings,
            offsets,
            alive=self._watchdog.alive,
            on_dead_client=self._liveness.report,
            log_ends=self._reader.log_ends,
        )
        snapshots = self._streams.snapshots
        self.catalog = EventTypeView(settings)
        # Which destination changes the operator's webhook wants announced (announce.py).
        self._operator_webhook = OperatorWebhookView(settings)
        commands = CommandApplier(
            snapshots,
            output,
            self.metrics,
            partitions=settings.partitions,
            deliveries_topic=topics.deliveries,
            wants=self._operator_webhook.wants,
        )
        events = EventRouter(
            snapshots,
            output,
            topics,
            self.metrics,
            partitions=settings.partitions,
            catalog=self.catalog,
            require_cataloged=settings.require_cataloged_event_types,
        )
        self._streams.attach(
            on_commands=sequencer.wrap(self._counted(commands.apply_batch)),
            on_events=sequencer.wrap(self._counted(events.route_batch)),
        )
        self.metrics.workspaces.set_function(lambda: len(snapshots))
        self._health = HealthServer(
            settings.web_host,
            settings.web_port,
            title="Signet router",
            ready=self.ready,
            ready_means=READY_MEANS,
            registry=registry,
            kafka=self.kafka_health,
        )
        self._faust: asyncio.Task[None] | None = None
        self._lag: asyncio.Task[None] | None = None
        self._stopping = False

    def ready(self) -> bool:
        return (
            self._faust is not None
            and not self._stopping
            and self._streams.ready
            and self.catalog.ready
        )

    async def start(self) -> None:
        if self._faust is not None:
            return
        await asyncio.to_thread(check_copartitioned, self._settings)
        await self._health.start()
        await self.kafka_health.start()
        await self._producer.start()
        await self._reader.start()
        # Events produced straight to Kafka are checked against the catalog: read it all
        # before the first one is routed.
        await self.catalog.start()
        await self.catalog.wait_ready()
        await self._operator_webhook.start()
        await self._operator_webhook.wait_ready()
        # Faust's start returns only after the first table recovery: run it beside us so
        # a SIGTERM during a slow group join still stops the worker.
        self._faust = asyncio.create_task(self._run_faust(), name="faust")
        self._lag = asyncio.create_task(self._report_lag(), name="consumer-lag")
        await self._liveness.start()

    def _counted(self, handler: BatchHandler) -> BatchHandler:
        """``handler``, counting the records it was given (once each: behind the sequencer)."""

        async def handle(records: Sequence[SourceRecord]) -> None:
            await handler(records)
            self._watchdog.alive()
            for topic, n in collections.Counter(r.topic for r in records).items():
                self._meter.add(topic, n)

        return handle

    async def _report_lag(self) -> None:
        while True:
            self._meter.update(lag_by_topic(self._streams.source_offsets()))
            await asyncio.sleep(self._settings.consumer_lag_interval_seconds)

    async def _run_faust(self) -> None:
        app = self._streams.app
        try:
            await self._streams.start()
            await app.wait_until_stopped()
        except Exception:
            logger.exception("the Faust app failed")
        if not self._stopping:
            # Faust gave up (it crashed, or never started): a worker that consumes nothing
            # must not look alive. Stop and exit non-zero so the supervisor restarts us.
            self._liveness.report(f"the Faust app stopped on its own ({app.crash_reason!r})")

    async def stop(self) -> None:
        faust_task, self._faust = self._faust, None
        if faust_task is None:
            return
        self._stopping = True
        await self._liveness.stop()  # what stopping does to the clients is no failure
        if self._lag is not None:
            self._lag.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag
            self._meter.close()
        try:
            await asyncio.wait_for(self._streams.stop(), self._settings.stop_timeout_seconds)
        except TimeoutError:
            logger.warning(
                "Faust did not stop within %.0fs; uncommitted records will be processed again",
                self._settings.stop_timeout_seconds,
            )
        faust_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await faust_task
        await self._reader.stop()
        await self.catalog.stop()
        await self._operator_webhook.stop()
        await self._producer.stop()
        await self.kafka_health.stop()
        await self._health.stop()
        logger.info("router stopped: %s", self.metrics.summary())


def check_copartitioned(settings: RouterSettings) -> None:
    """Refuse to start when events, commands and config are not co-partitioned."""
    topics = Topics.from_settings(settings)
    names = (topics.events, topics.workspace_commands, topics.workspace_config, topics.deliveries)
    admin = AdminClient(kafka_client_config(settings))
    metadata = admin.list_topics(timeout=30)
    for name in names:
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None:
            raise ConfigurationError(f"topic {name} does not exist; run `signet topics ensure`")
    for name in names[:3]:
        count = len(metadata.topics[name].partitions)
        if count != settings.partitions:
            raise ConfigurationError(
                f"topic {name} has {count} partitions; the router needs {settings.partitions} "
                "on events, workspace-commands and workspace-config (co-partitioned)"
            )
