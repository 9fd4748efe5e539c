"""Wiring and lifecycle of the portal: producer, config view, command bus, HTTP server.

``PortalService`` refuses to be built without an operator key and a master key ring;
``start()`` connects to Kafka, starts following ``workspace-config`` and then listens;
``stop()`` stops accepting requests, lets in-flight ones finish, and flushes the producer.
"""

from __future__ import annotations

import logging
import time
from contextlib import AsyncExitStack
from functools import partial
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

import signet
from services.portal import delivery_log_api, idempotency
from services.portal.actions_api import ActionsApi
from services.portal.auth import OperatorGuard, SessionGuard
from services.portal.commands import CommandBus
from services.portal.delivery_log.idempotency_keys import IdempotencyKeys
from services.portal.delivery_log.retention import own_log_retention
from services.portal.delivery_log.service import DeliveryLog
from services.portal.destination_fields import DestinationRules
from services.portal.destinations import DestinationBuilder
from services.portal.embed import routes as embed_routes
from services.portal.erasure_api import ErasureApi
from services.portal.event_types_api import CatalogWriter, EventTypesApi
from services.portal.idempotency import Once
from services.portal.line_api import LineApi
from services.portal.metrics import PortalMetrics
from services.portal.operator_api import OperatorApi
from services.portal.operator_webhook_api import OperatorWebhookApi
from services.portal.problems import require_caught_up, translate_errors
from services.portal.replay_api import ReplayApi
from services.portal.sessions import SessionSigner, normalize_origin
from services.portal.signing_secrets import SchemeCatalog
from services.portal.stats_api import StatsApi
from services.portal.workspace_api import WorkspaceApi
from signet import tracing
from signet.api.operations import Api, Reply, Webhook
from signet.api.webhook import EVENT_WEBHOOK, WebhookBody, WebhookHeaders
from signet.catalog.view import EventTypeView
from signet.errors import ConfigurationError
from signet.kafka.clients import AsyncProducer
from signet.kafka.config_view import ConfigView
from signet.kafka.fifo_line_view import FifoLineView
from signet.kafka.health import KafkaHealth
from signet.kafka.topics import Topics
from signet.operator_webhook.view import OperatorWebhookView
from signet.security.secrets import MasterKeyRing
from signet.settings import PortalSettings
from signet.web import Handler, add_health_routes, answered, problem_middleware

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
SHUTDOWN_SECONDS = 10.0
API_DESCRIPTION = (
    "Operator API (Bearer operator key) and workspace API (Bearer session token). Errors "
    "are application/problem+json (RFC 9457); a refused request names each bad field "
    '(`{"field", "code", "message"}`). Every write is answered once it is applied '
    "(read-your-writes)."
)
API_TAGS = {
    "operator": "The SaaS's backend: workspaces, publishable keys, embed sessions",
    "workspace": "One workspace, for a session: its destinations",
    "actions": "Rotate a secret, send a test event, replay and recover deliveries",
    "delivery log": "What was delivered, each attempt, and the signed export",
    "event types": "The event-type catalog: the types the SaaS emits, with schemas and examples",
    "embed": "The embeddable workspace UI",
    "operations": "Probes, metrics and this document",
}


# What Signet sends to a webhook destination, and what it makes of the receiver's answer
# (docs/delivery.md, "Outcomes"): the document's `webhooks` entry.
_RETRY_AFTER = {"Retry-After": "seconds or an HTTP date: retried no sooner (at most 12 h)"}
DELIVERED_EVENT = Webhook(
    EVENT_WEBHOOK,
    "An event, delivered to a webhook destination",
    WebhookBody,
    {
        "2XX": Reply("delivered: answer within the destination's timeout, work afterwards"),
        410: Reply("Gone: failed, and the destination is disabled at once"),
        429: Reply("failed, retried no sooner than `Retry-After`", headers=_RETRY_AFTER),
        503: Reply("failed, retried no sooner than `Retry-After`", headers=_RETRY_AFTER),
        "default": Reply(
            "failed, retried on the destination's schedule (a 3xx too: redirects are "
            "not followed; a timeout or a refused connection likewise)"
        ),
    },
    description="Signet POSTs each event to every enabled webhook destination whose "
    "`event_types` match it, signed by the destination's `signature_scheme` "
    "(docs/receiving-webhooks.md). The body is the same bytes for every destination, "
    "retry and replay; deduplicate on `webhook-id`. A test event "
    "(`POST …/destinations/{destination_id}/test`) has the type `signet.test`.",
    headers=WebhookHeaders,
)


