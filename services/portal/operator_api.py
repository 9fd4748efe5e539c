"""The operator API (``Bearer <SIGNET_OPERATOR_KEY>``): workspaces, publishable keys, sessions.

Used by the SaaS's own backend: it creates a workspace per customer and environment,
issues and revokes the keys its product emits events with, and mints the short-lived
session tokens that let one customer manage one workspace in the embed.
"""

from __future__ import annotations

from aiohttp import web

from services.portal import commands
from services.portal.auth import OperatorGuard
from services.portal.commands import CommandBus, ConfigReader
from services.portal.keys import mint_key
from services.portal.problems import conflict
from services.portal.sessions import Role, SessionSigner, normalize_origin
from services.portal.validation import BodyReader
from services.portal.views import iso, key_view, workspace_view
from signet.ids import new_id, now_ms
from signet.records.model import Environment, WorkspaceConfig
from signet.web import Problem, json_response, not_found, read_json

MAX_BODY_BYTES = 64 * 1024
NAME_MAX = 100
MAX_ORIGINS = 10
ORIGIN_MAX_LEN = 200
DEFAULT_SESSION_TTL_SECONDS = 3600
LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 500


class OperatorApi:
    def __init__(
        self,
        *,
        view: ConfigReader,
        bus: CommandBus,
        signer: SessionSigner,
        guard: OperatorGuard,
        public_url: str,
        max_session_ttl_seconds: int,
        max_active_keys: int,
    ) -> None:
        self._view = view
        self._bus = bus
        self._signer = signer
        self._guard = guard
        self._embed_url = public_url.rstrip("/") + "/embed"
        self._max_ttl = max_session_ttl_seconds
        self._max_active_keys = max_active_keys

    def register(self, app: web.Application) -> None:
        protect = self._guard.protect
        app.router.add_post("/v1/workspaces", protect(self.create_workspace))
        app.router.add_get("/v1/workspaces", protect(self.list_workspaces))
        app.router.add_get("/v1/workspaces/{workspace_id}", protect(self.get_workspace))
        keys = "/v1/workspaces/{workspace_id}/publishable-keys"
        app.router.add_post(keys, protect(self.add_key))
        app.router.add_delete(keys + "/{key_id}", protect(self.revoke_key))
        app.router.add_post("/v1/sessions", protect(self.create_session))

    def _workspace(self, workspace_id: str) -> WorkspaceConfig:
        config = self._view.workspace(workspace_id)
        if config is None:
            raise not_found(f"no workspace {workspace_id}")
        return config

    # -- workspaces ------------------------------------------------------------------------

    async def create_workspace(self, request: web.Request) -> web.Response:
        reader = BodyReader(await read_json(request, MAX_BODY_BYTES), ("name", "environment"))
        name = reader.text("name", max_len=NAME_MAX, strip=True)
        environment = reader.choice("environment", Environment)
        reader.done()
        created = now_ms()
        workspace_id = new_id("ws", now_ms=created)
        key = mint_key(environment, created)
        config = await self._bus.submit(
            commands.create_workspace(workspace_id, name, environment, key.record)
        )
        # The plain key exists only in this response; the config keeps its hash.
        body = {**workspace_view(config), "publishable_key": key.plain}
        return json_response(body, 201, {"Location": f"/v1/workspaces/{workspace_id}"})

    async def list_workspaces(self, request: web.Request) -> web.Response:
        reader = BodyReader(dict(request.query), ("limit", "starting_after"), path="query")
        raw_limit = reader.optional_text("limit", max_len=6)
        after = reader.optional_text("starting_after", max_len=100)
        limit = LIST_LIMIT_DEFAULT
        if raw_limit is not None:
            if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= LIST_LIMIT_MAX:
                reader.fail("limit", f"must be an integer between 1 and {LIST_LIMIT_MAX}")
            else:
                limit = int(raw_limit)
        reader.done()
        # Ids are time-ordered, so id order is creation order and a stable cursor.
        ordered = sorted(self._view.workspaces(), key=lambda c: c.workspace_id)
        if after is not None:
            ordered = [c for c in ordered if c.workspace_id > after]
        page = ordered[:limit]
        return json_response(
            {"data": [workspace_view(c) for c in page], "has_more": len(ordered) > limit}
        )

    async def get_workspace(self, request: web.Request) -> web.Response:
        return json_response(workspace_view(self._workspace(request.match_info["workspace_id"])))

    # -- publishable keys ------------------------------------------------------------------

    async def add_key(self, request: web.Request) -> web.Response:
        config = self._workspace(request.match_info["workspace_id"])
        active = [k for k in config.publishable_keys if k.revoked_at is None]
        if len(active) >= self._max_active_keys:
            raise conflict(
                f"a workspace may have {self._max_active_keys} active keys; revoke one first"
            )
        try:
            environment = Environment(config.environment)
        except ValueError:
            environment = Environment.DEVELOPMENT  # a test key is the safe guess
        key = mint_key(environment, now_ms())
        await self._bus.submit(commands.add_publishable_key(config.workspace_id, key.record))
        location = f"/v1/workspaces/{config.workspace_id}/publishable-keys/{key.record.id}"
        return json_response(
            {**key_view(key.record), "publishable_key": key.plain}, 201, {"Location": location}
        )

    async def revoke_key(self, request: web.Request) -> web.Response:
        config = self._workspace(request.match_info["workspace_id"])
        key_id = request.match_info["key_id"]
        key = next((k for k in config.publishable_keys if k.id == key_id), None)
        if key is None:
            raise not_found(f"no publishable key {key_id} in workspace {config.workspace_id}")
        if key.revoked_at is None:  # revoking twice is not an error, and sends nothing
            await self._bus.submit(commands.revoke_publishable_key(config.workspace_id, key_id))
        return web.Response(status=204)

    # -- sessions --------------------------------------------------------------------------

    async def create_session(self, request: web.Request) -> web.Response:
        reader = BodyReader(
            await read_json(request, MAX_BODY_BYTES),
            ("workspace_id", "role", "ttl_seconds", "allowed_origins"),
        )
        workspace_id = reader.text("workspace_id", max_len=100)
        role = reader.choice("role", Role)
        # Longer than the cap is not an error: the token is capped, and expires_at says so.
        ttl = reader.integer("ttl_seconds", lo=1, hi=10 * 365 * 24 * 3600)
        ttl = min(ttl or DEFAULT_SESSION_TTL_SECONDS, self._max_ttl)
        raw_origins = reader.strings(
            "allowed_origins", max_items=MAX_ORIGINS, max_len=ORIGIN_MAX_LEN, default=[]
        )
        origins: list[str] = []
        for index, raw in enumerate(raw_origins or []):
            origin = normalize_origin(raw)
            if origin is None:
                reader.fail(
                    f"allowed_origins[{index}]",
                    "must be an origin like https://app.example.com (no path)",
                )
            else:
                origins.append(origin)
        reader.done()
        if self._view.workspace(workspace_id) is None:
            raise Problem(
                404,
                "Not found",
                f"no workspace {workspace_id}",
                kind="not-found",
                errors=[{"field": "workspace_id", "message": "no such workspace"}],
            )
        token, claims = self._signer.mint(
            workspace_id,
            role,
            ttl_seconds=ttl,
            allowed_origins=tuple(dict.fromkeys(origins)),
            now_ms=now_ms(),
        )
        return json_response(
            {
                "token": token,
                "expires_at": iso(claims.expires_at),
                "embed_url": self._embed_url,
                "session_id": claims.session_id,
                "workspace_id": claims.workspace_id,
                "role": claims.role.value,
                "allowed_origins": list(claims.allowed_origins),
            },
            201,
        )
