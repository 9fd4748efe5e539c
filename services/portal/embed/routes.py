"""HTTP routes of the embed: the page, its assets, and the exchange of a token for its URL.

- ``GET /embed?frame=<ticket>`` — the single-page UI. ``frame-ancestors`` comes from the
  frame ticket (see :mod:`services.portal.embed.frames`); without a valid one, ``'none'``.
  The page holds no token: it arrives by ``postMessage`` or the URL fragment.
- ``GET /embed/assets/{name}`` — the page's ES modules and CSS (a fixed list, read once).
- ``POST /v1/workspace/embed-url`` (``Bearer <session token>``) — the URL a host page puts
  in its iframe: ``/embed?frame=<ticket for this session's allowed origins>``.

Each route declares its operation next to its handler (``@operation``); ``register`` serves
them and keeps the declarations in the portal's :class:`~signet.api.operations.Api`.
"""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from signet_sdk.ids import now_ms

from services.portal.auth import SESSION_TOKEN, SessionGuard
from services.portal.embed.frames import (
    FrameTicket,
    FrameTickets,
    InvalidTicketError,
    frame_ancestors,
)
from services.portal.embed.models import EmbedPageQuery, EmbedUrl
from services.portal.sessions import SessionClaims, SessionSigner, normalize_origin
from services.portal.views import answer, at
from signet.api.operations import Api, Reply, operation, problem
from signet.security.secrets import MasterKeyRing
from signet.settings import PortalSettings

STATIC_DIR = Path(__file__).with_name("static")
EMBED_PATH = "/embed"
ASSETS_PATH = "/embed/assets"
EMBED_URL_PATH = "/v1/workspace/embed-url"
ORIGINS_PLACEHOLDER = "__SIGNET_FRAME_ORIGINS__"
TAG = "embed"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# What the assets are today (ES modules and a stylesheet); tests/services/portal/embed
# fails when one is served as anything else, so the document keeps saying what is sent.
ASSET_MEDIA_RANGE = "text/*"

# Everything the page may load comes from the portal itself; no inline script or style.
_BASE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'"
)
_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def page_headers(ticket: FrameTicket | None) -> dict[str, str]:
    return {
        **_COMMON_HEADERS,
        "Content-Security-Policy": f"{_BASE_CSP}; frame-ancestors {frame_ancestors(ticket)}",
        # The page is personalised by its ticket: never cache it for another.
        "Cache-Control": "no-store",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }


def asset_files(root: Path = STATIC_DIR) -> dict[str, Path]:
    """Servable assets by URL name (``views/log.js``); nothing outside ``root``, no HTML."""
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in _TYPES
    }


