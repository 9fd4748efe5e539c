"""Wiring and lifecycle of the alerter process.

Start order: health server, config view (caught up first, so a workspace's channels are
known before its outcomes are read), producer (dead letters), Slack sender, the alert
pipeline, consumer. Stop runs the reverse: the consumer stops reading, the pipeline
sends every pending digest and waits for in-flight alerts (bounded by
``shutdown_timeout_seconds``), the consumer commits what completed and leaves the group,
then the producer flushes and the rest closes.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

from services.alerter.alerts import AlertPipeline, Held
from services.alerter.consumer import OutcomeConsumer
from services.alerter.messages import EventLinks
from services.alerter.metrics import AlerterMetrics
from services.alerter.slack import RetryBudget, SlackSender
from services.alerter.storm import StormControl
from signet.kafka.clients import AsyncProducer, DeadLetterWriter
from signet.kafka.config_view import ConfigView
from signet.kafka.consumer import RecordingGate
from signet.kafka.health import KafkaHealth
from signet.kafka.topics import Topics
from signet.security.egress import EgressProxy
from signet.security.secrets import MasterKeyRing
from signet.security.ssrf import DestinationGuard, DestinationPolicy
from signet.settings import AlerterSettings
from signet.web import HealthServer

logger = logging.getLogger(__name__)

SERVICE = "alerter"


class Alerter:
    def __init__(self, settings: AlerterSettings) -> None:
        # Parsed first: a missing or malformed key ring refuses to start (ConfigurationError).
        self._ring = MasterKeyRing.parse(settings.master_keys.get_secret_value())
        proxy_url = settings.egress_proxy_url
        self._proxy = EgressProxy.from_settings(
            proxy_url.get_secret_value() if proxy_url else None, settings.egress_no_proxy
        )
        self._settings = settings
        self.metrics = AlerterMetrics()
        self.kafka_health = KafkaHealth(settings, self.metrics.kafka)
        self._stack: AsyncExitStack | None = None
        self._view: ConfigView | None = None
        self._consumer: OutcomeConsumer | None = None

    def ready(self) -> bool:
        view, consumer = self._view, self._consumer
        return view is not None and view.ready and consumer is not None and consumer.subscribed

    async def start(self) -> None:
        if self._stack is not None:
            return
        settings = self._settings
        async with AsyncExitStack() as stack:
            await self._start_health_server(stack)
            await stack.enter_async_context(self.kafka_health)

            guard = DestinationGuard(
                DestinationPolicy(
                    allow_insecure=settings.allow_insecure_destinations,
                    allow_private=settings.allow_private_destinations,
                )
            )
            guard.warn_if_permissive()

            view = self._view = ConfigView(settings)
            await view.start()
            stack.push_async_callback(view.stop)
            await view.wait_ready(settings.config_ready_timeout_seconds)

            producer = AsyncProducer(settings, self.metrics.kafka)
            self.kafka_health.watch(producer.state)
            await producer.start()
            stack.push_async_callback(producer.stop)

            slack = SlackSender(
                guard,
                self.metrics,
                budget=RetryBudget(
                    max_attempts=settings.slack_max_attempts,
                    initial_backoff_seconds=settings.slack_backoff_initial_seconds,
                    max_backoff_seconds=settings.slack_backoff_max_seconds,
                    max_retry_after_seconds=settings.slack_retry_after_max_seconds,
                ),
                timeout_seconds=settings.slack_timeout_seconds,
                proxy=self._proxy,
            )
            await slack.start()
            stack.push_async_callback(slack.stop)

            pipeline = AlertPipeline(
                directory=view,
                ring=self._ring,
                slack=slack,
                dead_letters=DeadLetterWriter(producer, Topics.from_settings(settings), SERVICE),
                storm=StormControl[Held](
                    settings.storm_window_seconds, examples=settings.digest_examples
                ),
                links=EventLinks(settings.public_url),
                metrics=self.metrics,
                max_in_flight=settings.max_in_flight,
                config_wait_seconds=settings.config_wait_seconds,
                drain_timeout_seconds=settings.shutdown_timeout_seconds,
            )
            await pipeline.start()
            stack.push_async_callback(pipeline.drain)  # if the consumer never started
            # The consumer's stop drains the pipeline (pending digests) before its commit.
            consumer = self._consumer = OutcomeConsumer(
                settings,
                pipeline,
                self.metrics.kafka,
                gate=RecordingGate(producer, settings.recording_stall_seconds),
            )
            self.kafka_health.watch(consumer.client_state)
            await consumer.start()
            stack.push_async_callback(consumer.stop)
            self._stack = stack.pop_all()
        logger.info(
            "alerter: storm window %gs, Slack retry budget %d attempts, links to %s/embed",
            settings.storm_window_seconds,
            settings.slack_max_attempts,
            settings.public_url.rstrip("/"),
        )

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        self._consumer = self._view = None

    async def _start_health_server(self, stack: AsyncExitStack) -> None:
        settings = self._settings
        await stack.enter_async_context(
            HealthServer(
                settings.metrics_host,
                settings.metrics_port,
                title="Signet alerter",
                ready=self.ready,
                ready_means="Config caught up and consuming outcomes (503 until then)",
                registry=self.metrics.registry,
                kafka=self.kafka_health,
            )
        )
        logger.info(
            "alerter health and metrics on http://%s:%d",
            self._settings.metrics_host,
            self._settings.metrics_port,
        )
