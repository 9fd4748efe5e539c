"""Workspace actions beyond CRUD (admin only): rotate a signing secret, send a test event,
replay one delivery, recover a destination's failed deliveries.

Scoped like every workspace route: a destination or delivery of another workspace is
indistinguishable from one that does not exist (404). Deliveries to a destination that is
disabled or gone are refused (409): the dispatcher would send nothing. Each route declares
its operation next to its handler.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from aiohttp import web
from pydantic import Field
from signet_sdk.contract.events import EVENT_TYPE_MAX_CHARS
from signet_sdk.contract.fields import FieldError, FieldErrorCode
from signet_sdk.contract.models import Body
from signet_sdk.ids import now_ms

from services.portal import commands
from services.portal.auth import SESSION_TOKEN, SessionGuard, SessionHandler
from services.portal.commands import CommandBus, ConfigReader
from services.portal.delivery_log.errors import StoreUnavailable
from services.portal.delivery_log.store import DeliveryRecord, LogStore
from services.portal.erasure_api import payload_erased
from services.portal.ping import (
    TEST_EVENT_TYPE,
    PingResult,
    catalog_test_event,
    ping_delivery,
    ping_event,
    ping_result_view,
)
from services.portal.problems import (
    ACTION_ERRORS,
    BODY_ERRORS,
    NOT_APPLIED,
    conflict,
    log_unavailable,
)
from services.portal.replay import (
    DeliveryOutbox,
    LogCatchUp,
    Recovered,
    RecoverRequest,
    Replayed,
    plan_recovery,
    replay_delivery,
)
from services.portal.rotation import (
    Rotated,
    RotatedDestination,
    RotationRequest,
    SecretRotator,
)
from services.portal.sessions import SessionClaims
from services.portal.signing_secrets import SchemeCatalog
from services.portal.views import answer, destination_fields, primary_secret
from signet.api.operations import Api, Reply, operation, problem
from signet.api.reading import parse_model, read_model
from signet.catalog.events import CatalogReader
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import Destination, DestinationType, Event, WorkspaceConfig
from signet.records.payload import iso_utc_ms
from signet.security.secrets import MasterKeyRing
from signet.settings import PortalSettings
from signet.web import invalid_request, not_found, read_bytes

MAX_BODY_BYTES = 16 * 1024
DESTINATION = "/v1/workspace/destinations/{destination_id}"
ROTATE_SECRET = DESTINATION + "/rotate-secret"
SEND_TEST = DESTINATION + "/test"
RECOVER = DESTINATION + "/recover"
REPLAY = "/v1/workspace/deliveries/{delivery_id}/replay"
TAG = "actions"
# What the actions that read the delivery log may also answer 503 for (``log_errors``).
LOG_ERRORS = {
    **ACTION_ERRORS,
    503: problem(
        "Kafka unavailable or the portal not caught up; nothing written (or the delivery "
        "log database did not answer)",
        **{"Retry-After": "seconds"},
    ),
}


class SendTestBody(Body):
    """What ``…/test`` sends; no body (or ``{}``) sends a ``signet.test`` event."""

    event_type: str | None = Field(
        default=None,
        max_length=EVENT_TYPE_MAX_CHARS,
        description="a type of the event-type catalog: its example is sent as `data`",
        examples=["order.completed"],
    )


async def read_send_test_body(request: web.Request) -> SendTestBody:
    if not request.body_exists:
        return SendTestBody()
    return parse_model(SendTestBody, await read_bytes(request, MAX_BODY_BYTES))


async def read_rotation(request: web.Request) -> RotationRequest:
    """The body of ``rotate-secret``; none at all means every default."""
    if not request.body_exists:
        return RotationRequest()
    return parse_model(RotationRequest, await read_bytes(request, MAX_BODY_BYTES))


def workspace_of(view: ConfigReader, claims: SessionClaims) -> WorkspaceConfig:
    config = view.workspace(claims.workspace_id)
    if config is None:
        raise not_found("the session's workspace does not exist")
    return config


def webhook_of(config: WorkspaceConfig, destination_id: str) -> Destination:
    destination = config.destination(destination_id)
    if destination is None:
        raise not_found(f"no destination {destination_id}")
    if destination.type != DestinationType.WEBHOOK.value:
        raise conflict(f"destination {destination.id} is a Slack alert channel, not a webhook")
    return destination


def sendable(config: WorkspaceConfig, destination_id: str) -> Destination:
    """A webhook destination the dispatcher would deliver to now, or 404/409."""
    destination = webhook_of(config, destination_id)
    if not destination.enabled:
        reason = f" ({destination.disabled_reason})" if destination.disabled_reason else ""
        raise conflict(f"destination {destination.id} is disabled{reason}; enable it first")
    return destination


def log_errors(handler: SessionHandler) -> SessionHandler:
    """An unreachable delivery log is a 503 to retry, not a 500."""

    async def translated(request: web.Request, claims: SessionClaims) -> web.StreamResponse:
        try:
            return await handler(request, claims)
        except StoreUnavailable as exc:
            raise log_unavailable() from exc

    return translated


class ActionsApi:
    def __init__(
        self,
        *,
        view: ConfigReader,
        bus: CommandBus,
        guard: SessionGuard,
        rotator: SecretRotator,
        store: LogStore,
        outbox: DeliveryOutbox,
        test_timeout_seconds: float,
        recover_limit: int,
        catch_up: LogCatchUp | None = None,
        catalog: CatalogReader | None = None,
    ) -> None:
        self._view = view
        self._bus = bus
        self._guard = guard
        self._rotator = rotator
        self._store = store
        self._outbox = outbox
        self._test_timeout = test_timeout_seconds
        self._recover_limit = recover_limit
        self._catch_up = catch_up or LogCatchUp()
        self._catalog = catalog

    @classmethod
    def from_settings(
        cls,
        settings: PortalSettings,
        *,
        ring: MasterKeyRing,
        view: ConfigReader,
        bus: CommandBus,
        guard: SessionGuard,
        producer: AsyncProducer,
        store: LogStore,
        catalog: CatalogReader | None = None,
    ) -> ActionsApi:
        return cls(
            view=view,
            bus=bus,
            guard=guard,
            rotator=SecretRotator(ring, SchemeCatalog.default()),
            store=store,
            outbox=DeliveryOutbox(
                producer,
                Topics.from_settings(settings).deliveries,
                timeout_seconds=settings.command_timeout_seconds,
            ),
            test_timeout_seconds=settings.test_event_timeout_seconds,
            recover_limit=settings.recover_max_per_call,
            catalog=catalog,
        )

    def register(self, app: web.Application, api: Api) -> None:
        protect = self._guard.protect
        api.route(app, self.rotate_secret, serve=protect(self.rotate_secret, write=True))
        for handler in (self.send_test, self.recover, self.replay):
            api.route(app, handler, serve=protect(log_errors(handler), write=True))

    # -- rotate-secret ---------------------------------------------------------------------

    @operation(
        "POST",
        ROTATE_SECRET,
        summary="Rotate the signing secret: the new one becomes primary, the previous one "
        "keeps signing beside it until the overlap ends",
        body=RotationRequest,
        body_required=False,
        responses={
            200: Reply("rotated", RotatedDestination),
            409: problem("a Slack channel, or the destination changed meanwhile"),
            504: NOT_APPLIED,
            **ACTION_ERRORS,
            **BODY_ERRORS,
        },
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def rotate_secret(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        current = webhook_of(config, request.match_info["destination_id"])
        rotation = await read_rotation(request)
        rotated = self._rotator.rotate(config.workspace_id, current, rotation, now_ms=now_ms())
        snapshot = await self._bus.submit(
            commands.put_destination(config.workspace_id, rotated.destination)
        )
        return answer(self._rotation_view(snapshot, rotated))

    @staticmethod
    def _rotation_view(snapshot: WorkspaceConfig, rotated: Rotated) -> RotatedDestination:
        wanted = rotated.destination
        applied = snapshot.destination(wanted.id)
        if applied is None:
            raise conflict(f"destination {wanted.id} was deleted meanwhile")
        primary, ours = primary_secret(applied), primary_secret(wanted)
        if primary is None or ours is None or primary.id != ours.id:
            # Another change to the destination won the race; this secret never signed.
            raise conflict("the destination changed meanwhile; read it and rotate again")
        fields = destination_fields(applied)
        if rotated.revealed_secret is not None:
            fields["secret"] = rotated.revealed_secret  # shown this once, never again
        if rotated.public_key is not None:
            fields["public_key"] = rotated.public_key
        return RotatedDestination.model_validate(fields)

    # -- send test event -------------------------------------------------------------------

    @operation(
        "POST",
        SEND_TEST,
        summary=f"Send a signed `{TEST_EVENT_TYPE}` event (or a cataloged type's example) "
        "to this destination and report the receiver's answer",
        description="No body (or `{}`) sends a `signet.test` event. With `event_type`, the "
        "type's example from the event-type catalog is sent as `data` with that `type` and "
        "`resource: signet.test`: 404 when the catalog has no such type, 400 when the type "
        "has no example.",
        body=SendTestBody,
        body_required=False,
        responses={
            200: Reply("the attempt's result (any HTTP status of the receiver)", PingResult),
            202: Reply("sent; no result within the wait (status pending)", PingResult),
            409: problem("a Slack channel or a disabled destination"),
            **LOG_ERRORS,
            404: problem("no such destination in this workspace, or no such event type"),
            **BODY_ERRORS,
        },
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def send_test(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        destination = sendable(config, request.match_info["destination_id"])
        wanted = await read_send_test_body(request)
        if wanted.event_type is None:
            event = ping_event(config.workspace_id, destination, now_ms=now_ms())
        else:
            event = self._catalog_test(config.workspace_id, destination, wanted.event_type)
        delivery = ping_delivery(event, destination.id)
        await self._outbox.send([delivery])
        attempt = await self._store.wait_for_outcome(
            config.workspace_id, delivery.id, after_attempt_id=None, timeout=self._test_timeout
        )
        return answer(ping_result_view(delivery, attempt), 202 if attempt is None else 200)

    def _catalog_test(self, workspace_id: str, destination: Destination, name: str) -> Event:
        entry = self._catalog.get(name) if self._catalog is not None else None
        if entry is None:
            raise not_found(f"no event type {name} in the catalog")
        if entry.example is None:
            raise invalid_request(
                [FieldError("event_type", FieldErrorCode.INVALID, f"{name} has no example")],
                status=400,
            )
        example = orjson.dumps(entry.example)
        return catalog_test_event(workspace_id, destination, name, example, now_ms=now_ms())

    # -- replay and recover ----------------------------------------------------------------

    @operation(
        "POST",
        REPLAY,
        summary="Replay one delivery: same event id (webhook-id) and body, fresh signature "
        "and timestamp",
        description="No body. A delivery whose body the log is about to record (its attempt "
        "logged a moment before) is waited for, a few seconds at most.",
        responses={
            202: Reply("queued", Replayed),
            409: problem(
                "its destination is gone or disabled, its body is not logged yet, or its "
                "event's payload was erased (`code: payload_erased`)"
            ),
            **LOG_ERRORS,
        },
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def replay(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        original_id = request.match_info["delivery_id"]
        record = await self._store.get_delivery(config.workspace_id, original_id)
        if record is None:
            raise not_found(f"no delivery {original_id}")
        if record.payload_erased_at is not None:  # for good, whatever the destination
            raise payload_erased(record.event_id, record.payload_erased_at)
        if config.destination(record.destination_id) is None:
            raise conflict(f"destination {record.destination_id} no longer exists")
        sendable(config, record.destination_id)
        if record.body is None:
            record = await self._logged_body(config.workspace_id, record)
        if record.payload_erased_at is not None:  # erased while we waited
            raise payload_erased(record.event_id, record.payload_erased_at)
        if record.body is None:
            raise conflict(f"the log has not recorded the body of {original_id} yet; retry")
        delivery = replay_delivery(record, record.body, now_ms=now_ms())
        await self._outbox.send([delivery])
        return answer(Replayed.of(delivery), 202)

    async def _logged_body(self, workspace_id: str, record: DeliveryRecord) -> DeliveryRecord:
        """``record`` once the log has its body, or as it is when the wait is over."""

        async def read() -> Sequence[DeliveryRecord]:
            again = await self._store.get_delivery(workspace_id, record.id)
            return [record if again is None else again]

        [latest] = await self._catch_up.with_bodies(read)
        return latest

    @operation(
        "POST",
        RECOVER,
        summary="Replay the destination's failed and exhausted deliveries of a time range "
        "(event time), oldest first, a bounded number per call",
        body=RecoverRequest,
        responses={
            202: Reply("replayed", Recovered),
            409: problem(
                "a Slack channel or a disabled destination, or every failed delivery of the "
                "range is of an event whose payload was erased (`code: payload_erased`)"
            ),
            **LOG_ERRORS,
            **BODY_ERRORS,
        },
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def recover(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        destination = sendable(config, request.match_info["destination_id"])
        wanted = await read_model(request, RecoverRequest, MAX_BODY_BYTES)
        limit = self._recover_limit

        async def read() -> Sequence[DeliveryRecord]:
            return await self._store.failed_deliveries(
                config.workspace_id, destination.id, wanted.since_ms, wanted.until_ms, limit + 1
            )

        plan = plan_recovery(await self._catch_up.with_bodies(read), limit)
        if plan.erased and not plan.replay and not plan.without_body:
            # Nothing to recover but erased events: say why rather than replay nothing.
            first = plan.erased[0]
            raise payload_erased(first.event_id, first.payload_erased_at)
        started = now_ms()
        deliveries = [
            replay_delivery(r, r.body, now_ms=started) for r in plan.replay if r.body is not None
        ]
        await self._outbox.send(deliveries)
        recovered: dict[str, object] = {
            "replayed": len(deliveries),
            "truncated": plan.truncated,
            "deliveries": [Replayed.of(d) for d in deliveries],
        }
        if plan.next_since_ms is not None:
            recovered["next_since"] = iso_utc_ms(plan.next_since_ms)
        if plan.without_body:
            recovered["skipped_without_body"] = plan.without_body
        if plan.erased:
            recovered["skipped_erased"] = len(plan.erased)
        return answer(Recovered.model_validate(recovered), 202)
