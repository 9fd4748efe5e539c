"""An example host page for Signet's embed: the settings page of a SaaS ("Acme Orders").

Copy it into your product. What it shows:

1. Your server — never the browser — holds the operator key. For each page view it mints a
   short-lived session for the customer's workspace (``POST /v1/sessions``, allowed origin:
   this page's origin) and exchanges the token for the iframe's URL
   (``POST /v1/workspace/embed-url``), whose frame ticket makes the portal answer with
   ``Content-Security-Policy: frame-ancestors <this origin>``.
2. The browser loads that URL in an iframe and hands the token over by ``postMessage``
   (``static/host.js``); when the embed asks for a fresh token before expiry, the page asks
   this server again.
3. Your product emits events with the workspace's publishable key (the "Place an order"
   button POSTs ``order.completed`` to ingest).

    python examples/embed-host/server.py --operator-key sk_op_… [--port 8090]

Settings come from flags or the environment: ``SIGNET_PORTAL_URL``, ``SIGNET_INGEST_URL``,
``SIGNET_OPERATOR_KEY``, ``SIGNET_WORKSPACE_ID`` + ``SIGNET_PUBLISHABLE_KEY`` (an existing
workspace; otherwise a demo workspace is created at start), ``HOST_STATE_FILE`` /
``--state-file`` (optional: a JSON file, 0600, where the demo workspace's id and publishable
key are kept, so the next start reuses that workspace while the portal still has it instead
of creating another; ``signet up`` points it into ``.signet/``), ``HOST_PORT``,
``HOST_BIND``, ``HOST_ORIGIN`` (the origin browsers see this page at; sessions allow only
it), ``HOST_SESSION_TTL_SECONDS`` (default 900: the embed asks for a new token before then).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import logging
import os
import secrets
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

logger = logging.getLogger("embed-host")

STATIC = Path(__file__).with_name("static")
SESSION_TTL_SECONDS = 15 * 60
ROLES = ("admin", "viewer")
STARTUP_DEADLINE_SECONDS = 90.0
DEMO_WORKSPACE_NAME = "Casterly (example host)"


@dataclass(slots=True, frozen=True)
class HostConfig:
    portal_url: str
    ingest_url: str
    operator_key: str = field(repr=False)
    origin: str  # where browsers load this page; the only origin sessions allow
    bind: str = "127.0.0.1"
    port: int = 8090
    workspace_id: str | None = None
    publishable_key: str | None = field(default=None, repr=False)
    session_ttl_seconds: int = SESSION_TTL_SECONDS
    state_file: Path | None = None  # where the demo workspace is kept across starts


@dataclass(slots=True)
class Workspace:
    id: str
    publishable_key: str | None


def read_kept_workspace(path: Path) -> Workspace | None:
    """The demo workspace a previous start kept in ``path``; None when there is none.

    A damaged file is not fatal: it is logged and a new workspace replaces it.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("ignoring %s: %s", path, exc)
        return None
    workspace_id = data.get("workspace_id") if isinstance(data, dict) else None
    key = data.get("publishable_key") if isinstance(data, dict) else None
    if not isinstance(workspace_id, str) or not isinstance(key, str):
        logger.warning("ignoring %s: no workspace_id and publishable_key in it", path)
        return None
    return Workspace(workspace_id, key)


