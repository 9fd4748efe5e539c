"""Wiring and lifecycle of the ingest gateway (docs/architecture.md#ingest, port 8080).

``IngestApp.start`` follows ``workspace-config`` (publishable keys), starts the
acknowledged producer and listens; ``/readyz`` turns green once the config view caught up,
and is 503 while the broker does not answer its probe (``signet/kafka/health.py``). A
producer the broker fenced after a stall is replaced at once (``signet/kafka/clients.py``).
``stop`` closes the listener, lets in-flight requests finish (``shutdown_timeout_seconds``),
flushes the producer, then stops the config view. Both are idempotent.
"""

from __future__ import annotations

import logging

from aiohttp import web

from services.ingest.auth import PublishableKeyAuth
from services.ingest.contract import Limits
from services.ingest.handlers import EventHandlers
from services.ingest.idempotency import IdempotencyCache
from services.ingest.intake import EventIntake
from services.ingest.metrics import IngestMetrics
from signet import tracing
from signet.api.operations import Api
from signet.catalog.view import EventTypeView
from signet.kafka.clients import AsyncProducer
from signet.kafka.config_view import ConfigView
from signet.kafka.health import KafkaHealth
from signet.kafka.topics import Topics
from signet.settings import IngestSettings
from signet.web import add_health_routes, problem_middleware

logger = logging.getLogger(__name__)

API_TITLE = "Signet ingest"
API_VERSION = "1"
API_DESCRIPTION = (
    "Emit product events to Signet, which delivers them as signed webhooks to every "
    "subscribed destination of the workspace. A 202 means the event is durably on the "
    "broker (acks=all)."
)


class IngestApp:
    """The gateway. ``producer`` and ``config_view`` may be given (another broker, tests)."""

    def __init__(
        self,
        settings: IngestSettings,
        *,
        producer: AsyncProducer | None = None,
        config_view: ConfigView | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = IngestMetrics()
        self.config_view = config_view or ConfigView(settings)
        self.catalog = EventTypeView(settings)
        # librdkafka gives up on a record about when we stop waiting for it, so a 503
        # rarely leaves a record that still lands later.
        timeout_ms = int(settings.produce_timeout_seconds * 1000)
        self.producer = producer or AsyncProducer(
            settings, self.metrics.kafka, **{"message.timeout.ms": timeout_ms}
        )
        # The broker probe and the producer's fatal state: /readyz and /healthz.
        self.kafka_health = KafkaHealth(settings, self.metrics.kafka)
        self.kafka_health.watch(self.producer.state)
        self.idempotency = IdempotencyCache(
            ttl_seconds=settings.idempotency_ttl_seconds,
            max_entries=settings.idempotency_cache_size,
        )
        intake = EventIntake(
            self.producer,
            Topics.from_settings(settings).events,
            self.idempotency,
            self.metrics,
            timeout_seconds=settings.produce_timeout_seconds,
            max_in_flight=settings.max_in_flight_events,
        )
        self._handlers = EventHandlers(
            PublishableKeyAuth(
                self.config_view, unknown_key_wait_seconds=settings.unknown_key_wait_seconds
            ),
            intake,
            self.metrics,
            Limits(
                max_payload_bytes=settings.max_payload_bytes,
                max_bulk_events=settings.max_bulk_events,
                max_bulk_body_bytes=settings.max_bulk_body_bytes,
                idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
            ),
            self.catalog,
            require_cataloged=settings.require_cataloged_event_types,
        )
        self._runner: web.AppRunner | None = None
        self._producer_started = False
        self._draining = False

    def build(self) -> web.Application:
        """The aiohttp application with every route and middleware."""
        return self.build_api()[0]

    def build_api(self) -> tuple[web.Application, Api]:
        """The application, and the :class:`Api` its routes declared in (its ``document()``
        is what ``/openapi.json`` serves). Nothing connects: the app is not started."""
        # The trace span outermost: it sees the status the other two settle on.
        app = web.Application(
            middlewares=[tracing.server_middleware, self.metrics.middleware, problem_middleware]
        )
        api = Api(API_TITLE, API_VERSION, description=API_DESCRIPTION)
        api.route(app, self._handlers.post_event)
        api.route(app, self._handlers.post_bulk)
        add_health_routes(
            app,
            api=api,
            ready=self.ready,
            registry=self.metrics.registry,
            kafka=self.kafka_health,
        )
        return app, api

    def ready(self) -> bool:
        return (
            self.config_view.ready
            and self.catalog.ready
            and self._producer_started
            and not self._draining
        )

    @property
    def port(self) -> int:
        """The port listened on (useful when the settings said 0)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("IngestApp is not started")
        return int(self._runner.addresses[0][1])

    @property
    def url(self) -> str:
        host = self.settings.host if self.settings.host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._draining = False
        await self.kafka_health.start()
        await self.config_view.start()
        await self.catalog.start()
        await self.producer.start()
        self._producer_started = True
        runner = web.AppRunner(
            self.build(),
            access_log=None,  # /metrics counts requests; a log line each is too dear here
            shutdown_timeout=self.settings.shutdown_timeout_seconds,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        await site.start()
        self._runner = runner
        logger.info("ingest listening on %s:%d", self.settings.host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self._draining = True
        if runner is not None:
            # Stops listening, then waits for in-flight handlers up to shutdown_timeout.
            await runner.cleanup()
        if self._producer_started:
            await self.producer.stop(timeout=self.settings.produce_timeout_seconds)
            self._producer_started = False
        await self.catalog.stop()
        await self.config_view.stop()
        await self.kafka_health.stop()
        logger.info("ingest stopped; idempotency keys remembered: %d", len(self.idempotency))

    async def __aenter__(self) -> IngestApp:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