class EmbedRoutes:
    def __init__(
        self,
        *,
        tickets: FrameTickets,
        guard: SessionGuard,
        public_url: str,
        clock: Callable[[], int] = now_ms,
        static_dir: Path = STATIC_DIR,
    ) -> None:
        self._tickets = tickets
        self._guard = guard
        self._embed_url = public_url.rstrip("/") + EMBED_PATH
        self._clock = clock
        self._page = (static_dir / "index.html").read_text(encoding="utf-8")
        self._assets = asset_files(static_dir)

    def register(self, app: web.Application, api: Api) -> None:
        api.route(app, self.page)
        api.route(app, self.asset)
        api.route(app, self.embed_url, serve=self._guard.protect(self.embed_url, write=False))

    def _ticket(self, request: web.Request) -> FrameTicket | None:
        raw = request.query.get("frame")
        if not raw:
            return None
        try:
            return self._tickets.verify(raw, now_ms=self._clock())
        except InvalidTicketError:
            return None  # the page still renders, but only at the top level

    @operation(
        "GET",
        EMBED_PATH,
        summary="The embeddable workspace UI (a single page)",
        description="Never refused for its query: without a valid `frame` ticket the page "
        "still renders, but `frame-ancestors 'none'` keeps it out of any frame.",
        tags=[TAG],
        query=EmbedPageQuery,
        responses={
            200: Reply(
                "the page",
                media_type="text/html",
                headers={
                    "Content-Security-Policy": "`frame-ancestors` names the ticket's origins "
                    "(`'none'` without a valid ticket); scripts and styles from the portal only",
                    "Cache-Control": "no-store (the page is personalised by its ticket)",
                },
            ),
        },
        operation_id="embed_page",
    )
    async def page(self, request: web.Request) -> web.Response:
        ticket = self._ticket(request)
        origins = " ".join(ticket.origins) if ticket else ""
        body = self._page.replace(ORIGINS_PLACEHOLDER, html.escape(origins, quote=True))
        return web.Response(
            text=body, content_type="text/html", charset="utf-8", headers=page_headers(ticket)
        )

    @operation(
        "GET",
        ASSETS_PATH + "/{name:.+}",
        summary="The page's ES modules and stylesheet",
        description="`name` is a path below the assets (`views/deliveries.js`); a fixed list, "
        "read at start. Revalidated on every load (`ETag`, `Last-Modified`).",
        tags=[TAG],
        responses={
            200: Reply(
                "the asset (JavaScript or CSS)",
                media_type=ASSET_MEDIA_RANGE,
                headers={"Cache-Control": "no-cache", "ETag": "for If-None-Match"},
            ),
            206: Reply("a byte range of the asset (`Range`)", media_type=ASSET_MEDIA_RANGE),
            304: Reply("not modified since the copy the client holds"),
            404: problem("no such asset"),
            412: Reply("a precondition (`If-Match`, `If-Unmodified-Since`) failed"),
            416: Reply("a `Range` outside the asset"),
        },
        operation_id="embed_asset",
    )
    async def asset(self, request: web.Request) -> web.StreamResponse:
        path = self._assets.get(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound(text="no such asset")
        content_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        # Revalidated on every load (ETag/Last-Modified make that a 304): a portal upgrade
        # never mixes old and new modules.
        return web.FileResponse(
            path,
            headers={
                **_COMMON_HEADERS,
                "Content-Type": content_type or "application/octet-stream",
                "Cache-Control": "no-cache",
            },
        )

    @operation(
        "POST",
        EMBED_URL_PATH,
        summary="The URL a host page puts in its iframe for this session",
        description="`embed_url` carries a frame ticket (no credential) naming the "
        "session's allowed origins, which the page at that URL sends as "
        "`Content-Security-Policy: frame-ancestors`. The token itself reaches the "
        "frame by postMessage, never in a URL.",
        tags=[TAG],
        security=[SESSION_TOKEN],
        responses={
            201: Reply("the URL, valid until the session expires", EmbedUrl),
            401: problem("missing, forged or expired session token"),
            403: problem("an origin the session does not allow"),
            503: problem("the portal is not caught up yet", **{"Retry-After": "seconds"}),
        },
        operation_id="create_embed_url",
    )
    async def embed_url(self, request: web.Request, claims: SessionClaims) -> web.Response:
        ticket = self._tickets.mint(claims)
        url = EmbedUrl(
            embed_url=f"{self._embed_url}?frame={ticket}",
            frame_ancestors=list(claims.allowed_origins),
            expires_at=at(claims.expires_at),
        )
        return answer(url, 201)


def register(app: web.Application, api: Api, settings: PortalSettings) -> None:
    """Add the embed's routes to the portal, declared in ``api`` (one line in
    ``services/portal/app.py``)."""
    ring = MasterKeyRing.parse(settings.master_keys.get_secret_value())
    session_key = settings.session_key.get_secret_value() if settings.session_key else None
    parts = urlsplit(settings.public_url)
    own_origin = normalize_origin(f"{parts.scheme}://{parts.netloc}")
    EmbedRoutes(
        tickets=FrameTickets.from_keys(session_key, ring),
        guard=SessionGuard(SessionSigner.from_keys(session_key, ring), own_origin),
        public_url=settings.public_url,
    ).register(app, api)
