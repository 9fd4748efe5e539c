"""The embed's OpenAPI paths describe its routes, and schemathesis finds no 5xx in them."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from services.portal.auth import SessionGuard
from services.portal.embed.frames import FrameTickets
from services.portal.embed.openapi import embed_paths
from services.portal.embed.routes import EmbedRoutes
from services.portal.openapi_schemas import SCHEMAS
from services.portal.sessions import Role, SessionSigner
from signet.ids import now_ms
from signet.security.secrets import MasterKeyRing, generate_master_key
from signet.web import json_response, problem_middleware


def document(url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "embed", "version": "1"},
        "servers": [{"url": url}],
        "components": {
            "securitySchemes": {"sessionToken": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": embed_paths(),
    }


def test_every_route_is_documented() -> None:
    app = web.Application()
    ring = MasterKeyRing.parse(generate_master_key())
    EmbedRoutes(
        tickets=FrameTickets.from_keys(None, ring),
        guard=SessionGuard(SessionSigner.from_keys(None, ring), "https://portal.example.com"),
        public_url="https://portal.example.com",
    ).register(app)
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(method, path) for path, item in embed_paths().items() for method in item}
    assert served == documented


async def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    ring = MasterKeyRing.parse(generate_master_key())
    signer = SessionSigner.from_keys(None, ring)
    token, _ = signer.mint(
        "ws_1",
        Role.ADMIN,
        ttl_seconds=600,
        allowed_origins=("https://app.example.com",),
        now_ms=now_ms(),
    )
    app = web.Application(middlewares=[problem_middleware])
    server = TestServer(app, host="127.0.0.1")
    EmbedRoutes(
        tickets=FrameTickets.from_keys(None, ring),
        guard=SessionGuard(signer, None),
        public_url="http://127.0.0.1",
    ).register(app)

    async def openapi(request: web.Request) -> web.Response:
        return json_response(document(str(request.url.origin())))

    app.router.add_get("/openapi.json", openapi)
    executable = shutil.which("st", path=str(Path(sys.executable).parent))
    assert executable is not None, "schemathesis is not installed (the dev extra has it)"
    async with server:
        process = await asyncio.create_subprocess_exec(
            executable,
            "run",
            str(server.make_url("/openapi.json")),
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--seed",
            "5",
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {token}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
            cwd=tmp_path,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, out.decode(errors="replace")[-4000:]
