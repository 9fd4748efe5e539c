"""The operator API (``Bearer <SIGNET_OPERATOR_KEY>``): workspaces, publishable keys, sessions.

Used by the SaaS's own backend: it creates a workspace per customer and environment,
issues and revokes the keys its product emits events with, and mints the short-lived
session tokens that let one customer manage one workspace in the embed. Each route
declares its operation next to its handler; the bodies and the query are
``operator_bodies.py``'s models, the answers ``views.py``'s.
"""

from __future__ import annotations

from aiohttp import web
from signet_sdk.contract.fields import FieldError, FieldErrorCode
from signet_sdk.contract.models import given
from signet_sdk.ids import new_id, now_ms

from services.portal import commands
from services.portal.auth import OPERATOR_KEY, OperatorGuard
from services.portal.commands import CommandBus, ConfigReader
from services.portal.idempotency import (
    KEY_REUSED,
    OPERATOR_SCOPE,
    IdempotencyKeyHeader,
    Once,
    Prepared,
)
from services.portal.keys import mint_key
from services.portal.operator_bodies import (
    DEFAULT_SESSION_TTL_SECONDS,
    NewSession,
    NewWorkspace,
    WorkspaceChanges,
    WorkspaceListQuery,
    read_list_query,
)
from services.portal.problems import (
    BODY_ERRORS,
    NO_OPERATOR_KEY,
    NOT_CAUGHT_UP,
    OPERATOR_READ_ERRORS,
    WRITE_ERRORS,
    conflict,
)
from services.portal.sessions import SessionSigner
from services.portal.views import (
    PublishableKeyCreated,
    Session,
    Workspace,
    WorkspaceCreated,
    WorkspacePage,
    answer,
    at,
    created_workspace_view,
    key_view,
    workspace_view,
)
from signet.api.operations import Api, Reply, operation, problem
from signet.api.reading import parse_model, read_model
from signet.records.model import Environment, WorkspaceConfig
from signet.web import Problem, not_found, read_bytes

MAX_BODY_BYTES = 64 * 1024
TAG = "operator"
WORKSPACES = "/v1/workspaces"
WORKSPACE = WORKSPACES + "/{workspace_id}"
KEYS = WORKSPACE + "/publishable-keys"
SESSIONS = "/v1/sessions"