def keep_workspace(path: Path, workspace: Workspace) -> None:
    """Replace ``path`` with the workspace's id and key, atomically and 0600.

    It holds a publishable key, so never readable by others; and a temporary file renamed
    over it, so a crash leaves the old file or the new one, never half of one.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(
                {"workspace_id": workspace.id, "publishable_key": workspace.publishable_key},
                handle,
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


class SignetClient:
    """The two calls a host's server makes to Signet, plus the demo's own set-up."""

    def __init__(self, config: HostConfig, http: aiohttp.ClientSession) -> None:
        self._config = config
        self._http = http

    async def _post(
        self, url: str, bearer: str, body: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {bearer}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        async with self._http.post(url, json=body, headers=headers) as response:
            answer: dict[str, Any] = await response.json(content_type=None)
            if response.status >= 400:
                raise web.HTTPBadGateway(text=f"Signet answered {response.status}: {answer}")
            return answer

    async def workspace_exists(self, workspace_id: str) -> bool:
        """Whether the portal still has the workspace: 200 yes, 404 no (``signet up --fresh``
        forgot it). Anything else, such as 503 while the portal catches up with its config,
        is no answer yet and raises, so the caller tries again rather than create another."""
        url = f"{self._config.portal_url}/v1/workspaces/{quote(workspace_id, safe='')}"
        headers = {"Authorization": f"Bearer {self._config.operator_key}"}
        async with self._http.get(url, headers=headers) as response:
            if response.status in (200, 404):
                return response.status == 200
            text = await response.text()
            raise web.HTTPBadGateway(text=f"Signet answered {response.status}: {text}")

    async def create_workspace(self, name: str, idempotency_key: str) -> Workspace:
        """Create a workspace; retried with the same ``idempotency_key``, the create happens
        once, even when an earlier try timed out (504) after it was written."""
        created = await self._post(
            f"{self._config.portal_url}/v1/workspaces",
            self._config.operator_key,
            {"name": name, "environment": "development"},
            idempotency_key,
        )
        return Workspace(created["id"], created["publishable_key"])

    async def embed_session(self, workspace_id: str, role: str) -> dict[str, Any]:
        """A session for one customer's workspace, and the iframe URL that goes with it."""
        session = await self._post(
            f"{self._config.portal_url}/v1/sessions",
            self._config.operator_key,
            {
                "workspace_id": workspace_id,
                "role": role,
                "ttl_seconds": self._config.session_ttl_seconds,
                "allowed_origins": [self._config.origin],
            },
        )
        frame = await self._post(
            f"{self._config.portal_url}/v1/workspace/embed-url", session["token"], {}
        )
        return {
            "token": session["token"],
            "expires_at": session["expires_at"],
            "embed_url": frame["embed_url"],
        }

    async def emit_order(self, publishable_key: str) -> dict[str, Any]:
        order_id = f"ord_{secrets.token_hex(4)}"
        return await self._post(
            f"{self._config.ingest_url}/v1/events",
            publishable_key,
            {
                "event": "order.completed",
                "resource": "order",
                "resource_id": order_id,
                "payload": {
                    "order_id": order_id,
                    "customer_id": "cus_lannister",
                    "total_cents": 12900,
                    "currency": "usd",
                    "items": 3,
                },
            },
        )


