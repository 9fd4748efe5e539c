"""Workspace actions on one destination (admin only): rotate its signing secret, send it
a test event.

Scoped like every workspace route (``action_targets.py``); replaying deliveries is
``replay_api.py``'s. Each route declares its operation next to its handler.
"""

from __future__ import annotations

import orjson
from aiohttp import web
from pydantic import Field
from signet_sdk.contract.events import EVENT_TYPE_MAX_CHARS
from signet_sdk.contract.fields import FieldError, FieldErrorCode
from signet_sdk.contract.models import Body
from signet_sdk.ids import now_ms

from services.portal import commands
from services.portal.action_targets import (
    LOG_ERRORS,
    log_errors,
    sendable,
    webhook_of,
    workspace_of,
)
from services.portal.auth import SESSION_TOKEN, SessionGuard
from services.portal.commands import ConfigReader
from services.portal.delivery_log.store import LogStore
from services.portal.idempotency import KEY_REUSED, IdempotencyKeyHeader, Once, Prepared
from services.portal.ping import (
    TEST_EVENT_TYPE,
    PingResult,
    catalog_test_event,
    ping_delivery,
    ping_event,
    ping_result_view,
)
from services.portal.problems import ACTION_ERRORS, BODY_ERRORS, NOT_APPLIED, conflict
from services.portal.replay import DeliveryOutbox
from services.portal.rotation import (
    RotatedDestination,
    RotationRequest,
    SecretRotator,
)
from services.portal.sessions import SessionClaims
from services.portal.signing_secrets import SchemeCatalog
from services.portal.views import answer, destination_fields, primary_secret
from signet.api.operations import Api, Reply, operation, problem
from signet.api.reading import parse_model
from signet.catalog.events import CatalogReader
from signet.kafka.clients import AsyncProducer
from signet.records.model import Destination, Event, WorkspaceConfig
from signet.security.secrets import MasterKeyRing
from signet.settings import PortalSettings
from signet.web import invalid_request, not_found, read_bytes

MAX_BODY_BYTES = 16 * 1024
DESTINATION = "/v1/workspace/destinations/{destination_id}"
ROTATE_SECRET = DESTINATION + "/rotate-secret"
SEND_TEST = DESTINATION + "/test"
TAG = "actions"


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


async def read_rotation(request: web.Request) -> tuple[RotationRequest, bytes]:
    """The body of ``rotate-secret`` and its bytes; none at all means every default."""
    if not request.body_exists:
        return RotationRequest(), b""
    raw = await read_bytes(request, MAX_BODY_BYTES)
    return parse_model(RotationRequest, raw), raw


class ActionsApi:
    def __init__(
        self,
        *,
        view: ConfigReader,
        once: Once,
        guard: SessionGuard,
        rotator: SecretRotator,
        store: LogStore,
        outbox: DeliveryOutbox,
        test_timeout_seconds: float,
        catalog: CatalogReader | None = None,
    ) -> None:
        self._view = view
        self._once = once
        self._guard = guard
        self._rotator = rotator
        self._store = store
        self._outbox = outbox
        self._test_timeout = test_timeout_seconds
        self._catalog = catalog

    @classmethod
    def from_settings(
        cls,
        settings: PortalSettings,
        *,
        ring: MasterKeyRing,
        view: ConfigReader,
        once: Once,
        guard: SessionGuard,
        producer: AsyncProducer,
        store: LogStore,
        catalog: CatalogReader | None = None,
    ) -> ActionsApi:
        return cls(
            view=view,
            once=once,
            guard=guard,
            rotator=SecretRotator(ring, SchemeCatalog.default()),
            store=store,
            outbox=DeliveryOutbox.from_settings(settings, producer),
            test_timeout_seconds=settings.test_event_timeout_seconds,
            catalog=catalog,
        )

    def register(self, app: web.Application, api: Api) -> None:
        protect = self._guard.protect
        api.route(app, self.rotate_secret, serve=protect(self.rotate_secret, write=True))
        api.route(app, self.send_test, serve=protect(log_errors(self.send_test), write=True))

    # -- rotate-secret ---------------------------------------------------------------------

    @operation(
        "POST",
        ROTATE_SECRET,
        summary="Rotate the signing secret: the new one becomes primary, the previous one "
        "keeps signing beside it until the overlap ends",
        body=RotationRequest,
        body_required=False,
        headers=IdempotencyKeyHeader,
        responses={
            200: Reply("rotated", RotatedDestination),
            409: problem("a Slack channel, or the destination changed meanwhile"),
            504: NOT_APPLIED,
            **ACTION_ERRORS,
            **BODY_ERRORS,
            **KEY_REUSED,
        },
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def rotate_secret(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        current = webhook_of(config, request.match_info["destination_id"])
        rotation, raw = await read_rotation(request)

        def prepare() -> Prepared:
            rotated = self._rotator.rotate(config.workspace_id, current, rotation, now_ms=now_ms())
            command = commands.put_destination(config.workspace_id, rotated.destination)
            return Prepared(command, revealed=rotated.revealed_secret)

        done = await self._once.submit(request, claims.workspace_id, raw, prepare)
        return answer(
            self._rotation_view(done.config, done.prepared.destination, done.prepared.revealed),
            headers=done.headers,
        )

    @staticmethod
    def _rotation_view(
        snapshot: WorkspaceConfig, wanted: Destination, revealed: str | None
    ) -> RotatedDestination:
        applied = snapshot.destination(wanted.id)
        if applied is None:
            raise conflict(f"destination {wanted.id} was deleted meanwhile")
        primary, ours = primary_secret(applied), primary_secret(wanted)
        if primary is None or ours is None or primary.id != ours.id:
            # Another change to the destination won the race; this secret never signed.
            raise conflict("the destination changed meanwhile; read it and rotate again")
        fields = destination_fields(applied)
        if revealed is not None:
            fields["secret"] = revealed  # shown this once (and, sealed, for a replay)
        if ours.public_key is not None:
            fields["public_key"] = ours.public_key  # Ed25519: the new whpk_ public key
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