def portal_api(public_url: str) -> Api:
    """The portal's operations, filled in by each module's ``register``, and the
    delivered webhook."""
    api = Api(
        "Signet portal",
        signet.__version__,
        description=API_DESCRIPTION,
        tags=API_TAGS,
        servers=[public_url.rstrip("/")],
    )
    api.webhook(DELIVERED_EVENT)
    return api


def public_origin(public_url: str) -> str:
    """The origin the embed is served from; the portal's own pages may always call it."""
    parts = urlsplit(public_url)
    origin = normalize_origin(f"{parts.scheme}://{parts.netloc}") if parts.netloc else None
    if origin is None:
        raise ConfigurationError(f"SIGNET_PUBLIC_URL {public_url!r} is not an http(s) URL")
    return origin


def count_requests(metrics: PortalMetrics) -> Middleware:
    @web.middleware
    async def counted(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"

        def count(status: int) -> None:
            metrics.requests.labels(request.method, route, str(status)).inc()

        return await answered(request, handler, count)

    return counted


class PortalService:
    """The whole portal process, minus signal handling (``signet.runner``)."""

    def __init__(self, settings: PortalSettings) -> None:
        operator_key = settings.operator_key.get_secret_value()
        if not operator_key:
            raise ConfigurationError("SIGNET_OPERATOR_KEY is empty; the operator API needs it")
        ring = MasterKeyRing.parse(settings.master_keys.get_secret_value())
        session_key = settings.session_key.get_secret_value() if settings.session_key else None
        self.settings = settings
        self._ring = ring
        self.metrics = PortalMetrics.create()
        self._own_origin = public_origin(settings.public_url)
        self._operator_guard = OperatorGuard(operator_key)
        self._signer = SessionSigner.from_keys(session_key, ring)
        self._builder = DestinationBuilder(
            ring,
            SchemeCatalog.default(),
            DestinationRules(allow_insecure_urls=settings.allow_insecure_destinations),
        )
        self._producer = AsyncProducer(settings, self.metrics.kafka)
        self._view = ConfigView(settings)
        self.delivery_log = DeliveryLog(
            settings,
            self._producer,
            self.metrics.registry,
            self.metrics.kafka,
            own_retention=partial(own_log_retention, self._view),
        )
        self.catalog = EventTypeView(settings)
        self._operator_webhook = OperatorWebhookView(settings)
        self._lines = FifoLineView(settings)  # ordered delivery's lines (line_api.py)
        self.kafka_health = KafkaHealth(settings, self.metrics.kafka)
        self.kafka_health.watch(self._producer.state)
        if self.delivery_log.projection is not None:
            self.kafka_health.watch(self.delivery_log.projection.state)
        self._producer_up = False
        self._stack: AsyncExitStack | None = None
        self.port: int | None = None

    @property
    def view(self) -> ConfigView:
        return self._view

    @property
    def operator_webhook(self) -> OperatorWebhookView:
        return self._operator_webhook

    def ready(self) -> bool:
        return (
            self._producer_up
            and self._view.ready
            and self.catalog.ready
            and self._operator_webhook.ready
            and self.delivery_log.ready
        )

    async def wait_caught_up(self, timeout: float) -> None:
        """Until every view ``ready`` waits for has read its whole topic (BrokerError after
        ``timeout``)."""
        await self._view.wait_ready(timeout)
        await self.catalog.wait_ready(timeout)
        await self._operator_webhook.wait_ready(timeout)

    def build_app(self) -> web.Application:
        return self.build()[0]

    def build(self) -> tuple[web.Application, Api]:
        """The app serving every route, and the :class:`Api` those routes declared in (its
        ``document()`` is what ``/openapi.json`` serves)."""
        settings = self.settings
        bus = CommandBus(
            self._producer,
            self._view,
            Topics.from_settings(settings).workspace_commands,
            timeout_seconds=settings.command_timeout_seconds,
            metrics=self.metrics,
        )
        app = web.Application(
            middlewares=[
                tracing.server_middleware,
                count_requests(self.metrics),
                problem_middleware,
                translate_errors,
                require_caught_up(self._view),
            ],
            client_max_size=MAX_REQUEST_BYTES,
        )
        api = portal_api(settings.public_url)
        add_health_routes(
            app,
            api=api,
            ready=self.ready,
            ready_means="Caught up with the config topic and connected to Kafka (503 until then)",
            registry=self.metrics.registry,
            kafka=self.kafka_health,
        )
        once = Once(
            bus,
            self._view,
            IdempotencyKeys(self.delivery_log.store.database, ttl_ms=idempotency.TTL_MS),
            self._ring,
        )
        OperatorApi(
            view=self._view,
            bus=bus,
            once=once,
            signer=self._signer,
            guard=self._operator_guard,
            public_url=settings.public_url,
            max_session_ttl_seconds=settings.session_max_ttl_seconds,
            max_active_keys=settings.max_active_publishable_keys,
        ).register(app, api)
        WorkspaceApi(
            view=self._view,
            bus=bus,
            once=once,
            builder=self._builder,
            guard=SessionGuard(self._signer, self._own_origin),
            max_destinations=settings.max_destinations_per_workspace,
        ).register(app, api)
        ActionsApi.from_settings(
            settings,
            ring=self._ring,
            view=self._view,
            once=once,
            guard=SessionGuard(self._signer, self._own_origin),
            producer=self._producer,
            store=self.delivery_log.store,
            catalog=self.catalog,
        ).register(app, api)
        ReplayApi.from_settings(
            settings,
            view=self._view,
            guard=SessionGuard(self._signer, self._own_origin),
            producer=self._producer,
            store=self.delivery_log.store,
        ).register(app, api)
        EventTypesApi(
            catalog=self.catalog,
            writer=CatalogWriter(self._producer, self.catalog, settings.command_timeout_seconds),
            operator=self._operator_guard,
            session=SessionGuard(self._signer, self._own_origin),
        ).register(app, api)
        ErasureApi.from_settings(
            settings,
            store=self.delivery_log.store,
            producer=self._producer,
            guard=SessionGuard(self._signer, self._own_origin),
        ).register(app, api)
        OperatorWebhookApi(
            view=self._operator_webhook,
            producer=self._producer,
            ring=self._ring,
            store=self.delivery_log.store,
            guard=self._operator_guard,
            timeout_seconds=settings.command_timeout_seconds,
        ).register(app, api)
        embed_routes.register(app, api, settings)
        delivery_log_api.register(
            app, api, self.delivery_log, SessionGuard(self._signer, self._own_origin)
        )
        StatsApi(
            self._view, self.delivery_log.store, SessionGuard(self._signer, self._own_origin)
        ).register(app, api)
        LineApi(self._view, self._lines, SessionGuard(self._signer, self._own_origin)).register(
            app, api
        )
        return app, api

    async def start(self) -> None:
        if self._stack is not None:
            return
        started = time.monotonic()
        stack = AsyncExitStack()
        try:
            await stack.enter_async_context(self.kafka_health)
            await stack.enter_async_context(self._producer)
            self._producer_up = True
            stack.callback(self._mark_producer_down)
            await stack.enter_async_context(self._view)
            await stack.enter_async_context(self.catalog)
            await stack.enter_async_context(self._operator_webhook)
            await stack.enter_async_context(self._lines)
            runner = web.AppRunner(self.build_app(), shutdown_timeout=SHUTDOWN_SECONDS)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, self.settings.host, self.settings.port)
            await site.start()
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self.port = self._bound_port(runner) or self.settings.port
        logger.info(
            "portal listening on %s:%s (public URL %s) in %.2fs; following %s",
            self.settings.host,
            self.port,
            self.settings.public_url,
            time.monotonic() - started,
            Topics.from_settings(self.settings).workspace_config,
        )

    def _mark_producer_down(self) -> None:
        self._producer_up = False

    @staticmethod
    def _bound_port(runner: web.AppRunner) -> int | None:
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                return int(address[1])
        return None

    async def stop(self) -> None:
        """Stop listening, let in-flight requests finish, stop the view, flush the producer."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
            logger.info(
                "portal stopped; commands: %s",
                {
                    "/".join(s.labels.values()): int(s.value)
                    for metric in self.metrics.commands.collect()
                    for s in metric.samples
                    if s.name.endswith("_total")
                },
            )

    async def __aenter__(self) -> PortalService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