class OperatorApi:
    def __init__(
        self,
        *,
        view: ConfigReader,
        bus: CommandBus,
        once: Once,
        signer: SessionSigner,
        guard: OperatorGuard,
        public_url: str,
        max_session_ttl_seconds: int,
        max_active_keys: int,
    ) -> None:
        self._view = view
        self._bus = bus
        self._once = once
        self._signer = signer
        self._guard = guard
        self._embed_url = public_url.rstrip("/") + "/embed"
        self._max_ttl = max_session_ttl_seconds
        self._max_active_keys = max_active_keys

    def register(self, app: web.Application, api: Api) -> None:
        for handler in (
            self.create_workspace,
            self.list_workspaces,
            self.get_workspace,
            self.update_workspace,
            self.add_key,
            self.revoke_key,
            self.create_session,
        ):
            api.route(app, handler, serve=self._guard.protect(handler))

    def _workspace(self, workspace_id: str) -> WorkspaceConfig:
        config = self._view.workspace(workspace_id)
        if config is None:
            raise not_found(f"no workspace {workspace_id}")
        return config

    # -- workspaces ------------------------------------------------------------------------

    @operation(
        "POST",
        WORKSPACES,
        summary="Create a workspace with its first publishable key",
        body=NewWorkspace,
        headers=IdempotencyKeyHeader,
        responses={
            201: Reply(
                "created", WorkspaceCreated, headers={"Location": "the workspace's own URL"}
            ),
            **WRITE_ERRORS,
            **BODY_ERRORS,
            **KEY_REUSED,
        },
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def create_workspace(self, request: web.Request) -> web.Response:
        raw = await read_bytes(request, MAX_BODY_BYTES)
        body = parse_model(NewWorkspace, raw)

        def prepare() -> Prepared:
            created = now_ms()
            key = mint_key(body.environment, created)
            command = commands.create_workspace(
                new_id("ws", now_ms=created), body.name, body.environment, key.record
            )
            return Prepared(command, revealed=key.plain)

        done = await self._once.submit(request, OPERATOR_SCOPE, raw, prepare)
        workspace_id = done.prepared.command.workspace_id
        # The plain key exists only in this answer (and, sealed, for a replay of it); the
        # config keeps its hash.
        return answer(
            created_workspace_view(done.config, done.prepared.revealed or ""),
            201,
            {"Location": f"{WORKSPACES}/{workspace_id}", **done.headers},
        )

    @operation(
        "GET",
        WORKSPACES,
        summary="List workspaces, oldest first",
        query=WorkspaceListQuery,
        responses={
            200: Reply("a page", WorkspacePage),
            400: problem("bad query parameter"),
            **OPERATOR_READ_ERRORS,
        },
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def list_workspaces(self, request: web.Request) -> web.Response:
        query = read_list_query(request.query)
        # Ids are time-ordered, so id order is creation order and a stable cursor.
        ordered = sorted(self._view.workspaces(), key=lambda c: c.workspace_id)
        if query.starting_after is not None:
            ordered = [c for c in ordered if c.workspace_id > query.starting_after]
        page = ordered[: query.limit]
        return answer(
            WorkspacePage(
                data=[workspace_view(c) for c in page], has_more=len(ordered) > query.limit
            )
        )

    @operation(
        "GET",
        WORKSPACE,
        summary="One workspace",
        responses={
            200: Reply("the workspace", Workspace),
            404: problem("no such workspace"),
            **OPERATOR_READ_ERRORS,
        },
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def get_workspace(self, request: web.Request) -> web.Response:
        return answer(workspace_view(self._workspace(request.match_info["workspace_id"])))

    @operation(
        "PATCH",
        WORKSPACE,
        summary="Change a workspace's settings (its delivery log's retention)",
        body=WorkspaceChanges,
        responses={
            200: Reply("the workspace as changed", Workspace),
            404: problem("no such workspace"),
            **WRITE_ERRORS,
            **BODY_ERRORS,
        },
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def update_workspace(self, request: web.Request) -> web.Response:
        config = self._workspace(request.match_info["workspace_id"])
        changes = await read_model(request, WorkspaceChanges, MAX_BODY_BYTES)
        wanted = changes.log_retention_days
        if given(changes, "log_retention_days") and wanted != config.log_retention_days:
            config = await self._bus.submit(commands.set_log_retention(config.workspace_id, wanted))
        return answer(workspace_view(config))

    # -- publishable keys ------------------------------------------------------------------

    @operation(
        "POST",
        KEYS,
        summary="Issue another publishable key (shown once)",
        responses={
            201: Reply("issued", PublishableKeyCreated, headers={"Location": "the key's URL"}),
            404: problem("no such workspace"),
            409: problem("too many active keys"),
            **WRITE_ERRORS,
            **KEY_REUSED,
        },
        headers=IdempotencyKeyHeader,
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def add_key(self, request: web.Request) -> web.Response:
        config = self._workspace(request.match_info["workspace_id"])

        def prepare() -> Prepared:
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
            command = commands.add_publishable_key(config.workspace_id, key.record)
            return Prepared(command, revealed=key.plain)

        done = await self._once.submit(request, OPERATOR_SCOPE, b"", prepare)
        record = done.prepared.publishable_key
        location = f"{WORKSPACES}/{config.workspace_id}/publishable-keys/{record.id}"
        created = PublishableKeyCreated.model_validate(
            {**key_view(record).model_dump(), "publishable_key": done.prepared.revealed}
        )
        return answer(created, 201, {"Location": location, **done.headers})

    @operation(
        "DELETE",
        KEYS + "/{key_id}",
        summary="Revoke a publishable key (idempotent)",
        responses={204: Reply("done"), 404: problem("no such key"), **WRITE_ERRORS},
        security=[OPERATOR_KEY],
        tags=[TAG],
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

    @operation(
        "POST",
        SESSIONS,
        summary="Mint a short-lived embed session for one workspace",
        body=NewSession,
        responses={
            201: Reply("minted", Session),
            400: problem("invalid body"),
            401: NO_OPERATOR_KEY,
            404: problem("no such workspace"),
            503: NOT_CAUGHT_UP,
            **BODY_ERRORS,
        },
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def create_session(self, request: web.Request) -> web.Response:
        body = await read_model(request, NewSession, MAX_BODY_BYTES)
        if self._view.workspace(body.workspace_id) is None:
            raise Problem(
                404,
                "Not found",
                f"no workspace {body.workspace_id}",
                kind="not-found",
                errors=[
                    FieldError(
                        "workspace_id", FieldErrorCode.INVALID, "no such workspace"
                    ).as_dict()
                ],
            )
        # Longer than the cap is not an error: the token is capped, and expires_at says so.
        ttl = min(body.ttl_seconds or DEFAULT_SESSION_TTL_SECONDS, self._max_ttl)
        token, claims = self._signer.mint(
            body.workspace_id,
            body.role,
            ttl_seconds=ttl,
            allowed_origins=tuple(dict.fromkeys(body.allowed_origins or ())),
            now_ms=now_ms(),
        )
        return answer(
            Session(
                token=token,
                expires_at=at(claims.expires_at),
                embed_url=self._embed_url,
                session_id=claims.session_id,
                workspace_id=claims.workspace_id,
                role=claims.role,
                allowed_origins=list(claims.allowed_origins),
            ),
            201,
        )
