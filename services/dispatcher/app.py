"""Wiring and lifecycle of the dispatcher process.

Start order: health server, config view (caught up before anything is sent, so no live
destination looks deleted), producer, HTTP sender, consumer (deliveries and the retry
tiers, in this one process: ``consumer.py``). Stop runs the reverse: the consumer stops
polling and releasing retries, drains in-flight requests (their outcomes and next
retries are written and acknowledged), commits, and leaves the group (held retries stay
uncommitted on their tiers); then the producer flushes and the rest closes.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

from services.dispatcher.breaker import CircuitBreakers
from services.dispatcher.consumer import DeliveryConsumer
from services.dispatcher.disabling import DestinationDisabler
from services.dispatcher.fifo import FifoLines
from services.dispatcher.guards import EndpointGuards
from services.dispatcher.health import EndpointHealth
from services.dispatcher.limits import DestinationLimiter
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.operator_hook import OperatorHook
from services.dispatcher.outcomes import OutcomeWriter
from services.dispatcher.pipeline import DeliveryPipeline
from services.dispatcher.rate import RateLimiter
from services.dispatcher.retry import RetryScheduler
from services.dispatcher.schedule import RetrySchedule
from services.dispatcher.sender import Sender
from services.dispatcher.signing_keys import SigningKeys
from signet.kafka.clients import AsyncProducer, DeadLetterWriter
from signet.kafka.config_view import ConfigView
from signet.kafka.consumer import RecordingGate
from signet.kafka.fifo_line_view import FifoLineView
from signet.kafka.health import KafkaHealth
from signet.kafka.topics import Topics
from signet.operator_webhook.view import OperatorWebhookView
from signet.security.egress import EgressProxy
from signet.security.secrets import MasterKeyRing
from signet.security.ssrf import DestinationGuard, DestinationPolicy
from signet.settings import DispatcherSettings
from signet.web import HealthServer

logger = logging.getLogger(__name__)

# A delivery waits in memory for its rate-limit slot up to this; longer, on a retry tier.
# Short: each one waiting holds a place of max_pending.
RATE_WAIT_SECONDS = 1.0
SERVICE = "dispatcher"


class Dispatcher:
    def __init__(self, settings: DispatcherSettings) -> None:
        # Parsed first: a missing or malformed key ring refuses to start (ConfigurationError).
        self._ring = MasterKeyRing.parse(settings.master_keys.get_secret_value())
        proxy_url = settings.egress_proxy_url
        self._proxy = EgressProxy.from_settings(
            proxy_url.get_secret_value() if proxy_url else None, settings.egress_no_proxy
        )
        self._settings = settings
        self.metrics = DispatcherMetrics()
        self.kafka_health = KafkaHealth(settings, self.metrics.kafka)
        self._stack: AsyncExitStack | None = None
        self._view: ConfigView | None = None
        self._consumer: DeliveryConsumer | None = None

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
            # Where each FIFO destination's line stood (fifo.py): read before any is decided.
            line_view = FifoLineView(settings)
            await line_view.start()
            stack.push_async_callback(line_view.stop)
            await line_view.wait_ready(settings.config_ready_timeout_seconds)
            operator_view = OperatorWebhookView(settings)
            await operator_view.start()
            stack.push_async_callback(operator_view.stop)
            await operator_view.wait_ready(settings.config_ready_timeout_seconds)

            # What it writes (outcomes, retries, disables) is never on a delivery's way to
            # its receiver: a longer linger batches more and wakes librdkafka less.
            producer = AsyncProducer(settings, self.metrics.kafka, **{"linger.ms": 10})
            self.kafka_health.watch(producer.state)
            await producer.start()
            stack.push_async_callback(producer.stop)

            sender = Sender(
                guard,
                connect_timeout_seconds=settings.connect_timeout_seconds,
                excerpt_bytes=settings.response_excerpt_bytes,
                proxy=self._proxy,
            )
            await sender.start()
            stack.push_async_callback(sender.stop)
            # The operator's webhook is its own backend, often in-cluster: no SSRF guard. It
            # still leaves through the egress proxy, like every post (SIGNET_EGRESS_NO_PROXY
            # names the hosts reached directly, an in-cluster one for instance).
            operator_sender = Sender(
                DestinationGuard(DestinationPolicy(allow_insecure=True, allow_private=True)),
                connect_timeout_seconds=settings.connect_timeout_seconds,
                excerpt_bytes=settings.response_excerpt_bytes,
                proxy=self._proxy,
            )
            await operator_sender.start()
            stack.push_async_callback(operator_sender.stop)

            topics = Topics.from_settings(settings)
            outcomes = OutcomeWriter(producer, topics)
            # Shut while outcomes or commits cannot be recorded (a stalled broker): no new
            # request starts, no new delivery is taken.
            gate = RecordingGate(producer, settings.recording_stall_seconds)
            pipeline = DeliveryPipeline(
                directory=view,
                keys=SigningKeys(self._ring),
                sender=sender,
                outcomes=outcomes,
                retries=RetryScheduler(producer, topics, self.metrics),
                guards=EndpointGuards(
                    rate=RateLimiter(),
                    rate_wait_seconds=RATE_WAIT_SECONDS,
                    limiter=DestinationLimiter(
                        settings.max_in_flight_per_destination,
                        queue_per_destination=settings.max_queued_per_destination,
                        max_queue_wait_seconds=settings.max_queue_wait_seconds,
                        total=settings.max_in_flight,
                    ),
                    breakers=CircuitBreakers(
                        threshold=settings.breaker_failure_threshold,
                        cooldown_seconds=settings.breaker_cooldown_seconds,
                        max_cooldown_seconds=settings.breaker_max_cooldown_seconds,
                    ),
                    health=EndpointHealth(settings.disable_after_failing_seconds),
                    disabler=DestinationDisabler(producer, topics, outcomes, self.metrics),
                    window_seconds=settings.disable_after_failing_seconds,
                ),
                schedule=RetrySchedule.from_settings(settings),
                metrics=self.metrics,
                default_timeout_seconds=settings.request_timeout_seconds,
                config_wait_seconds=settings.config_wait_seconds,
                recording=gate,
                operator=OperatorHook(operator_view, operator_sender, producer, topics.deliveries),
            )
            # A FIFO destination waits for each write of its line's record in turn: no linger.
            line_producer = AsyncProducer(settings, self.metrics.kafka, **{"linger.ms": 0})
            self.kafka_health.watch(line_producer.state)
            await line_producer.start()
            stack.push_async_callback(line_producer.stop)
            lines = FifoLines(
                pipeline,
                view,
                line_producer,
                topics,
                line_view,
                config_wait_seconds=settings.config_wait_seconds,
                max_wait_seconds=settings.fifo_max_wait_seconds,
            )
            stack.push_async_callback(lines.close)
            consumer = self._consumer = DeliveryConsumer(
                settings,
                lines,
                DeadLetterWriter(producer, topics, SERVICE),
                self.metrics,
                gate=gate,
                lines=lines,
            )
            self.kafka_health.watch(consumer.client_state)
            self.metrics.track_in_flight(lambda: consumer.in_flight)
            flow = consumer.held_flow
            self.metrics.track_fifo_held(lambda: flow.held, lambda: flow.peak)
            await consumer.start()
            stack.push_async_callback(consumer.stop)
            self._stack = stack.pop_all()

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
                title="Signet dispatcher",
                ready=self.ready,
                ready_means="Config caught up and consuming deliveries and retries "
                "(503 until then)",
                registry=self.metrics.registry,
                kafka=self.kafka_health,
            )
        )
        logger.info(
            "dispatcher health and metrics on http://%s:%d",
            self._settings.metrics_host,
            self._settings.metrics_port,
        )