class HostApp:
    def __init__(self, config: HostConfig) -> None:
        self.config = config
        self.workspace: Workspace | None = None
        if config.workspace_id:
            self.workspace = Workspace(config.workspace_id, config.publishable_key)
        self._http: aiohttp.ClientSession | None = None
        self._page = (STATIC / "index.html").read_text(encoding="utf-8")

    @property
    def signet(self) -> SignetClient:
        if self._http is None:
            raise RuntimeError("the app is not running")
        return SignetClient(self.config, self._http)

    def build(self) -> web.Application:
        app = web.Application()
        app.cleanup_ctx.append(self._lifetime)
        app.router.add_get("/", self.page)
        app.router.add_post("/api/signet-session", self.signet_session)
        app.router.add_post("/api/orders", self.place_order)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_static("/static/", STATIC)
        return app

    async def _lifetime(self, _: web.Application) -> Any:
        async with aiohttp.ClientSession() as http:
            self._http = http
            setup = asyncio.create_task(self._ensure_workspace())
            yield
            setup.cancel()

    async def _ensure_workspace(self) -> None:
        """The demo customer's workspace; waits for the portal while the stack starts."""
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        create_key = f"demo-workspace-{uuid.uuid4()}"  # one create, however many tries
        while self.workspace is None:
            try:
                self.workspace = await self._demo_workspace(create_key)
            except (aiohttp.ClientError, web.HTTPException) as exc:
                if time.monotonic() > deadline:
                    logger.error("could not set up the demo workspace: %s", exc)
                    return
                await asyncio.sleep(1.0)

    async def _demo_workspace(self, create_key: str) -> Workspace:
        """The workspace kept in the state file while the portal still has it, else a new
        one, kept there for the next start: restarts reuse one workspace, not pile up."""
        path = self.config.state_file
        kept = read_kept_workspace(path) if path is not None else None
        if kept is not None:
            if await self.signet.workspace_exists(kept.id):
                logger.info("demo workspace %s reused (kept in %s)", kept.id, path)
                return kept
            logger.info("demo workspace %s is gone from the portal; creating another", kept.id)
        created = await self.signet.create_workspace(DEMO_WORKSPACE_NAME, create_key)
        logger.info("demo workspace %s created", created.id)
        if path is not None:
            try:
                keep_workspace(path, created)
            except OSError as exc:  # the page still works; the next start creates another
                logger.warning("could not keep the demo workspace in %s: %s", path, exc)
        return created

    def _same_origin(self, request: web.Request) -> None:
        # The session endpoint hands out a credential: only this page may call it. A real
        # product also checks its own login here and picks the role from the user's rights.
        if request.headers.get("Origin") != self.config.origin:
            raise web.HTTPForbidden(text="cross-origin request refused")

    def _workspace(self) -> Workspace:
        if self.workspace is None:
            raise web.HTTPServiceUnavailable(text="the demo workspace is not ready yet")
        return self.workspace

    async def readyz(self, _: web.Request) -> web.Response:
        if self.workspace is None:
            raise web.HTTPServiceUnavailable(text="waiting for the portal")
        return web.json_response({"status": "ready", "workspace_id": self.workspace.id})

    async def page(self, request: web.Request) -> web.Response:
        workspace = self._workspace()
        role = request.query.get("role", "admin")
        body = (
            self._page.replace("{{WORKSPACE_ID}}", html.escape(workspace.id))
            .replace("{{ROLE}}", html.escape(role if role in ROLES else "admin"))
            .replace("{{CAN_ORDER}}", "true" if workspace.publishable_key else "false")
        )
        return web.Response(text=body, content_type="text/html")

    async def signet_session(self, request: web.Request) -> web.Response:
        self._same_origin(request)
        body = await request.json() if request.body_exists else {}
        role = body.get("role", "admin") if isinstance(body, dict) else "admin"
        if role not in ROLES:
            raise web.HTTPBadRequest(text="role must be admin or viewer")
        session = await self.signet.embed_session(self._workspace().id, role)
        return web.json_response(session, headers={"Cache-Control": "no-store"})

    async def place_order(self, request: web.Request) -> web.Response:
        self._same_origin(request)
        key = self._workspace().publishable_key
        if key is None:
            raise web.HTTPConflict(text="set SIGNET_PUBLISHABLE_KEY to emit events")
        return web.json_response(await self.signet.emit_order(key), status=201)


def parse_config(argv: Sequence[str], env: dict[str, str]) -> HostConfig:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--portal-url", default=env.get("SIGNET_PORTAL_URL", "http://127.0.0.1:8081")
    )
    parser.add_argument(
        "--ingest-url", default=env.get("SIGNET_INGEST_URL", "http://127.0.0.1:8080")
    )
    parser.add_argument("--operator-key", default=env.get("SIGNET_OPERATOR_KEY"))
    parser.add_argument("--workspace-id", default=env.get("SIGNET_WORKSPACE_ID"))
    parser.add_argument("--bind", default=env.get("HOST_BIND", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("HOST_PORT", "8090")))
    parser.add_argument("--origin", default=env.get("HOST_ORIGIN"))
    parser.add_argument("--state-file", type=Path, default=env.get("HOST_STATE_FILE") or None)
    args = parser.parse_args(argv)
    if not args.operator_key:
        parser.error("the operator key is required (--operator-key or SIGNET_OPERATOR_KEY)")
    return HostConfig(
        portal_url=args.portal_url.rstrip("/"),
        ingest_url=args.ingest_url.rstrip("/"),
        operator_key=args.operator_key,
        origin=(args.origin or f"http://127.0.0.1:{args.port}").rstrip("/"),
        bind=args.bind,
        port=args.port,
        workspace_id=args.workspace_id,
        publishable_key=env.get("SIGNET_PUBLISHABLE_KEY"),
        session_ttl_seconds=int(env.get("HOST_SESSION_TTL_SECONDS", SESSION_TTL_SECONDS)),
        state_file=args.state_file,
    )


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = parse_config(sys.argv[1:] if argv is None else argv, dict(os.environ))
    logger.info("example host page on %s (embedding %s/embed)", config.origin, config.portal_url)
    web.run_app(
        HostApp(config).build(), host=config.bind, port=config.port, print=None, access_log=None
    )


if __name__ == "__main__":
    main()
