"""The workspace API (``Bearer <session token>``): one customer's own workspace.

Every route is scoped to the token's workspace: another workspace's destination id is
indistinguishable from one that does not exist (404). Viewers read; admins also write.
Writes go through the command bus and answer with the applied snapshot's state. Each
route declares its operation next to its handler; the bodies are
``destination_bodies.py``'s models, the answers ``views.py``'s.
"""

from __future__ import annotations

from aiohttp import web
from signet_sdk.ids import now_ms

from services.portal import commands
from services.portal.auth import SESSION_TOKEN, SessionGuard, SessionHandler
from services.portal.commands import CommandBus, ConfigReader
from services.portal.destination_bodies import (
    DestinationPatch,
    NewDestination,
    destination_kind,
)
from services.portal.destinations import DestinationBuilder
from services.portal.idempotency import KEY_REUSED, IdempotencyKeyHeader, Once, Prepared
from services.portal.problems import (
    BODY_ERRORS,
    SESSION_READ_ERRORS,
    SESSION_WRITE_ERRORS,
    conflict,
)
from services.portal.sessions import SessionClaims
from services.portal.views import (
    DestinationCreated,
    DestinationInfo,
    DestinationList,
    SessionWorkspace,
    answer,
    destination_fields,
    destination_view,
    session_workspace_view,
)
from signet.api.operations import Api, Reply, operation, problem
from signet.records.model import Destination, WorkspaceConfig
from signet.web import not_found, read_bytes

MAX_BODY_BYTES = 64 * 1024
DESTINATIONS = "/v1/workspace/destinations"
DESTINATION = DESTINATIONS + "/{destination_id}"
TAG = "workspace"


class WorkspaceApi:
    def __init__(
        self,
        *,
        view: ConfigReader,
        bus: CommandBus,
        once: Once,
        builder: DestinationBuilder,
        guard: SessionGuard,
        max_destinations: int,
    ) -> None:
        self._view = view
        self._bus = bus
        self._once = once
        self._builder = builder
        self._guard = guard
        self._max_destinations = max_destinations

    def register(self, app: web.Application, api: Api) -> None:
        routes: list[tuple[SessionHandler, bool]] = [
            (self.get_session_workspace, False),
            (self.list_destinations, False),
            (self.create_destination, True),
            (self.get_destination, False),
            (self.update_destination, True),
            (self.delete_destination, True),
        ]
        for handler, write in routes:
            api.route(app, handler, serve=self._guard.protect(handler, write=write))

    def _workspace(self, claims: SessionClaims) -> WorkspaceConfig:
        config = self._view.workspace(claims.workspace_id)
        if config is None:
            raise not_found("the session's workspace does not exist")
        return config

    @staticmethod
    def _destination(config: WorkspaceConfig, request: web.Request) -> Destination:
        destination_id = request.match_info["destination_id"]
        found = config.destination(destination_id)
        if found is None:
            raise not_found(f"no destination {destination_id}")
        return found

    @staticmethod
    def _applied(config: WorkspaceConfig, destination_id: str) -> Destination:
        applied = config.destination(destination_id)
        if applied is None:  # applied, then deleted by a concurrent request
            raise conflict(f"destination {destination_id} was deleted meanwhile")
        return applied

    @operation(
        "GET",
        "/v1/workspace",
        summary="The session's workspace",
        responses={200: Reply("it", SessionWorkspace), **SESSION_READ_ERRORS},
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def get_session_workspace(
        self, request: web.Request, claims: SessionClaims
    ) -> web.Response:
        return answer(session_workspace_view(self._workspace(claims), claims))

    @operation(
        "GET",
        DESTINATIONS,
        summary="Every destination of the workspace",
        responses={200: Reply("the list", DestinationList), **SESSION_READ_ERRORS},
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def list_destinations(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = self._workspace(claims)
        return answer(DestinationList(data=[destination_view(d) for d in config.destinations]))

    @operation(
        "GET",
        DESTINATION,
        summary="One destination",
        responses={200: Reply("it", DestinationInfo), **SESSION_READ_ERRORS},
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def get_destination(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = self._workspace(claims)
        return answer(destination_view(self._destination(config, request)))

    @operation(
        "POST",
        DESTINATIONS,
        summary="Add a webhook destination or a Slack alert channel",
        body=NewDestination,
        responses={
            201: Reply(
                "created", DestinationCreated, headers={"Location": "the destination's URL"}
            ),
            409: problem("the workspace has too many destinations"),
            **SESSION_WRITE_ERRORS,
            **BODY_ERRORS,
            **KEY_REUSED,
        },
        headers=IdempotencyKeyHeader,
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def create_destination(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = self._workspace(claims)
        raw = await read_bytes(request, MAX_BODY_BYTES)
        kind = destination_kind(raw)  # a body that is not JSON is a 400 before a 409

        def prepare() -> Prepared:
            if len(config.destinations) >= self._max_destinations:
                raise conflict(
                    f"a workspace may have at most {self._max_destinations} destinations"
                )
            body = self._builder.read_new(raw, kind)
            built = self._builder.create(config.workspace_id, body, now_ms=now_ms())
            command = commands.put_destination(config.workspace_id, built.destination)
            # A generated secret is shown in this answer once (and, sealed, for a replay).
            return Prepared(command, revealed=built.revealed_secret)

        done = await self._once.submit(request, claims.workspace_id, raw, prepare)
        destination = done.prepared.destination
        fields = destination_fields(self._applied(done.config, destination.id))
        if done.prepared.revealed is not None:
            fields["secret"] = done.prepared.revealed
        return answer(
            DestinationCreated.model_validate(fields),
            201,
            {"Location": f"{DESTINATIONS}/{destination.id}", **done.headers},
        )

    @operation(
        "PATCH",
        DESTINATION,
        summary="Change some fields of a destination",
        body=DestinationPatch,
        responses={200: Reply("updated", DestinationInfo), **SESSION_WRITE_ERRORS, **BODY_ERRORS},
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def update_destination(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = self._workspace(claims)
        current = self._destination(config, request)
        body = self._builder.read_patch(await read_bytes(request, MAX_BODY_BYTES), current)
        updated = self._builder.patch(config.workspace_id, current, body, now_ms=now_ms())
        if updated is current:
            return answer(destination_view(current))
        snapshot = await self._bus.submit(commands.put_destination(config.workspace_id, updated))
        return answer(destination_view(self._applied(snapshot, updated.id)))

    @operation(
        "DELETE",
        DESTINATION,
        summary="Delete a destination",
        responses={204: Reply("done"), **SESSION_WRITE_ERRORS},
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def delete_destination(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = self._workspace(claims)
        current = self._destination(config, request)
        await self._bus.submit(commands.delete_destination(config.workspace_id, current.id))
        return web.Response(status=204)
