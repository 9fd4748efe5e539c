"""The embed's routes on a bare aiohttp app: headers of the page, its assets, the embed URL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from signet_sdk.ids import now_ms

from services.portal.auth import SessionGuard
from services.portal.embed.frames import FrameTickets
from services.portal.embed.routes import STATIC_DIR, EmbedRoutes, asset_files
from services.portal.sessions import Role, SessionSigner
from signet.api.operations import Api
from signet.security.secrets import MasterKeyRing, generate_master_key

PUBLIC_URL = "https://portal.example.com"
HOST = "https://app.example.com"


class Embed:
    def __init__(self) -> None:
        ring = MasterKeyRing.parse(generate_master_key())
        self.signer = SessionSigner.from_keys(None, ring)
        self.tickets = FrameTickets.from_keys(None, ring)
        self.routes = EmbedRoutes(
            tickets=self.tickets,
            guard=SessionGuard(self.signer, PUBLIC_URL),
            public_url=PUBLIC_URL,
        )

    def token(self, *origins: str, role: Role = Role.ADMIN) -> str:
        token, _ = self.signer.mint(
            "ws_1", role, ttl_seconds=600, allowed_origins=origins, now_ms=now_ms()
        )
        return token


@pytest.fixture
def embed() -> Embed:
    return Embed()


@pytest.fixture
async def client(embed: Embed) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    embed.routes.register(app, Api("embed", "test"))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def frame_ancestors(csp: str) -> str:
    found = re.search(r"frame-ancestors ([^;]+)", csp)
    assert found is not None, csp
    return found.group(1).strip()


async def test_the_page_without_a_ticket_may_not_be_framed(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/embed")
    assert response.status == 200
    assert response.content_type == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert frame_ancestors(csp) == "'none'"
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "X-Frame-Options" not in response.headers  # it would override frame-ancestors
    page = await response.text()
    assert '<meta name="signet-frame-origins" content="">' in page
    # Its icon is inline and allowed by the policy: no request for /favicon.ico (a 404).
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert icon is not None and icon.group(1).startswith("data:image/svg+xml,")
    assert "img-src 'self' data:" in csp


async def test_a_ticket_lets_the_sessions_origins_frame_it(
    client: TestClient[web.Request, web.Application], embed: Embed
) -> None:
    token = embed.token(HOST, "http://127.0.0.1:8090")
    minted = await client.post(
        "/v1/workspace/embed-url", headers={"Authorization": f"Bearer {token}"}
    )
    assert minted.status == 201
    body = await minted.json()
    assert body["embed_url"].startswith(f"{PUBLIC_URL}/embed?frame=fr1.")
    assert body["frame_ancestors"] == [HOST, "http://127.0.0.1:8090"]
    assert token not in body["embed_url"]

    page = await client.get("/embed?" + body["embed_url"].split("?", 1)[1])
    assert frame_ancestors(page.headers["Content-Security-Policy"]) == (
        f"{HOST} http://127.0.0.1:8090"
    )
    html = await page.text()
    assert f'content="{HOST} http://127.0.0.1:8090"' in html


async def test_a_forged_ticket_is_the_same_as_none(
    client: TestClient[web.Request, web.Application], embed: Embed
) -> None:
    ticket = embed.tickets.mint(embed.signer.verify(embed.token(HOST), now_ms=now_ms()))
    forged = ticket[:-4] + ("AAAA" if not ticket.endswith("AAAA") else "BBBB")
    page = await client.get(f"/embed?frame={forged}")
    assert frame_ancestors(page.headers["Content-Security-Policy"]) == "'none'"


async def test_the_embed_url_needs_a_session(
    client: TestClient[web.Request, web.Application],
) -> None:
    for headers in ({}, {"Authorization": "Bearer sess_forged.AAAA"}):
        response = await client.post("/v1/workspace/embed-url", headers=headers)
        assert response.status == 401


async def test_a_viewer_may_get_an_embed_url_too(
    client: TestClient[web.Request, web.Application], embed: Embed
) -> None:
    token = embed.token(HOST, role=Role.VIEWER)
    response = await client.post(
        "/v1/workspace/embed-url", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 201


async def test_assets_are_served_with_their_types_and_revalidated(
    client: TestClient[web.Request, web.Application],
) -> None:
    script = await client.get("/embed/assets/app.js")
    assert script.status == 200
    assert script.content_type == "text/javascript"
    assert script.headers["Cache-Control"] == "no-cache"
    assert "ETag" in script.headers or "Last-Modified" in script.headers
    style = await client.get("/embed/assets/embed.css")
    assert style.content_type == "text/css"
    view = await client.get("/embed/assets/views/deliveries.js")
    assert view.status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/embed/assets/index.html",
        "/embed/assets/../routes.py",
        "/embed/assets/%2e%2e/routes.py",
        "/embed/assets/nope.js",
        "/embed/assets/views/../../frames.py",
    ],
)
async def test_nothing_else_is_served(
    client: TestClient[web.Request, web.Application], path: str
) -> None:
    response = await client.get(path)
    assert response.status == 404


IMPORT = re.compile(r'^import\s+\{([^}]*)\}\s+from\s+"(\.{1,2}/[^"]+)";', re.M)
EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function|const|class|let)\s+(\w+)", re.M)


def test_every_module_import_and_page_reference_is_an_asset() -> None:
    """What the browser would only find out at load time: a missing module or export."""
    assets = asset_files()
    for name, path in assets.items():
        if not name.endswith(".js"):
            continue
        for names, target in IMPORT.findall(path.read_text()):
            resolved = (path.parent / target).resolve().relative_to(STATIC_DIR.resolve())
            assert resolved.as_posix() in assets, f"{name} imports missing {target}"
            exported = set(EXPORT.findall(assets[resolved.as_posix()].read_text()))
            wanted = {n.strip().split(" as ")[0] for n in names.split(",") if n.strip()}
            assert wanted <= exported, f"{name}: {target} lacks {wanted - exported}"
    page = (STATIC_DIR / "index.html").read_text()
    for reference in re.findall(r'(?:src|href)="embed/assets/([^"]+)"', page):
        assert reference in assets
    assert not any(Path(name).suffix == ".html" for name in assets)
