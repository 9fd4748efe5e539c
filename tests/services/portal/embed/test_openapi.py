"""The embed's declared operations: every route is declared, the document is valid OpenAPI
3.1 and says what the routes send, and schemathesis finds no 5xx or off-document answer."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from signet_sdk.ids import now_ms

from services.portal.auth import SessionGuard
from services.portal.embed.frames import FrameTickets
from services.portal.embed.models import EmbedUrl
from services.portal.embed.routes import ASSET_MEDIA_RANGE, EmbedRoutes, asset_files
from services.portal.sessions import Role, SessionSigner
from signet.api.operations import Api
from signet.security.secrets import MasterKeyRing, generate_master_key
from signet.web import json_response, problem_middleware

PUBLIC_URL = "https://portal.example.com"
HOST = "https://app.example.com"


@dataclass(slots=True)
class Embed:
    app: web.Application
    api: Api
    token: str


def embed_app(public_url: str = PUBLIC_URL, own_origin: str | None = PUBLIC_URL) -> Embed:
    """The embed's routes on a bare app, as the portal registers them, and a session."""
    ring = MasterKeyRing.parse(generate_master_key())
    signer = SessionSigner.from_keys(None, ring)
    token, _ = signer.mint(
        "ws_1", Role.ADMIN, ttl_seconds=600, allowed_origins=(HOST,), now_ms=now_ms()
    )
    app = web.Application(middlewares=[problem_middleware])
    api = Api("embed", "test")
    EmbedRoutes(
        tickets=FrameTickets.from_keys(None, ring),
        guard=SessionGuard(signer, own_origin),
        public_url=public_url,
    ).register(app, api)
    return Embed(app, api, token)


@pytest.fixture
async def embed() -> AsyncIterator[tuple[Embed, TestClient[web.Request, web.Application]]]:
    made = embed_app()
    async with TestClient(TestServer(made.app)) as client:
        yield made, client


def answer_schema(doc: dict[str, Any], path: str, method: str, status: int) -> OAS31Validator:
    """A validator of one documented JSON answer, its refs resolved in ``doc``."""
    content = doc["paths"][path][method]["responses"][str(status)]["content"]
    schema = content["application/json"]["schema"]
    return OAS31Validator(
        {**schema, "components": doc["components"]}, format_checker=OAS31Validator.FORMAT_CHECKER
    )


def test_every_route_is_declared() -> None:
    made = embed_app()
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in made.app.router.routes()
        if route.resource is not None and route.method != "HEAD"  # implicit with each GET
    }
    doc = made.api.document()
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert served == documented


async def test_the_page_and_its_assets_answer_head_as_before(
    embed: tuple[Embed, TestClient[web.Request, web.Application]],
) -> None:
    _, client = embed
    for path, media_type in (("/embed", "text/html"), ("/embed/assets/app.js", "text/javascript")):
        response = await client.head(path)
        assert (response.status, response.content_type) == (200, media_type), path


def test_the_document_is_valid_and_names_the_page_its_query_and_the_session() -> None:
    doc = embed_app().api.document()
    validate(doc)
    page = doc["paths"]["/embed"]["get"]
    assert set(page["responses"]["200"]["content"]) == {"text/html"}
    assert "Content-Security-Policy" in page["responses"]["200"]["headers"]
    query = {p["name"]: p for p in page["parameters"]}
    assert set(query) == {"frame", "theme", "brand", "font"}
    assert query["theme"]["schema"]["enum"] == ["light", "dark", "auto"]
    assert not any(p["required"] for p in query.values())
    assert page["security"] == []
    minted = doc["paths"]["/v1/workspace/embed-url"]["post"]
    assert minted["security"] == [{"sessionToken": []}]
    assert {"201", "401", "403", "503"} <= set(minted["responses"])
    asset = doc["paths"]["/embed/assets/{name}"]["get"]
    assert set(asset["responses"]["200"]["content"]) == {ASSET_MEDIA_RANGE}
    assert doc["components"]["securitySchemes"]["sessionToken"]["scheme"] == "bearer"


async def test_the_embed_url_answer_is_the_documented_one(
    embed: tuple[Embed, TestClient[web.Request, web.Application]],
) -> None:
    made, client = embed
    response = await client.post(
        "/v1/workspace/embed-url", headers={"Authorization": f"Bearer {made.token}"}
    )
    assert response.status == 201
    body = await response.json()
    assert set(body) == set(EmbedUrl.model_fields)
    doc = made.api.document()
    validator = answer_schema(doc, "/v1/workspace/embed-url", "post", 201)
    validator.validate(body)
    # A changed answer fails it: the schema is closed and names its types.
    assert not validator.is_valid({**body, "token": made.token})
    assert not validator.is_valid({**body, "expires_at": 1_776_450_120_000})


async def test_every_asset_is_served_as_documented(
    embed: tuple[Embed, TestClient[web.Request, web.Application]],
) -> None:
    _, client = embed
    family = ASSET_MEDIA_RANGE.removesuffix("*")
    for name in asset_files():
        response = await client.get(f"/embed/assets/{name}")
        assert response.status == 200, name
        assert response.content_type.startswith(family), (name, response.content_type)


async def test_schemathesis_finds_no_server_error_or_off_document_answer(tmp_path: Path) -> None:
    made = embed_app(public_url="http://127.0.0.1", own_origin=None)

    async def openapi(request: web.Request) -> web.Response:
        served = {**made.api.document(), "servers": [{"url": str(request.url.origin())}]}
        return json_response(served)

    made.app.router.add_get("/openapi.json", openapi)
    executable = shutil.which("st", path=str(Path(sys.executable).parent))
    assert executable is not None, "schemathesis is not installed (the dev extra has it)"
    async with TestServer(made.app, host="127.0.0.1") as server:
        process = await asyncio.create_subprocess_exec(
            executable,
            "run",
            str(server.make_url("/openapi.json")),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--max-examples",
            "30",
            "--seed",
            "5",
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {made.token}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
            cwd=tmp_path,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, out.decode(errors="replace")[-4000:]
