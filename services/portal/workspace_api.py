"""The workspace API (``Bearer <session token>``): one customer's own workspace.

Every route is scoped to the token's workspace: another workspace's destination id is
indistinguishable from one that does not exist (404). Viewers read; admins also write.
Writes go through the command bus and answer with the applied snapshot's state.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.portal import commands
from services.portal.auth import SessionGuard
from services.portal.commands import CommandBus, ConfigReader
from services.portal.destinations import DestinationBuilder
from services.portal.problems import conflict
from services.portal.sessions import SessionClaims
from services.portal.views import destination_view, session_workspace_view
from signet.ids import now_ms
from signet.records.model import Destination, WorkspaceConfig
from signet.web import json_response, not_found, read_json

MAX_BODY_BYTES = 64 * 1024
DESTINATIONS = "/v1/workspace/destinations"


class WorkspaceApi:
    def __init__(
        self,
        *,
        view: ConfigReader,
        bus: CommandBus,
        builder: DestinationBuilder,
        guard: SessionGuard,
        max_destinations: int,
    ) -> None:
        self._view = view
        self._bus = bus
        self._builder = builder
        self._guard = guard
        self._max_destinations = max_destinations

    def register(self, app: web.Application) -> None:
        protect = self._guard.protect
        one = DESTINATIONS + "/{destination_id}"
        app.router.add_get("/v1/workspace", protect(self.get_workspace, write=False))
        app.router.add_get(DESTINATIONS, protect(self.list_destinations, write=False))
        app.router.add_post(DESTINATIONS, protect(self.create_destination, write=True))
        app.router.add_get(one, protect(self.get_destination, write=False))
        app.router.add_patch(one, protect(self.update_destination, write=True))
        app.router.add_delete(one, protect(self.delete_destination, write=True))

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

    async def get_workspace(self, request: web.Request, claims: SessionClaims) -> web.Response:
        return json_response(session_workspace_view(self._workspace(claims), claims))

    async def list_destinations(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = self._workspace(claims)
        return json_response({"data": [destination_view(d) for d in config.destinations]})

    async def get_destination(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = self._workspace(claims)
        return json_response(destination_view(self._destination(config, request)))

    async def create_destination(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = self._workspace(claims)
        body = await read_json(request, MAX_BODY_BYTES)
        if len(config.destinations) >= self._max_destinations:
            raise conflict(f"a workspace may have at most {self._max_destinations} destinations")
        built = self._builder.create(config.workspace_id, body, now_ms=now_ms())
        destination = built.destination
        snapshot = await self._bus.submit(
            commands.put_destination(config.workspace_id, destination)
        )
        view: dict[str, Any] = destination_view(self._applied(snapshot, destination.id))
        if built.revealed_secret is not None:
            view["secret"] = built.revealed_secret  # shown this once, never again
        return json_response(view, 201, {"Location": f"{DESTINATIONS}/{destination.id}"})

    async def update_destination(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = self._workspace(claims)
        current = self._destination(config, request)
        body = await read_json(request, MAX_BODY_BYTES)
        updated = self._builder.patch(config.workspace_id, current, body, now_ms=now_ms())
        if updated is current:
            return json_response(destination_view(current))
        snapshot = await self._bus.submit(commands.put_destination(config.workspace_id, updated))
        return json_response(destination_view(self._applied(snapshot, updated.id)))

    async def delete_destination(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = self._workspace(claims)
        current = self._destination(config, request)
        await self._bus.submit(commands.delete_destination(config.workspace_id, current.id))
        return web.Response(status=204)
