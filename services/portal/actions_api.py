"""Workspace actions beyond CRUD (admin only): rotate a signing secret, send a test event,
replay one delivery, recover a destination's failed deliveries.

Scoped like every workspace route: a destination or delivery of another workspace is
indistinguishable from one that does not exist (404). Deliveries to a destination that is
disabled or gone are refused (409): the dispatcher would send nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.portal import commands
from services.portal.auth import SessionGuard, SessionHandler
from services.portal.commands import CommandBus, ConfigReader
from services.portal.delivery_log.errors import StoreUnavailable
from services.portal.delivery_log.store import LogStore
from services.portal.ping import ping_delivery, ping_event, ping_result_view
from services.portal.problems import conflict
from services.portal.replay import (
    DeliveryOutbox,
    plan_recovery,
    read_recover,
    replay_delivery,
)
from services.portal.rotation import Rotated, SecretRotator, read_rotation
from services.portal.sessions import SessionClaims
from services.portal.signing_secrets import SchemeCatalog
from services.portal.views import destination_view, primary_secret
from signet.ids import now_ms
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import Destination, DestinationType, WorkspaceConfig
from signet.records.payload import iso_utc_ms
from signet.security.secrets import MasterKeyRing
from signet.settings import PortalSettings
from signet.web import Problem, json_response, not_found, read_json

MAX_BODY_BYTES = 16 * 1024
DESTINATION = "/v1/workspace/destinations/{destination_id}"
ROTATE_SECRET = DESTINATION + "/rotate-secret"
SEND_TEST = DESTINATION + "/test"
RECOVER = DESTINATION + "/recover"
REPLAY = "/v1/workspace/deliveries/{delivery_id}/replay"


async def read_optional_json(request: web.Request) -> Any:
    """The JSON body, or None when the request has none (every field is optional)."""
    if not request.body_exists:
        return None
    return await read_json(request, MAX_BODY_BYTES)


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
            raise Problem(
                503,
                "Delivery log unavailable",
                "the delivery log database did not answer; retry",
                kind="log-unavailable",
                headers={"Retry-After": "2"},
            ) from exc

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
    ) -> None:
        self._view = view
        self._bus = bus
        self._guard = guard
        self._rotator = rotator
        self._store = store
        self._outbox = outbox
        self._test_timeout = test_timeout_seconds
        self._recover_limit = recover_limit

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
        )

    def register(self, app: web.Application) -> None:
        protect = self._guard.protect
        app.router.add_post(ROTATE_SECRET, protect(self.rotate_secret, write=True))
        app.router.add_post(SEND_TEST, protect(log_errors(self.send_test), write=True))
        app.router.add_post(RECOVER, protect(log_errors(self.recover), write=True))
        app.router.add_post(REPLAY, protect(log_errors(self.replay), write=True))

    # -- rotate-secret ---------------------------------------------------------------------

    async def rotate_secret(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        current = webhook_of(config, request.match_info["destination_id"])
        rotation = read_rotation(await read_optional_json(request))
        rotated = self._rotator.rotate(config.workspace_id, current, rotation, now_ms=now_ms())
        snapshot = await self._bus.submit(
            commands.put_destination(config.workspace_id, rotated.destination)
        )
        return json_response(self._rotation_view(snapshot, rotated))

    @staticmethod
    def _rotation_view(snapshot: WorkspaceConfig, rotated: Rotated) -> dict[str, Any]:
        wanted = rotated.destination
        applied = snapshot.destination(wanted.id)
        if applied is None:
            raise conflict(f"destination {wanted.id} was deleted meanwhile")
        primary, ours = primary_secret(applied), primary_secret(wanted)
        if primary is None or ours is None or primary.id != ours.id:
            # Another change to the destination won the race; this secret never signed.
            raise conflict("the destination changed meanwhile; read it and rotate again")
        view = destination_view(applied)
        if rotated.revealed_secret is not None:
            view["secret"] = rotated.revealed_secret  # shown this once, never again
        if rotated.public_key is not None:
            view["public_key"] = rotated.public_key
        return view

    # -- send test event -------------------------------------------------------------------

    async def send_test(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        destination = sendable(config, request.match_info["destination_id"])
        if request.body_exists:  # nothing to say, but a body must still be JSON
            await read_json(request, MAX_BODY_BYTES)
        event = ping_event(config.workspace_id, destination, now_ms=now_ms())
        delivery = ping_delivery(event, destination.id)
        await self._outbox.send([delivery])
        attempt = await self._store.wait_for_outcome(
            config.workspace_id, delivery.id, after_attempt_id=None, timeout=self._test_timeout
        )
        return json_response(ping_result_view(delivery, attempt), 202 if attempt is None else 200)

    # -- replay and recover ----------------------------------------------------------------

    async def replay(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        original_id = request.match_info["delivery_id"]
        record = await self._store.get_delivery(config.workspace_id, original_id)
        if record is None:
            raise not_found(f"no delivery {original_id}")
        if config.destination(record.destination_id) is None:
            raise conflict(f"destination {record.destination_id} no longer exists")
        sendable(config, record.destination_id)
        if record.body is None:
            raise conflict(f"the log has not recorded the body of {original_id} yet; retry")
        delivery = replay_delivery(record, record.body, now_ms=now_ms())
        await self._outbox.send([delivery])
        return json_response(
            {"delivery_id": delivery.id, "replay_of": original_id, "event_id": delivery.event_id},
            202,
        )

    async def recover(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        destination = sendable(config, request.match_info["destination_id"])
        wanted = read_recover(await read_json(request, MAX_BODY_BYTES))
        limit = self._recover_limit
        records = await self._store.failed_deliveries(
            config.workspace_id, destination.id, wanted.since_ms, wanted.until_ms, limit + 1
        )
        plan = plan_recovery(records, limit)
        started = now_ms()
        deliveries = [
            replay_delivery(r, r.body, now_ms=started) for r in plan.replay if r.body is not None
        ]
        await self._outbox.send(deliveries)
        answer: dict[str, Any] = {
            "replayed": len(deliveries),
            "truncated": plan.truncated,
            "deliveries": [{"delivery_id": d.id, "replay_of": d.replay_of} for d in deliveries],
        }
        if plan.next_since_ms is not None:
            answer["next_since"] = iso_utc_ms(plan.next_since_ms)
        if plan.without_body:
            answer["skipped_without_body"] = plan.without_body
        return json_response(answer, 202)
